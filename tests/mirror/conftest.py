"""Fixtures of the mirror tests. The sandbox ``sb``, its ``clock``, ``sandbox_client`` and
``redis_url`` are the root conftest's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite mirror database."""
    return f"sqlite:///{tmp_path / 'awork.db'}"
