"""Fixtures every area uses: the mocked client (`mocked_client` on `mocked`), the in-process
sandbox `sb` (the package's `awork_sandbox`), its write `clock` and a client on it
(`sandbox_client`), a module's threaded sandbox for code with its own event loop
(`cli_sandbox`), a throw-away Redis server (`redis_url`, `redis_client`); Hypothesis profiles;
an in-process `os.fsync` that checks its descriptor but does not wait for the disk.

Each fixture name has one meaning in the whole suite; a folder's conftest adds only what that
folder alone uses."""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import _aioresponses_compat
import attrs
import pytest
from _helpers import BASE, TOKEN, FakeSleep, SandboxClock, quiet_client, threaded_sandbox
from aioresponses import aioresponses
from hypothesis import settings
from redis_server import running_redis_server

from awork_async import AworkClient
from awork_async.sandbox import Sandbox, SandboxConfig

if TYPE_CHECKING:
    import redis.asyncio as redis_asyncio

_aioresponses_compat.install()

# A shell starts a background job (`bash .ci/run &`, nohup) with SIGINT ignored, and an ignored
# signal stays ignored in every process it starts: the command-line tests' Ctrl+C (SIGINT) would
# never reach the programs they start. Handled here, it is reset to the default in each of them.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis: no example database anywhere (a failure found once must not be replayed forever from
# a `.hypothesis/` folder, and CI and fresh clones start from nothing); print_blob tells how to
# replay a failure instead. CI (`CI` set, as `.ci/run` does) also drops the per-example deadline,
# which a loaded machine trips without any fault in the code. Loaded here, before any test module
# builds its own `settings(...)` on top of the profile. HYPOTHESIS_PROFILE picks one explicitly.
settings.register_profile("dev", database=None, print_blob=True)
settings.register_profile("ci", database=None, print_blob=True, deadline=None)
_in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci else "dev"))


def _page_cache_fsync(fd: int) -> None:
    """``os.fsync`` without the wait for the disk: what the real one refuses, it refuses too (a
    bad or closed descriptor: EBADF; a pipe, socket or terminal: EINVAL)."""
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


@pytest.fixture(autouse=True)
def _fsync_without_disk_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's ``os.fsync`` (in this process) returns without waiting for the disk.

    A crash in these tests is an exception or a killed task, never a power cut: what is in the
    page cache survives it, so what fsync adds cannot be observed, but its wait is most of the
    time of the crash-and-resume tests (an export's checkpoint fsyncs the output, the spool, the
    temporary checkpoint and its folder: 2-4 ms each on a shared disk). The calls, their order
    and their errors are unchanged. ``AWORK_TEST_REAL_FSYNC=1`` keeps the real one."""
    if os.environ.get("AWORK_TEST_REAL_FSYNC", "") not in ("", "0"):
        return
    monkeypatch.setattr(os, "fsync", _page_cache_fsync)


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_clock: the test's sandbox `sb` runs on the test's `clock` fixture"
    )
    config.addinivalue_line(
        "markers", "cli_sandbox(**fields): Sandbox arguments of the module's `cli_sandbox`"
    )


@pytest.fixture
def awork_sandbox_config(
    awork_sandbox_config: SandboxConfig, request: pytest.FixtureRequest
) -> SandboxConfig:
    """The package's configuration (the ``awork_sandbox`` marker's fields), on the test's
    ``clock`` when the test or its module is marked ``sandbox_clock``."""
    if request.node.get_closest_marker("sandbox_clock") is None:
        return awork_sandbox_config
    clock: SandboxClock = request.getfixturevalue("clock")
    return attrs.evolve(awork_sandbox_config, now=clock)


@pytest.fixture
def sb(awork_sandbox: Sandbox) -> Sandbox:
    """The test's in-process sandbox: the package's own ``awork_sandbox`` fixture, configured
    per module or test with ``pytest.mark.awork_sandbox(entries=..., seed=..., ...)`` (and
    ``pytest.mark.sandbox_clock`` to stamp its writes with ``clock``)."""
    return awork_sandbox


@pytest.fixture
def clock() -> SandboxClock:
    """The clock a test's sandbox stamps writes with (``SandboxConfig(now=clock)``, or the
    ``sandbox_clock`` marker for ``sb``; the test moves it)."""
    return SandboxClock()


@pytest.fixture
async def sandbox_client(sb: Sandbox) -> AsyncIterator[AworkClient]:
    """A client on the test's in-process sandbox ``sb`` (no rate limiting, no real waits)."""
    async with quiet_client(sb.token, sb.base_url) as awork:
        yield awork


@pytest.fixture(scope="module")
def cli_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox served from its own thread and event loop, shared by the test module: for code
    that runs its own loop (the command line, ``asyncio.run`` examples). Configured by the
    module's ``pytest.mark.cli_sandbox(entries=..., seed=..., token=..., ...)`` (the
    :class:`~awork_async.sandbox.Sandbox` arguments)."""
    marker = request.node.get_closest_marker("cli_sandbox")
    with threaded_sandbox(**(marker.kwargs if marker is not None else {})) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a throw-away ``redis-server`` on 127.0.0.1, one per test module (the test
    is skipped without the binary)."""
    with running_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    """An asyncio Redis client on ``redis_url``."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(redis_url)
    yield client
    await client.aclose()
