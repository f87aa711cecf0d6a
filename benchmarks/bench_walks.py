"""Consistent walks at the rate ceiling: export, first sync and list(prefetch) against page latency.

Run: ``python benchmarks/bench_walks.py`` (about 10 minutes with the defaults; ``--quick`` for a
short look). Options: ``--latencies 0.1,0.5,1.0``, ``--entries``, ``--duration``, ``--repeat``,
``--concurrency``.

For each per-page latency (0.1, 0.5 and 1.0 s) and each walk, a fresh sandbox process serves
``--entries`` entries (200,000 by default) with that latency added to every request, enforcing
awork's 50 requests/s + 1000/min **scaled 3x in time** like ``bench_export.py``: the sandbox's
windows and the client's limiter run on a clock 3x faster than real time, so a "minute" lasts
20 s and holds 333 requests: the ceiling is 333 requests (333,000 entries) per 20 s, 16,650
entries/s, awork's own rate (1000/min with 1000-entry pages). The latency is *not* scaled: a
"1.0 s" page takes 1.0 s, so a walk needs as many requests in flight as against awork (the
rate times the latency: about 17 at 1.0 s per page). Each run starts on a window edge and
repeats whole walks for ``--duration`` seconds:

* ``export``: ``export_time_entries`` (consistent, ``createdOn`` partitions, ``--concurrency``,
  the default by default);
* ``first sync``: ``changes_since(None)`` (consistent, ``updatedOn`` partitions, ``--concurrency``,
  its own default by default), entries decoded;
* ``list(prefetch)``: ``time_entries.list(page_size=1000, prefetch=8)`` (offset pages, not
  consistent), the reference for what the rate limit allows.

Columns: entries/s and that as a fraction of the ceiling (entries *received*: for the
consistent walks, every window and offset page read, delivered in order or still waiting in a
partition ahead), the fraction *delivered in order* (the run is cut at its deadline: a walk
under way has read pages of all its partitions but delivered only the first ones, so this
under-counts by up to most of a walk; over whole walks the two agree), 429 answers, and
requests per complete walk against a sequential walk's (the same walk with ``concurrency=1``,
counted once per data set). Each figure is the median over ``--repeat`` runs. Keep
``--duration`` a multiple of 20 s (a scaled minute): the ceiling counts whole windows. Targets:
consistent export and first sync >= 0.9 of the ceiling at 0.1 and 1.0 s, zero 429s, <= 1.03x
the sequential requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_info, print_table
from bench_export import (
    PAGE,
    PER_MINUTE,
    SCALE,
    SandboxProcess,
    ScaledClock,
    ServerOptions,
    Statuses,
    _Sink,
    scaled_limiter,
)

from awork_async import AworkClient, NoRateLimiter
from awork_async._constants import DEFAULT_CONCURRENCY, DEFAULT_SYNC_CONCURRENCY
from awork_async.export import KeysetWalk, export_time_entries
from awork_async.sync import changes_since

MODES = ("export", "first sync", "list(prefetch)")
LIST_PREFETCH = 8


#: The consistent walks' ``concurrency`` (``--concurrency``; ``None``: each walk's default,
#: ``DEFAULT_CONCURRENCY`` for the export, ``DEFAULT_SYNC_CONCURRENCY`` for the first sync).
CONCURRENCY: list[int | None] = [None]


async def _export_pass(client: AworkClient, deadline: float, seen: list[int]) -> int | None:
    """One whole export (its requests) or ``None`` when the deadline cut it."""

    def progress(count: int, _: int | None) -> None:
        seen[0] = base + count

    base = seen[0]
    run = asyncio.ensure_future(
        export_time_entries(
            client,
            cast(BinaryIO, _Sink()),
            format="jsonl",
            page_size=PAGE,
            on_progress=progress,
            concurrency=CONCURRENCY[0] or DEFAULT_CONCURRENCY,
        )
    )
    try:
        summary = await asyncio.wait_for(run, max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        return None
    seen[0] = base + summary.entries
    return summary.pages


async def _sync_pass(client: AworkClient, deadline: float, seen: list[int]) -> int | None:
    changes = changes_since(
        client, None, page_size=PAGE, concurrency=CONCURRENCY[0] or DEFAULT_SYNC_CONCURRENCY
    )
    async for _ in changes:
        seen[0] += 1
        if time.monotonic() >= deadline:
            return None
    return changes.pages


async def _list_pass(client: AworkClient, deadline: float, seen: list[int]) -> int | None:
    pages = 0
    async for page in client.time_entries.list(page_size=PAGE, prefetch=LIST_PREFETCH).pages():
        pages += 1
        seen[0] += len(page.items)
        if time.monotonic() >= deadline:
            return None
    return pages


PASSES = {"export": _export_pass, "first sync": _sync_pass, "list(prefetch)": _list_pass}


class _Received:
    """Counts the entries the consistent walks receive (every window and offset page), read
    or not yet: the run is cut at its deadline, when the partitions ahead of the one being
    delivered hold pages that count for the rate limit but not yet for the in-order count."""

    def __init__(self) -> None:
        self.entries = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        fetch, offset = KeysetWalk._fetch, KeysetWalk._fetch_offset

        async def counted_fetch(walk: KeysetWalk, *args: Any, **kwargs: Any) -> Any:
            answer = await fetch(walk, *args, **kwargs)
            self.entries += len(answer[0])
            return answer

        async def counted_offset(walk: KeysetWalk, *args: Any, **kwargs: Any) -> Any:
            answer = await offset(walk, *args, **kwargs)
            self.entries += len(answer[0])
            return answer

        KeysetWalk._fetch = counted_fetch  # type: ignore[method-assign]
        KeysetWalk._fetch_offset = counted_offset  # type: ignore[method-assign]
        try:
            yield
        finally:
            KeysetWalk._fetch, KeysetWalk._fetch_offset = fetch, offset  # type: ignore[method-assign]


def one_run(
    mode: str, latency: float, entries: int, duration: float
) -> tuple[float, int, float | None, float]:
    """(fraction of the ceiling delivered in order, 429s, requests per complete walk,
    fraction received) of one run."""
    origin = time.monotonic() + 12.0 + entries / 40_000  # after the sandbox has started
    clock = ScaledClock(origin=origin, scale=SCALE)
    options = ServerOptions(entries=entries, clock=clock, latency=latency)  # real seconds
    with SandboxProcess(options) as (url, token):

        async def run() -> tuple[int, float, int, list[int]]:
            statuses = Statuses()
            limiter = scaled_limiter(clock)
            async with AworkClient(
                token, base_url=url, rate_limiter=limiter, hooks=statuses.hooks()
            ) as client:
                await asyncio.sleep(max(0.0, origin - time.monotonic()))  # a window edge
                start = time.monotonic()
                deadline = start + duration
                seen = [0]
                walks: list[int] = []
                with received.counting():
                    while time.monotonic() < deadline:
                        pages = await PASSES[mode](client, deadline, seen)
                        if pages is not None:
                            walks.append(pages)
                elapsed = time.monotonic() - start
                return seen[0], elapsed, statuses.counts.get(429, 0), walks

        received = _Received()
        count, elapsed, limited, walks = asyncio.run(run())
    windows = max(1, round(duration * SCALE / 60))
    ceiling = windows * PER_MINUTE * PAGE / duration
    per_walk = statistics.median(walks) if walks else None
    got = received.entries if mode != "list(prefetch)" else count
    return count / elapsed / ceiling, limited, per_walk, got / elapsed / ceiling


def sequential_requests(entries: int) -> dict[str, int]:
    """Requests of a sequential walk over the same data (no latency, no rate limit)."""
    with SandboxProcess(ServerOptions(entries=entries)) as (url, token):

        async def run() -> dict[str, int]:
            async with AworkClient(token, base_url=url, rate_limiter=NoRateLimiter()) as client:
                result: dict[str, int] = {}
                for mode, field in (("export", "createdOn"), ("first sync", "updatedOn")):
                    walk = KeysetWalk(client, field=field, page_size=PAGE, concurrency=1)
                    async for _ in walk.rows():
                        pass
                    result[mode] = walk.pages
                pages = 0
                async for _ in client.time_entries.list(page_size=PAGE, prefetch=8).pages():
                    pages += 1
                result["list(prefetch)"] = pages
                return result

        return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latencies", default="0.1,0.5,1.0", help="seconds per page (real)")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--duration", type=float, default=40.0, help="real seconds per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"lanes of the consistent walks (default: export {DEFAULT_CONCURRENCY}, "
        f"first sync {DEFAULT_SYNC_CONCURRENCY})",
    )
    parser.add_argument("--quick", action="store_true", help="50,000 entries, 20 s, 1.0 s only")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.duration, args.latencies = 50_000, 20.0, "1.0"
    CONCURRENCY[0] = args.concurrency
    lanes = args.concurrency or f"{DEFAULT_CONCURRENCY} (export), {DEFAULT_SYNC_CONCURRENCY} (sync)"
    latencies = [float(x) for x in args.latencies.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    sequential = sequential_requests(args.entries)
    rows: list[list[object]] = []
    for latency in latencies:
        for mode in modes:
            runs = [one_run(mode, latency, args.entries, args.duration) for _ in range(args.repeat)]
            fraction = statistics.median(r[3] for r in runs)
            in_order = statistics.median(r[0] for r in runs)
            limited = max(r[1] for r in runs)
            walks = [r[2] for r in runs if r[2] is not None]
            ratio = f"{statistics.median(walks) / sequential[mode]:.3f}x" if walks else "-"
            rows.append(
                [
                    f"{latency:.1f} s",
                    mode,
                    f"{fraction * PER_MINUTE * PAGE / 20:,.0f}",
                    f"{fraction:.2f}",
                    f"{in_order:.2f}",
                    limited,
                    ratio,
                ]
            )
            print(rows[-1], flush=True)
    print(
        f"\n{args.entries:,} entries, pages of {PAGE}, 50/s + {PER_MINUTE} per 20 s (1000/min "
        f"scaled 3x; latency not scaled), {args.duration:.0f} s per run, concurrency "
        f"{lanes}, "
        f"list prefetch {LIST_PREFETCH}, median of {args.repeat}; sequential requests per walk: "
        + ", ".join(f"{k} {v}" for k, v in sequential.items())
    )
    print_table(
        [
            "latency",
            "walk",
            "entries/s",
            "of ceiling",
            "delivered in order",
            "429s",
            "requests / sequential",
        ],
        rows,
    )
    print(f"\nmachine: {machine_info()}")


if __name__ == "__main__":
    main()
