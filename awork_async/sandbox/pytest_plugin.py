"""pytest plugin (entry point ``pytest11``): fixtures that start an awork sandbox server.

Importing this module is cheap: aiohttp and the sandbox load only when a fixture is used.
The async fixtures are declared with ``pytest_asyncio.fixture``, so they work in
pytest-asyncio's default *strict* mode (mark the tests ``@pytest.mark.asyncio``) as well as in
``asyncio_mode = "auto"``.

- ``awork_sandbox``: a started :class:`~awork_async.sandbox.Sandbox` with small data.
  Customise it per test with ``@pytest.mark.awork_sandbox(entries=50, seed=3, ...)`` (any
  :class:`~awork_async.sandbox.SandboxConfig` field), or override the
  ``awork_sandbox_config`` fixture.
- ``awork_sandbox_factory``: ``await factory(**config_fields)`` starts more sandboxes; all
  are closed after the test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from awork_async.sandbox import Sandbox, SandboxConfig

try:  # pytest-asyncio in strict mode only runs async fixtures declared through it
    import pytest_asyncio

    _async_fixture: Callable[..., Any] = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - without pytest-asyncio async fixtures cannot run
    _async_fixture = pytest.fixture

__all__ = ["awork_sandbox", "awork_sandbox_config", "awork_sandbox_factory"]

#: Entries generated for the fixture (kept small so each test starts fast).
FIXTURE_ENTRIES = 200


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``awork_sandbox`` marker."""
    config.addinivalue_line(
        "markers", "awork_sandbox(**fields): SandboxConfig fields for the awork_sandbox fixture"
    )


@pytest.fixture
def awork_sandbox_config(request: pytest.FixtureRequest) -> SandboxConfig:
    """The configuration of ``awork_sandbox`` (override this fixture, or use the marker)."""
    from awork_async.sandbox import SandboxConfig

    fields: dict[str, Any] = {"entries": FIXTURE_ENTRIES, "seed": 1}
    marker = request.node.get_closest_marker("awork_sandbox")
    if marker is not None:
        fields.update(marker.kwargs)
    return SandboxConfig(**_own_copies(fields))


def _own_copies(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with a copy of each knob object (``faults=FaultConfig(...)``, ...): a module's
    marker is one object for all its tests, and a sandbox changes its knobs (``sb.faults``:
    queued faults, random draws, ``slow_delay``), which must not leak into the next test."""
    import attrs

    from awork_async.sandbox import FaultConfig

    copied = dict(fields)
    for name, value in fields.items():
        if isinstance(value, FaultConfig):  # a new queue (with the marker's), a new rng
            copied[name] = attrs.evolve(value, queue=deque(value.queue))
        elif attrs.has(type(value)):
            copied[name] = attrs.evolve(value)
    return copied


@_async_fixture
async def awork_sandbox(awork_sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    """A running sandbox; ``.base_url`` and ``.token`` configure a client."""
    from awork_async.sandbox import Sandbox

    async with Sandbox(awork_sandbox_config) as sandbox:
        yield sandbox


@_async_fixture
async def awork_sandbox_factory() -> AsyncIterator[Callable[..., Awaitable[Sandbox]]]:
    """Start sandboxes on demand: ``sb = await awork_sandbox_factory(entries=10, seed=2)``."""
    from awork_async.sandbox import Sandbox, SandboxConfig

    started: list[Sandbox] = []

    async def make(**fields: Any) -> Sandbox:
        fields.setdefault("entries", FIXTURE_ENTRIES)
        sandbox = Sandbox(SandboxConfig(**fields))
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in reversed(started):
        await sandbox.close()
