"""Fixtures of the export, sync, partition and sweep tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _helpers import quiet_client

from awork_async import AworkClient
from awork_async.sandbox import Sandbox


@pytest.fixture
async def awork(sandbox: Sandbox) -> AsyncIterator[AworkClient]:
    """A client on the test's sandbox (no real waits, no rate limiting)."""
    async with quiet_client(sandbox.token, sandbox.base_url) as client:
        yield client
