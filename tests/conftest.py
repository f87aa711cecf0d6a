"""Shared fixtures: a client wired for unit tests (no real waits, no rate limiting)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import _aioresponses_compat
import pytest
from _helpers import BASE, TOKEN, FakeSleep, quiet_client
from aioresponses import aioresponses

from awork_async import AworkClient

_aioresponses_compat.install()


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client(fake_sleep: FakeSleep) -> AsyncIterator[AworkClient]:
    async with quiet_client(TOKEN, BASE, fake_sleep) as awork:
        yield awork
