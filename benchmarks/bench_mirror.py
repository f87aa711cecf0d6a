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
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine_info, print_table
from bench_export import (
    PAGE,
    PER_MINUTE,
    SCALE,
    SandboxProcess,
    ScaledClock,
    ServerOptions,
    scaled_limiter,
)

from awork_async import AworkClient, Hooks
from awork_async.mirror import mirror
from awork_async.sync import changes_since

#: The sustained ceiling in entries/s (333 requests of 1000 entries per 20 s).
CEILING = PER_MINUTE * PAGE / (60 / SCALE)


@contextlib.contextmanager
def database(kind: str) -> Iterator[tuple[str, int | None] | None]:
    """A fresh database URL of ``kind`` and its server's process id (None when it cannot be
    provided here)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db", None
        return
    import pytest
    from postgres_server import running_postgres_server

    try:
        with running_postgres_server() as server:
            yield server.url(), _postmaster(server.port)
    except pytest.skip.Exception as exc:
        print(f"postgresql: skipped ({exc})")
        yield None


def _postmaster(port: int) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = stat.read_bytes().split(b"\0")
            if args[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(args):
                return int(stat.parent.name)
    return None


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU seconds of process ``pid`` (with ``children``: plus its reaped children's and its
    live children's, e.g. a PostgreSQL server's backends)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def fields(stat: Path) -> list[str]:
        return stat.read_text().rsplit(")", 1)[1].split()

    own = fields(Path(f"/proc/{pid}/stat"))
    total = int(own[11]) + int(own[12])
    if children:
        total += int(own[13]) + int(own[14])
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                other = fields(stat)
                if int(other[1]) == pid:
                    total += int(other[11]) + int(other[12])
    return total / ticks


@attrs.frozen
class Run:
    """One first load: entries, seconds, answers by status, CPU seconds by whom."""

    entries: int
    seconds: float
    statuses: Counter[int]
    main_cpu: float  # the client's event-loop thread
    other_cpu: float  # the client's other threads (SQLite's commits)
    sandbox_cpu: float
    server_cpu: float | None  # the PostgreSQL server's processes


async def _walk_only(client: AworkClient) -> int:
    """The mirror's walk without a database: ``changes_since(None).raw_pages()``."""
    changes = changes_since(client, None, page_size=PAGE)
    count = 0
    async for page in changes.raw_pages():
        count += len(page.entries)
    return count


async def _load(
    url: str, token: str, db: str | None, clock: ScaledClock | None, origin: float
) -> tuple[int, float, Counter[int], float, float]:
    """(entries, seconds, statuses, main thread CPU, process CPU) of one first load (``db``
    None: the walk alone)."""
    statuses: Counter[int] = Counter()
    hooks = Hooks(on_response=[lambda event: statuses.update([event.status])])
    limiter = None
    if clock is not None:
        limiter = scaled_limiter(clock)
    async with AworkClient(token, base_url=url, rate_limiter=limiter, hooks=hooks) as client:
        await asyncio.sleep(max(0.0, origin - time.monotonic()))  # start on a window edge
        start, thread0, process0 = time.monotonic(), time.thread_time(), time.process_time()
        if db is None:
            count = await _walk_only(client)
        else:
            count = (await mirror(client, db, once=True, sweep_every=None)).read
        return (
            count,
            time.monotonic() - start,
            statuses,
            time.thread_time() - thread0,
            time.process_time() - process0,
        )


def one_run(kind: str, entries: int) -> Run | None:
    """A first load of ``entries`` into a fresh database of ``kind`` ("walk": no database)."""
    with contextlib.ExitStack() as stack:
        db: str | None = None
        server: int | None = None
        if kind != "walk":
            found = stack.enter_context(database(kind))
            if found is None:
                return None
            db, server = found
        origin = time.monotonic() + 15.0 + entries / 20_000  # after the sandbox has started
        clock = ScaledClock(origin=origin, scale=SCALE)
        sandbox = SandboxProcess(ServerOptions(entries=entries, clock=clock))
        url, token = stack.enter_context(sandbox)
        # From the window edge: the sandbox's CPU is read now and at the end (it is idle
        # until the first request), the server's likewise.
        sandbox0 = _cpu_seconds(sandbox.pid)
        server0 = None if server is None else _cpu_seconds(server, children=True)
        count, elapsed, statuses, main, total = asyncio.run(_load(url, token, db, clock, origin))
        return Run(
            count,
            elapsed,
            statuses,
            main,
            total - main,
            _cpu_seconds(sandbox.pid) - sandbox0,
            None if server is None else _cpu_seconds(server, children=True) - server0,
        )


def throughput(kinds: Sequence[str], entries: int, repeat: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for kind in kinds:
        runs = [run for run in (one_run(kind, entries) for _ in range(repeat)) if run]
        if not runs:
            continue
        run = sorted(runs, key=lambda r: r.entries / r.seconds)[(len(runs) - 1) // 2]  # median
        rate = run.entries / run.seconds
        per_entry = 1e6 / run.entries
        server = "-" if run.server_cpu is None else f"{run.server_cpu * per_entry:.0f}"
        rows.append(
            [
                "walk only (no database)" if kind == "walk" else kind,
                f"{run.entries:,}",
                f"{run.seconds:.1f}",
                f"{rate:,.0f}",
                f"{rate / CEILING:.2f}",
                " ".join(f"{r.entries / r.seconds / CEILING:.2f}" for r in runs),
                max(r.statuses.get(429, 0) for r in runs),
                sum(run.statuses.values()),
                f"{run.main_cpu * per_entry:.0f}",
                f"{run.other_cpu * per_entry:.0f}",
                f"{run.sandbox_cpu * per_entry:.0f}",
                server,
            ]
        )
        print(rows[-1], flush=True)
    return rows


def _memory_child(url: str, token: str, db: str) -> None:
    count = asyncio.run(_load(url, token, db, None, 0.0))[0]
    print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def memory(entries: int) -> list[list[object]]:
    rows: list[list[object]] = []
    peaks: list[int] = []
    for size in (entries // 10, entries):
        with SandboxProcess(ServerOptions(entries=size)) as (url, token), database("sqlite") as db:
            assert db is not None
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", url, token, db[0]],
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
    parser.add_argument("--repeat", type=int, default=1, help="runs per database (median)")
    parser.add_argument(
        "--kinds", default="walk,sqlite,postgresql", help="walk (no database), sqlite, postgresql"
    )
    args = parser.parse_args(argv)
    chosen = [p for p in ("throughput", "memory") if getattr(args, p)] or ["throughput", "memory"]
    print(machine_info())
    if "throughput" in chosen:
        rows = throughput(args.kinds.split(","), args.entries, args.repeat)
        print(
            f"\nfirst load of {args.entries:,} entries, ceiling {CEILING:,.0f} entries/s, median "
            f"of {args.repeat} (load average {os.getloadavg()[0]:.1f}); CPU in us per entry: "
            "the client's event-loop thread, its other threads, the sandbox, the database server"
        )
        print_table(
            [
                "database",
                "entries",
                "s",
                "entries/s",
                "fraction",
                "runs",
                "429s (max)",
                "requests",
                "main us",
                "threads us",
                "sandbox us",
                "server us",
            ],
            rows,
        )
    if "memory" in chosen:
        print("\npeak RSS of a first load into SQLite")
        print_table(["entries", "loaded", "peak MiB"], memory(args.entries))


if __name__ == "__main__":
    main()
