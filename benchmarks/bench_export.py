"""Exporting time entries from the sandbox: throughput under the rate limit, latency, memory, consistency.

Run: ``python benchmarks/bench_export.py`` (all parts, about 4 minutes), or pick parts:
``--throughput``, ``--latency``, ``--memory``, ``--consistency``. ``--duration`` sets the length
of each throughput run (default 40 s).

The sandbox runs in its own process (spawned), so its CPU and memory are not the client's.

* throughput: the sandbox enforces 50 requests/s and a window of 333 requests per 20 s (awork's
  1000/min scaled down 3x in time: both the sandbox's windows and the client's limiter run on a
  clock 3x faster than real time, so a "minute" lasts 20 s; the per-second window becomes 17 per
  1/3 s, 51/s). The ceiling is the allowed requests x page size (1000): 333 x 1000 entries per
  20 s, 16,650 entries/s, like awork's 1000/min with 1000-entry pages. Measured for
  ``time_entries.list(page_size=1000, prefetch=N)`` (passes repeated over the data set) and for
  the consistent export ``export_time_entries`` (repeated), each for ``--duration`` seconds from
  a window edge, counting the entries received and every 429. Target: >= 0.9 of the ceiling,
  zero 429s.
* latency: 100 ms added to every request, no rate limit; ``list(prefetch=0)`` against
  ``list(prefetch=8)``. Target: >= 5x faster.
* memory: peak RSS (``ru_maxrss``) of a fresh client process running ``export_time_entries``,
  and one running a first sync (``changes_since(None)``, every entry decoded), over 200,000
  entries against 20,000, each at its default concurrency (the split rules are relaxed in this
  benchmark so that 20,000 entries are partitioned too: by default a short walk is not split,
  which would compare one partition with many). Pages of partitions ahead beyond
  ``MAX_MEMORY_PAGES`` wait in a temporary file. Target: <= 1.5x.
* consistency: between pages, alternately 20 entries are inserted before all others and 40 are
  deleted from the start of the default order (those just inserted and 20 old ones), and 5 are
  inserted and 5 deleted at random places (inside and at the edges of the partitions); the
  consistent export (sequential, and 8 concurrent partitions with relaxed split rules) and plain
  offset paging are checked for entries missed (present for the whole run, not exported) and
  duplicated. Target: zero for the export.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, cast

import attrs
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_info, print_table

from awork_async import AworkClient, Hooks, LocalRateLimiter, NoRateLimiter
from awork_async import _keyset_walk as walk_module
from awork_async._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE_WINDOW_MARGIN,
    DEFAULT_SYNC_CONCURRENCY,
)
from awork_async._partitions import SplitPlanner
from awork_async.export import export_time_entries
from awork_async.sandbox import FaultConfig, RateLimitConfig, Sandbox, SandboxConfig
from awork_async.sync import changes_since

#: Rate-limit windows run this many times faster than real time in the throughput runs.
SCALE = 3.0
PAGE = 1000
#: Requests per scaled "minute" (20 real seconds) and per scaled "second" (1/3 real second).
PER_MINUTE = 333
PER_SECOND = 17


def scaled_limiter(clock: ScaledClock) -> LocalRateLimiter:
    """The client's limiter on the scaled clock. Its window margin absorbs delays that are *not*
    scaled (the network, an event loop busy with a page, the sandbox building an answer before
    it counts the next request), so it is the default margin in real seconds: ``SCALE`` times
    the default in scaled seconds. Without that, a 0.1 s margin would shrink to 33 ms of real
    time and the benchmark would be three times harsher on jitter than awork is."""
    return LocalRateLimiter(
        PER_SECOND,
        PER_MINUTE,
        window_margin=DEFAULT_RATE_WINDOW_MARGIN * SCALE,
        clock=clock,
        sleep=lambda s: asyncio.sleep(s / SCALE),
    )


@attrs.frozen
class ScaledClock:
    """``(time.monotonic() - origin) * scale``: picklable, so the sandbox process can share it."""

    origin: float
    scale: float

    def __call__(self) -> float:
        return (time.monotonic() - self.origin) * self.scale


@attrs.frozen
class ServerOptions:
    """What the sandbox process serves."""

    entries: int
    seed: int = 1
    clock: ScaledClock | None = None
    latency: float = 0.0


def _serve(options: ServerOptions, conn: Connection) -> None:
    """Sandbox process: start, send (base_url, token), serve until anything arrives on ``conn``."""

    async def run() -> None:
        rate = None
        if options.clock is not None:
            rate = RateLimitConfig(
                per_second=PER_SECOND, per_minute=PER_MINUTE, clock=options.clock
            )
        config = SandboxConfig(
            entries=options.entries,
            seed=options.seed,
            rate_limit=rate,
            faults=FaultConfig(latency=options.latency),
        )
        async with Sandbox(config) as sandbox:
            conn.send((sandbox.base_url, sandbox.token))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(run())


class SandboxProcess:
    """A sandbox in a spawned process (``with SandboxProcess(options) as (url, token): ...``)."""

    def __init__(self, options: ServerOptions) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(options, child), daemon=True)

    @property
    def pid(self) -> int:
        """The sandbox process's id (once started)."""
        assert self._process.pid is not None
        return self._process.pid

    def __enter__(self) -> tuple[str, str]:
        self._process.start()
        if not self._conn.poll(180):
            raise RuntimeError("the sandbox process did not start")
        url, token = self._conn.recv()
        return str(url), str(token)

    def __exit__(self, *_: object) -> None:
        self._conn.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()


class Statuses:
    """Counts the answers' statuses through the client's hooks."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def hooks(self) -> Hooks:
        return Hooks(on_response=[lambda event: self.counts.update([event.status])])


class _Sink(io.RawIOBase):
    """A write-only binary file that counts lines (the export's output)."""

    def __init__(self) -> None:
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.lines += bytes(data).count(b"\n")
        return len(data)


# --- throughput ---------------------------------------------------------------------------------


async def _list_for(client: AworkClient, deadline: float, prefetch: int) -> int:
    done = 0
    while time.monotonic() < deadline:
        async for _ in client.time_entries.list(page_size=PAGE, prefetch=prefetch):
            done += 1
            if time.monotonic() >= deadline:
                return done
    return done


async def _export_for(client: AworkClient, deadline: float) -> int:
    done = 0
    while time.monotonic() < deadline:
        progress = [0]

        def seen(count: int, _: int | None, progress: list[int] = progress) -> None:
            progress[0] = count

        run = asyncio.ensure_future(
            export_time_entries(
                client,
                cast(BinaryIO, _Sink()),
                format="jsonl",
                page_size=PAGE,
                checkpoint_every=PAGE,
                on_progress=seen,
            )
        )
        try:
            summary = await asyncio.wait_for(run, max(0.0, deadline - time.monotonic()))
            done += summary.entries
        except asyncio.TimeoutError:
            done += progress[0]
    return done


def throughput(duration: float, prefetch: int) -> list[list[object]]:
    """Entries/s of list(prefetch) and of the consistent export, as fractions of the ceiling."""
    rows: list[list[object]] = []
    for mode in ("list", "export"):
        origin = time.monotonic() + 8.0  # the sandbox starts in 2-4 s; the run waits for this edge
        clock = ScaledClock(origin=origin, scale=SCALE)
        with SandboxProcess(ServerOptions(entries=10_000, clock=clock)) as (url, token):

            async def run(
                url: str = url,
                token: str = token,
                mode: str = mode,
                clock: ScaledClock = clock,
                origin: float = origin,
            ) -> tuple[int, float, Counter[int]]:
                statuses = Statuses()
                limiter = scaled_limiter(clock)
                async with AworkClient(
                    token, base_url=url, rate_limiter=limiter, hooks=statuses.hooks()
                ) as client:
                    await asyncio.sleep(
                        max(0.0, origin - time.monotonic())
                    )  # start on a window edge
                    start = time.monotonic()
                    deadline = start + duration
                    if mode == "list":
                        count = await _list_for(client, deadline, prefetch)
                    else:
                        count = await _export_for(client, deadline)
                    return count, time.monotonic() - start, statuses.counts

            count, elapsed, statuses = asyncio.run(run())
        windows = max(1, round(duration * SCALE / 60))
        ceiling = windows * PER_MINUTE * PAGE / duration
        label = f"list(prefetch={prefetch})" if mode == "list" else "export_time_entries"
        rate = count / elapsed
        rows.append(
            [
                label,
                f"{rate:,.0f}",
                f"{ceiling:,.0f}",
                f"{rate / ceiling:.2f}",
                statuses.get(429, 0),
                sum(statuses.values()),
            ]
        )
    return rows


# --- latency ----------------------------------------------------------------------------------


def latency(entries: int = 10_000, page_size: int = 100) -> list[list[object]]:
    """Seconds to list everything with 100 ms per request: sequential against prefetch=8."""
    rows: list[list[object]] = []
    with SandboxProcess(ServerOptions(entries=entries, latency=0.1)) as (url, token):

        async def run(prefetch: int) -> float:
            async with AworkClient(token, base_url=url, rate_limiter=NoRateLimiter()) as client:
                start = time.monotonic()
                count = 0
                async for _ in client.time_entries.list(page_size=page_size, prefetch=prefetch):
                    count += 1
                assert count == entries, count
                return time.monotonic() - start

        sequential = asyncio.run(run(0))
        prefetched = asyncio.run(run(8))
    rows.append(
        [
            f"list, {entries // page_size} pages of {page_size}, prefetch=0",
            f"{sequential:.2f} s",
            "",
        ]
    )
    rows.append(
        [
            f"list, {entries // page_size} pages of {page_size}, prefetch=8",
            f"{prefetched:.2f} s",
            f"{sequential / prefetched:.1f}x",
        ]
    )
    return rows


# --- memory -----------------------------------------------------------------------------------


def relax_split_rules() -> None:
    """Let small walks split too (benchmarks only): 2-page halves, no request budget."""

    def planner(page_size: int) -> SplitPlanner:
        return SplitPlanner(page_size=page_size, max_extra=1.0, min_pages=2)

    walk_module.SplitPlanner = planner  # type: ignore[misc,assignment]


def _memory_child(url: str, token: str, walk: str) -> None:
    """Client process: one walk (``export``: ``export_time_entries`` to JSON lines, ``sync``:
    ``changes_since(None)``, every entry decoded), each at its default concurrency; print the
    entries and the peak RSS (KiB)."""
    relax_split_rules()

    async def run(sink: BinaryIO) -> int:
        async with AworkClient(token, base_url=url, rate_limiter=NoRateLimiter()) as client:
            if walk == "export":
                summary = await export_time_entries(client, sink, format="jsonl", page_size=PAGE)
                return summary.entries
            count = 0
            async for _entry in changes_since(client, None, page_size=PAGE):
                count += 1
            return count

    with open(os.devnull, "wb") as sink:
        count = asyncio.run(run(sink))
    print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


#: The memory part's walks: (name, ``--memory-child`` argument, its default concurrency).
MEMORY_WALKS: tuple[tuple[str, str, int], ...] = (
    ("export_time_entries", "export", DEFAULT_CONCURRENCY),
    ("changes_since(None), decoded", "sync", DEFAULT_SYNC_CONCURRENCY),
)


def memory() -> list[list[object]]:
    """Peak RSS of each walk over 20,000 and 200,000 entries, each in a fresh process."""
    rows: list[list[object]] = []
    for name, walk, concurrency in MEMORY_WALKS:
        peaks: dict[int, int] = {}
        for entries in (20_000, 200_000):
            with SandboxProcess(ServerOptions(entries=entries)) as (url, token):
                out = subprocess.run(
                    [sys.executable, __file__, "--memory-child", url, token, walk],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
            count, peak = int(out[0]), int(out[1])
            assert count == entries, (count, entries)
            peaks[entries] = peak
            label = f"{name} (concurrency {concurrency}), {entries:,} entries"
            rows.append([label, f"{peak / 1024:.1f} MiB", ""])
        rows[-1][2] = f"{peaks[200_000] / peaks[20_000]:.2f}x"
    return rows


# --- consistency ------------------------------------------------------------------------------


class _ChurningSink(io.RawIOBase):
    """Collects the exported ids and changes the data every ``every`` lines (between pages)."""

    def __init__(self, churn: Any, every: int) -> None:
        self.ids: list[str] = []
        self.churn = churn
        self.every = every
        self._buffer = b""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += bytes(data)
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self.ids.append(orjson.loads(line)["id"])
            if len(self.ids) % self.every == 0:
                self.churn()
        return len(data)


def consistency(entries: int = 5_000, page_size: int = 200, churn: int = 20) -> list[list[object]]:
    """Missed and duplicated entries while ``churn`` entries are inserted and deleted per page."""
    relax_split_rules()
    rows: list[list[object]] = []
    modes = (
        "export_time_entries (keyset, concurrency=1)",
        "export_time_entries (keyset, concurrency=8)",
        "list (offset paging)",
    )
    for mode in modes:
        result: dict[str, Any] = {}

        async def run(mode: str = mode, result: dict[str, Any] = result) -> None:
            async with Sandbox(SandboxConfig(entries=entries, seed=5)) as sandbox:
                store = sandbox.store
                initial = set(store.entries)
                deleted: set[str] = set()

                steps = [0]

                def change() -> None:
                    # alternately: insert before every entry, then delete twice as many at the
                    # start (the ones just inserted and as many old ones, all already exported)
                    steps[0] += 1
                    if steps[0] % 2:
                        store.insert_entries(churn, position="first")
                        store.insert_entries(5, position="random")
                    else:
                        deleted.update(store.delete_entries(2 * churn, position="first"))
                        deleted.update(store.delete_entries(5, position="random"))

                async with AworkClient(
                    sandbox.token, base_url=sandbox.base_url, rate_limiter=NoRateLimiter()
                ) as client:
                    if mode.startswith("export"):
                        sink = _ChurningSink(change, page_size)
                        await export_time_entries(
                            client,
                            cast(BinaryIO, sink),
                            format="jsonl",
                            page_size=page_size,
                            concurrency=8 if "=8" in mode else 1,
                        )
                        ids = sink.ids
                    else:
                        ids = []
                        async for entry in client.time_entries.list(
                            page_size=page_size, prefetch=0
                        ):
                            ids.append(str(entry.id))
                            if len(ids) % page_size == 0:
                                change()
                result["missed"] = len((initial - deleted) - set(ids))
                result["duplicated"] = sum(n - 1 for n in Counter(ids).values() if n > 1)
                result["changes"] = len(deleted & initial), len(deleted - initial)

        asyncio.run(run())
        old, new = result["changes"]
        rows.append(
            [
                mode,
                result["missed"],
                result["duplicated"],
                f"{new} inserted and deleted again, {old} old ones deleted",
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen parts (all by default) and print their tables."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--memory-child"]:
        _memory_child(argv[1], argv[2], argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for part in ("throughput", "latency", "memory", "consistency"):
        parser.add_argument(f"--{part}", action="store_true", help=f"run the {part} part")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds per throughput run")
    parser.add_argument(
        "--prefetch", type=int, default=4, help="prefetch of the list() throughput run"
    )
    args = parser.parse_args(argv)
    chosen = [p for p in ("throughput", "latency", "memory", "consistency") if getattr(args, p)]
    chosen = chosen or ["throughput", "latency", "memory", "consistency"]
    if "throughput" in chosen:
        print(
            f"\nThroughput: 50/s + {PER_MINUTE} per 20 s (1000/min scaled 3x), pages of {PAGE}, {args.duration:.0f} s each"
        )
        print_table(
            ["run", "entries/s", "ceiling", "fraction", "429s", "requests"],
            throughput(args.duration, args.prefetch),
        )
    if "latency" in chosen:
        print("\nLatency: 100 ms per request, no rate limit")
        print_table(["run", "time", "speed-up"], latency())
    if "memory" in chosen:
        print("\nMemory: peak RSS of the client process (the sandbox runs in another process)")
        print_table(["run", "peak RSS", "200k / 20k"], memory())
    if "consistency" in chosen:
        print(
            "\nConsistency: entries inserted before / deleted from the start of the order between pages"
        )
        print_table(["walk", "missed", "duplicated", "changes"], consistency())
    print(f"\nmachine: {machine_info()}")


if __name__ == "__main__":
    main()
