"""What a crash costs a resumable consistent export: requests of crash + resume vs a whole export.

Run: ``python benchmarks/bench_export_resume.py`` (about 1 minute; ``--entries``, ``--repeat``,
``--latency`` seconds added to every request, default 0).

A sandbox (in a thread of its own, no rate limit) serves ``--entries`` entries
(20,000 by default). ``export_time_entries`` writes them as JSONL, 100 per page, default
concurrency (20), a checkpoint every 1000 entries, to an open file; the file tears the line
after 6%, 25% and 95% of the lines (a power cut) and the export is resumed from its checkpoint.
Requests are counted by the sandbox. Printed: per crash point, the requests made before the
crash, by the resume, and (crash + resume) / whole export (medians over ``--repeat`` runs); each
resumed file is checked byte-identical to the whole export.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ThreadedSandbox, machine_info, print_table
from _helpers import LineTearingWriter

from awork_async import AworkClient, NoRateLimiter
from awork_async.export import export_time_entries
from awork_async.sandbox import FaultConfig, Sandbox, SandboxConfig

SHARES = (0.06, 0.25, 0.95)
OPTIONS = {"format": "jsonl", "page_size": 100, "checkpoint_every": 1000}


async def measure(sandbox: Sandbox, directory: Path) -> list[tuple[int, int, int, int]]:
    """``(whole, crash, resume, lines)`` per share."""
    async with AworkClient(
        sandbox.token, base_url=sandbox.base_url, rate_limiter=NoRateLimiter()
    ) as client:
        whole_path = directory / "whole.jsonl"
        before = sandbox.stats.requests
        with whole_path.open("wb") as output:
            await export_time_entries(client, output, **OPTIONS)  # type: ignore[arg-type]
        whole = sandbox.stats.requests - before
        expected = whole_path.read_bytes()
        lines = expected.count(b"\n")
        results = []
        for share in SHARES:
            crash_at = max(int(lines * share), 1)
            target, checkpoint = directory / f"{share}.jsonl", directory / f"{share}.cp"
            before = sandbox.stats.requests
            with target.open("wb") as raw:
                torn = cast(BinaryIO, LineTearingWriter(raw, crash_at, "power cut"))
                try:
                    await export_time_entries(
                        client,
                        torn,
                        checkpoint_path=checkpoint,
                        **OPTIONS,  # type: ignore[arg-type]
                    )
                except OSError:
                    pass  # the power cut
                else:
                    raise AssertionError("the export did not crash")
            crashed = sandbox.stats.requests - before
            before = sandbox.stats.requests
            with target.open("r+b") as output:
                await export_time_entries(
                    client,
                    output,
                    checkpoint_path=checkpoint,
                    resume=True,
                    **OPTIONS,  # type: ignore[arg-type]
                )
            resumed = sandbox.stats.requests - before
            assert target.read_bytes() == expected, f"crash at {share:.0%}: not byte-identical"
            results.append((whole, crashed, resumed, crash_at))
        return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.repeat):
        with (
            ThreadedSandbox(
                SandboxConfig(entries=args.entries, faults=FaultConfig(latency=args.latency))
            ) as sandbox,
            tempfile.TemporaryDirectory() as directory,
        ):
            runs.append(asyncio.run(measure(sandbox, Path(directory))))
    rows = []
    for index, share in enumerate(SHARES):
        whole = statistics.median(run[index][0] for run in runs)
        crashed = statistics.median(run[index][1] for run in runs)
        resumed = statistics.median(run[index][2] for run in runs)
        ratio = statistics.median((run[index][1] + run[index][2]) / run[index][0] for run in runs)
        rows.append([f"{share:.0%}", whole, crashed, resumed, f"{ratio:.2f}x"])
    print(
        f"{args.entries} entries, 100 per page, a checkpoint every 1000, "
        f"{args.latency} s per request; {machine_info()}"
    )
    print_table(["crash after", "whole", "before crash", "resume", "crash + resume"], rows)


if __name__ == "__main__":
    main()
