"""Decoding end to end over loopback HTTP: the public list path against straightforward cattrs.

Run: ``python benchmarks/bench_decode_http.py`` (about a minute; ``--quick`` for a short run).

A sandbox process (its own process, so its CPU is not the client's) serves ``--entries``
realistic entries (20,000 by default); the client lists them all in pages of 1000 over loopback
HTTP with ``prefetch=4``, through the same request path in every column:

* ``awork_async (models)``: ``time_entries.list(page_size=1000, prefetch=4)``, the public path
  (decoded by the package's fast decoder);
* ``straightforward cattrs``: the same list through ``.raw()`` (the same requests and JSON
  parsing), each entry then structured by a plain ``cattrs.Converter`` with camelCase renames
  (``tests/_reference.py``), i.e. what a straightforward client built on cattrs would do;
* ``raw (no models)``: ``.raw()`` alone, the cost of HTTP and JSON.

Entries per second of wall time, the median of ``--runs`` runs that take turns. Target: the
public path >= 3x straightforward cattrs, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine_info, print_table
from _reference import straightforward_converter
from bench_export import SandboxProcess, ServerOptions

from awork_async import AworkClient, NoRateLimiter
from awork_async.models import TimeEntry

PAGE = 1000
PREFETCH = 4


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 3 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.runs = 10_000, 3
    plain = straightforward_converter()

    with SandboxProcess(ServerOptions(entries=args.entries)) as (url, token):

        async def measure() -> dict[str, list[float]]:
            async with AworkClient(token, base_url=url, rate_limiter=NoRateLimiter()) as client:

                async def models() -> int:
                    items = client.time_entries.list(page_size=PAGE, prefetch=PREFETCH)
                    return len([entry async for entry in items])

                async def cattrs() -> int:
                    count = 0
                    raw = client.time_entries.list(page_size=PAGE, prefetch=PREFETCH).raw()
                    async for page in raw.pages():
                        entries = [plain.structure(item, TimeEntry) for item in page.items]
                        count += len(entries)
                    return count

                async def raw() -> int:
                    items = client.time_entries.list(page_size=PAGE, prefetch=PREFETCH).raw()
                    return len([entry async for entry in items])

                columns: dict[str, Callable[[], Awaitable[int]]] = {
                    "awork_async (models)": models,
                    "straightforward cattrs": cattrs,
                    "raw (no models)": raw,
                }
                await raw()  # warm up: the sandbox sorts once, connections open
                samples: dict[str, list[float]] = {name: [] for name in columns}
                for _ in range(args.runs):  # taking turns: a busy moment hits all of them
                    for name, run in columns.items():
                        start = time.perf_counter()
                        count = await run()
                        elapsed = time.perf_counter() - start
                        assert count == args.entries, (name, count)
                        samples[name].append(count / elapsed)
                return samples

        samples = asyncio.run(measure())
    figures = {name: statistics.median(values) for name, values in samples.items()}
    base = figures["straightforward cattrs"]
    print(
        f"\n{args.entries:,} entries over loopback HTTP, pages of {PAGE}, prefetch {PREFETCH}, "
        f"entries/s (median of {args.runs} runs)"
    )
    print_table(
        ["path", "entries/s", "vs straightforward cattrs"],
        [[name, f"{value:,.0f}", f"{value / base:.2f}x"] for name, value in figures.items()],
    )
    ratio = figures["awork_async (models)"] / base
    print(f"\ntarget >= 3x: {ratio:.2f}x -> {'met' if ratio >= 3 else 'MISSED'}")
    print(f"machine: {machine_info()}")


if __name__ == "__main__":
    main()
