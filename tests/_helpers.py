"""Constants and fakes shared by the unit tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO

from awork_async import AworkClient, NoRateLimiter, RetryPolicy
from awork_async.sandbox import Sandbox

BASE = "https://api.awork.test/api/v1"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"


class FakeClock:
    """A monotonic clock that moves only when a test sets ``now`` or awaits :meth:`sleep`.

    Pass the instance as ``clock`` and its :meth:`sleep` as ``sleep``: every wait is recorded in
    ``waits`` and advances the clock by that much, so waiting loops terminate without sleeping.
    """

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(seconds, 0.0)


async def no_sleep(_seconds: float) -> None:
    """A ``sleep`` that returns at once (backoff waits skipped, not recorded)."""


class SandboxClock:
    """The sandbox's clock for writes (``SandboxConfig(now=clock)``): every write is stamped
    with ``now``, which only the test moves."""

    def __init__(self, now: datetime = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


class FakeSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def quiet_client(token: str, base_url: str, sleep: FakeSleep | None = None) -> AworkClient:
    """A client for tests: no rate limiting, no jitter, backoff waits recorded, not slept."""
    return AworkClient(
        token=token,
        base_url=base_url,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(random=lambda: 0.0),
        sleep=sleep if sleep is not None else FakeSleep(),
    )


@contextmanager
def threaded_sandbox(**config: Any) -> Iterator[Sandbox]:
    """A started :class:`Sandbox` on 127.0.0.1 (random port), served by a background thread.

    For code that runs its own event loop (the CLI's ``asyncio.run``, the README's examples):
    the sandbox lives on another loop, in a daemon thread. Readiness is signalled with a
    ``threading.Event``; nothing sleeps. A sandbox that fails to start raises here.
    """
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            sandbox = Sandbox(port=0, **config)
            loop.run_until_complete(sandbox.start())
            box["sandbox"] = sandbox
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(sandbox.close())
            loop.close()

    thread = threading.Thread(target=serve, name="cli-test-sandbox", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    try:
        yield box["sandbox"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


class CrashingWriter:
    """A file wrapper whose write number ``crash_at`` writes half its data, then fails (a crash
    mid-line); every other attribute is the wrapped file's."""

    def __init__(self, inner: BinaryIO, crash_at: int, message: str = "disk on fire") -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.message = message
        self.calls = 0

    def write(self, data: bytes) -> int:
        self.calls += 1
        if self.calls == self.crash_at:
            self.inner.write(data[: len(data) // 2])
            raise OSError(self.message)
        return self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LineTearingWriter:
    """A file wrapper that fails in the middle of line number ``line`` (1-based), writing the
    first half of it (a crash mid-line), however the writer groups its lines into writes (a
    consistent export writes a page at a time); every other attribute is the wrapped file's."""

    def __init__(self, inner: BinaryIO, line: int, message: str = "disk on fire") -> None:
        self.inner = inner
        self.line = line
        self.message = message
        self.lines = 0  # complete lines written

    def write(self, data: bytes) -> int:
        needed = self.line - self.lines  # line ends up to and including the torn line's
        if data.count(b"\n") < needed:
            self.lines += data.count(b"\n")
            return self.inner.write(data)
        start, end = 0, -1
        for _ in range(needed):
            start, end = end + 1, data.index(b"\n", end + 1)
        self.inner.write(data[: start + (end + 1 - start) // 2])
        raise OSError(self.message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


#: One valid time entry as awork sends it (the fields ``TimeEntry`` requires, and a span).
ENTRY_ID = "2b0b2ef6-0c9b-4c8e-9d43-2f8a0d9b4c11"
ENTRY: dict[str, Any] = {
    "id": ENTRY_ID,
    "timezone": "Europe/Berlin",
    "typeOfWorkId": "8d9c0a40-51a4-4d3c-9e53-2c3c4e2c1c11",
    "startDateUtc": "2024-05-14T00:00:00Z",
    "startTimeUtc": "10:00:00",
    "endDateUtc": "2024-05-14T00:00:00Z",
    "endTimeUtc": "11:00:00",
    "duration": 3600,
}
