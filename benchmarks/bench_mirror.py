"""``awork-async mirror``: first load into SQLite and PostgreSQL against the rate ceiling; memory.

Run: ``python benchmarks/bench_mirror.py`` (both parts), or ``--throughput`` / ``--memory``;
``--entries`` sets the size of the first load (default 200,000). PostgreSQL runs on a throw-away
cluster (``tests/postgres_server.py``; skipped with the reason when PostgreSQL is not installed).

The sandbox runs in its own process (spawned, as in ``bench_export.py``) and enforces awork's
limits scaled 3x in time (17 requests per 1/3 s, 333 per 20 s; the client's limiter runs on the
same scaled clock). The ceiling is what those limits allow with 1000-entry pages: 333 x 1000
entries per 20 s, **16,650 entries/s** (awork's 1000 requests/min). Measured: a fresh database,
``mirror(client, url, once=True)`` (the concurrent ``changes_since`` walk, batches of 2000 upserts
with their checkpoint per transaction), from a window edge until the pass has committed; the
fraction is entries/s over that ceiling (target >= 0.8), with the 429s and requests counted.

* memory: peak RSS (``ru_maxrss``) of a fresh process mirroring ``N`` entries into SQLite, for
  ``N / 10`` against ``N`` (target: flat, <= 1.5x).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine_info, print_table
from bench_export import (
    PAGE,
    PER_MINUTE,
    PER_SECOND,
    SCALE,
    SandboxProcess,
    ScaledClock,
    ServerOptions,
)

from awork_async import AworkClient, Hooks, LocalRateLimiter
from awork_async.mirror import mirror

#: The sustained ceiling in entries/s (333 requests of 1000 entries per 20 s).
CEILING = PER_MINUTE * PAGE / (60 / SCALE)


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    """A fresh database URL of ``kind`` (None when it cannot be provided here)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import pytest
    from postgres_server import running_postgres_server

    try:
        with running_postgres_server() as server:
            yield server.url()
    except pytest.skip.Exception as exc:
        print(f"postgresql: skipped ({exc})")
        yield None


async def _load(
    url: str, token: str, db: str, clock: ScaledClock | None, origin: float
) -> tuple[int, float, Counter[int]]:
    statuses: Counter[int] = Counter()
    hooks = Hooks(on_response=[lambda event: statuses.update([event.status])])
    limiter = None
    if clock is not None:
        limiter = LocalRateLimiter(
            PER_SECOND, PER_MINUTE, clock=clock, sleep=lambda s: asyncio.sleep(s / SCALE)
        )
    async with AworkClient(token, base_url=url, rate_limiter=limiter, hooks=hooks) as client:
        await asyncio.sleep(max(0.0, origin - time.monotonic()))  # start on a window edge
        start = time.monotonic()
        report = await mirror(client, db, once=True, sweep_every=None)
        return report.read, time.monotonic() - start, statuses


def throughput(entries: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for kind in ("sqlite", "postgresql"):
        with database(kind) as db:
            if db is None:
                continue
            origin = time.monotonic() + 15.0 + entries / 20_000  # after the sandbox has started
            clock = ScaledClock(origin=origin, scale=SCALE)
            with SandboxProcess(ServerOptions(entries=entries, clock=clock)) as (url, token):
                count, elapsed, statuses = asyncio.run(_load(url, token, db, clock, origin))
            rate = count / elapsed
            rows.append(
                [
                    kind,
                    f"{count:,}",
                    f"{elapsed:.1f}",
                    f"{rate:,.0f}",
                    f"{CEILING:,.0f}",
                    f"{rate / CEILING:.2f}",
                    statuses.get(429, 0),
                    sum(statuses.values()),
                ]
            )
    return rows


def _memory_child(url: str, token: str, db: str) -> None:
    count, _elapsed, _statuses = asyncio.run(_load(url, token, db, None, 0.0))
    print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def memory(entries: int) -> list[list[object]]:
    rows: list[list[object]] = []
    peaks: list[int] = []
    for size in (entries // 10, entries):
        with SandboxProcess(ServerOptions(entries=size)) as (url, token), database("sqlite") as db:
            assert db is not None
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", url, token, db],
                capture_output=True,
                text=True,
                check=True,
            )
        count, peak = (int(x) for x in out.stdout.split())
        peaks.append(peak)
        rows.append([f"{size:,}", f"{count:,}", f"{peak / 1024:.0f}"])
    rows.append(["ratio", "", f"{peaks[1] / peaks[0]:.2f}"])
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--memory-child"]:
        _memory_child(argv[1], argv[2], argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args(argv)
    chosen = [p for p in ("throughput", "memory") if getattr(args, p)] or ["throughput", "memory"]
    print(machine_info())
    if "throughput" in chosen:
        print(f"\nfirst load of {args.entries:,} entries (ceiling {CEILING:,.0f} entries/s)")
        print_table(
            ["database", "entries", "s", "entries/s", "ceiling", "fraction", "429s", "requests"],
            throughput(args.entries),
        )
    if "memory" in chosen:
        print("\npeak RSS of a first load into SQLite")
        print_table(["entries", "loaded", "peak MiB"], memory(args.entries))


if __name__ == "__main__":
    main()
