"""Fixtures of the mirror tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _helpers import quiet_client

from awork_async import AworkClient
from awork_async.sandbox import Sandbox


@pytest.fixture
async def awork(sandbox: Sandbox) -> AsyncIterator[AworkClient]:
    """A client on the test's sandbox (no real waits, no rate limiting)."""
    async with quiet_client(sandbox.token, sandbox.base_url) as client:
        yield client


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite mirror database."""
    return f"sqlite:///{tmp_path / 'awork.db'}"
