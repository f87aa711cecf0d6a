"""Fixtures every area uses: the mocked client (`mocked_client` on `mocked`), the in-process
sandbox `sb` (the package's `awork_sandbox`) and its write `clock`; Hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import _aioresponses_compat
import pytest
from _helpers import BASE, TOKEN, FakeSleep, SandboxClock, quiet_client
from aioresponses import aioresponses
from hypothesis import settings

from awork_async import AworkClient
from awork_async.sandbox import Sandbox

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
async def mocked_client(fake_sleep: FakeSleep) -> AsyncIterator[AworkClient]:
    async with quiet_client(TOKEN, BASE, fake_sleep) as awork:
        yield awork


@pytest.fixture
def sb(awork_sandbox: Sandbox) -> Sandbox:
    """The test's in-process sandbox: the package's own ``awork_sandbox`` fixture, configured
    per module or test with ``pytest.mark.awork_sandbox(entries=..., seed=..., ...)``."""
    return awork_sandbox


@pytest.fixture
def clock() -> SandboxClock:
    """The clock a test's sandbox stamps writes with (``SandboxConfig(now=clock)``; the test
    moves it)."""
    return SandboxClock()
