"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Environment variables the command line reads: none leaks in from the machine running the tests.
CLI_ENVIRONMENT = (
    "AWORK_TOKEN",
    "AWORK_BASE_URL",
    "AWORK_ASYNC_CONFIG",
    "AWORK_ASYNC_CRASH_AFTER",
    "AWORK_WEBHOOK_AUTH_HEADER",
    "AWORK_WEBHOOK_AUTH_VALUE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token, base URL or config file leaks in from the machine running the tests."""
    for name in CLI_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
