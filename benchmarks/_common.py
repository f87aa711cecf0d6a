"""Helpers shared by the benchmarks: the machine, a sandbox in a thread, window budgets, tables."""

from __future__ import annotations

import asyncio
import math
import os
import platform
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from awork_async.sandbox import Sandbox, SandboxConfig

__all__ = ["ThreadedSandbox", "allowed_requests", "machine_info", "print_table"]


def machine_info() -> str:
    """``"2 CPUs (Intel(R) Xeon(R) ...), Linux 6.1, Python 3.11.7"``."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def allowed_requests(duration: float, per_second: int, per_minute: int) -> int:
    """Requests fixed windows allow in a run of ``duration`` seconds that starts on a window edge.

    Each minute window allows ``per_minute``, but no more than ``per_second`` for each of its
    seconds the run overlaps (a partly overlapped second counts whole).
    """
    total = 0
    start = 0.0
    while start < duration:
        seconds = math.ceil(min(60.0, duration - start) - 1e-9)
        total += min(per_minute, per_second * seconds)
        start += 60.0
    return total


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain, aligned text table."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


class ThreadedSandbox:
    """A :class:`Sandbox` served from its own event loop in a daemon thread.

    The clients under test then never share a loop (or its CPU time slices) with the server.
    Read ``stats`` and ``store`` only after the load has stopped.
    """

    def __init__(self, config: SandboxConfig, *, start_timeout: float = 30.0) -> None:
        self.sandbox = Sandbox(config)
        self._start_timeout = start_timeout
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with self.sandbox:
                self._ready.set()
                await self._stop.wait()

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by __enter__ or __exit__
            self._error = exc
            self._ready.set()

    def __enter__(self) -> Sandbox:
        self._thread.start()
        if not self._ready.wait(self._start_timeout) or self._error is not None:
            raise RuntimeError(f"the sandbox did not start: {self._error!r}")
        return self.sandbox

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=30)
