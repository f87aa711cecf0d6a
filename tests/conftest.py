"""Shared fixtures: a client wired for unit tests (no real waits, no rate limiting)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import _aioresponses_compat
import pytest
from _helpers import BASE, TOKEN, FakeSleep, quiet_client
from aioresponses import aioresponses
from hypothesis import settings

from awork_async import AworkClient

_aioresponses_compat.install()

# Hypothesis: no example database anywhere (a failure found once must not be replayed forever from
# a `.hypothesis/` folder, and CI and fresh clones start from nothing); print_blob tells how to
# replay a failure instead. CI (`CI` set, as `.ci/run` does) also drops the per-example deadline,
# which a loaded machine trips without any fault in the code. Loaded here, before any test module
# builds its own `settings(...)` on top of the profile. HYPOTHESIS_PROFILE picks one explicitly.
settings.register_profile("dev", database=None, print_blob=True)
settings.register_profile("ci", database=None, print_blob=True, deadline=None)
_in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci else "dev"))


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
