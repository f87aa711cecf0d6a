"""Fixtures of the sandbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from awork_async.sandbox import Sandbox


@pytest.fixture
async def http(sb: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session authorised for the test's sandbox ``sb``."""
    async with aiohttp.ClientSession(headers=sb.auth_headers) as session:
        yield session
