"""Fixtures of the client tests (the mocked client and ``sb`` are in the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _helpers import quiet_client

from awork_async import AworkClient
from awork_async.sandbox import Sandbox


@pytest.fixture
async def sandbox_client(sb: Sandbox) -> AsyncIterator[AworkClient]:
    """A client on the test's in-process sandbox ``sb`` (no rate limiting, no real waits)."""
    async with quiet_client(sb.token, sb.base_url) as awork:
        yield awork
