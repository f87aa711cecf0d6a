"""How much of awork's rate limit the client uses, and whether it ever runs into a 429.

Run: ``python benchmarks/bench_ratelimit.py`` (about 2 minutes; ``--duration`` changes it).

The sandbox enforces awork's real limits, 50 requests/second and 1000/minute in fixed windows,
and answers 429 beyond them. Its windows start when the measured run starts, so a run of
``T`` seconds may use ``allowed_requests(T)`` requests: 1000 in the first minute, then at most 50
for each second of the next. The default ``T = 62 s`` crosses one minute boundary. Callers keep
sending ``GET /timeentries/{id}`` until ``T``; answers received by then are counted.

(a) one process, 64 concurrent callers, one client with the default in-process
    ``LocalRateLimiter`` (50/s, 1000/min);
(b) 4 processes with 16 callers each, each its own client and event loop, all sharing one
    ``RedisRateLimiter`` key (skipped when ``redis-server`` is not installed).

Targets: (a) >= 0.95 of the allowed requests and zero 429s, (b) >= 0.90 and zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ThreadedSandbox, allowed_requests, machine_info, print_table

from awork_async import AworkClient, Hooks, LocalRateLimiter, RateLimiter
from awork_async._constants import DEFAULT_RATE_RESERVE
from awork_async.sandbox import RateLimitConfig, SandboxConfig

PER_SECOND = 50
PER_MINUTE = 1000
#: Seconds between launching the clients and the start of the measured run (process start-up).
LEAD_IN = 3.0
#: The limiters' ``reserve`` (set from ``--reserve``); the library's default unless told.
RESERVE = [DEFAULT_RATE_RESERVE]


@attrs.define
class RunResult:
    """Answers one client process got during the run (times relative to the run start)."""

    ok_times: list[float] = attrs.Factory(list)
    other_statuses: dict[int, int] = attrs.Factory(dict)
    errors: int = 0


#: Queues of a worker process: "ready" messages, the start instant, results.
Channel = tuple[
    "multiprocessing.Queue[str]", "multiprocessing.Queue[float]", "multiprocessing.Queue[RunResult]"
]


@attrs.frozen
class Target:
    """Where the load goes and when the run starts and ends (``time.monotonic`` instants)."""

    base_url: str
    token: str
    entry_ids: tuple[str, ...]
    t0: float
    t_end: float


async def _load(target: Target, limiter: RateLimiter, callers: int) -> RunResult:
    """Run ``callers`` concurrent loops of requests from ``target.t0`` until ``target.t_end``."""
    result = RunResult()

    def on_response(event: object) -> None:
        status = getattr(event, "status", 0)
        if status == 200:
            result.ok_times.append(time.monotonic() - target.t0)
        else:
            result.other_statuses[status] = result.other_statuses.get(status, 0) + 1

    await asyncio.sleep(max(target.t0 - time.monotonic(), 0.0))
    async with AworkClient(
        token=target.token,
        base_url=target.base_url,
        rate_limiter=limiter,
        hooks=Hooks(on_response=[on_response]),
    ) as awork:

        async def caller(n: int) -> None:
            ids = target.entry_ids
            i = n
            while True:
                try:
                    await awork.time_entries.get(ids[i % len(ids)])
                except Exception:
                    result.errors += 1
                i += callers

        tasks = [asyncio.create_task(caller(n)) for n in range(callers)]
        await asyncio.sleep(max(target.t_end - time.monotonic(), 0.0))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await limiter.aclose()
    # Answers that arrived after the end (requests in flight at the cut-off) are not counted.
    result.ok_times = [t for t in result.ok_times if t < target.t_end - target.t0]
    return result


def _redis_worker(
    base: Target, redis_url: str, key: str, callers: int, reserve: int, channel: Channel
) -> None:
    """Entry point of one client process in scenario (b).

    Reports ``"ready"`` once its imports are done, waits for the run's start instant, then sends
    back its :class:`RunResult`.
    """
    from awork_async import RedisRateLimiter

    ready, start, results = channel
    ready.put("ready")
    t0 = start.get()
    target = attrs.evolve(base, t0=t0, t_end=t0 + (base.t_end - base.t0))

    async def main() -> RunResult:
        limiter = RedisRateLimiter(redis_url, key, PER_SECOND, PER_MINUTE, reserve=reserve)
        return await _load(target, limiter, callers)

    results.put(asyncio.run(main()))


def _sandbox_config(t0: list[float]) -> SandboxConfig:
    # The sandbox's windows are aligned to the run: its clock reads 0.0 at t0[0].
    clock = RateLimitConfig(PER_SECOND, PER_MINUTE, clock=lambda: time.monotonic() - t0[0])
    return SandboxConfig(entries=200, seed=1, rate_limit=clock)


def _summarise(
    name: str, results: Sequence[RunResult], rate_limited: int, duration: float, target: float
) -> list[object]:
    ok = sorted(t for r in results for t in r.ok_times)
    allowed = allowed_requests(duration, PER_SECOND, PER_MINUTE)
    peak = max((sum(1 for u in ok if t <= u < t + 1.0) for t in ok), default=0)
    burst = f"{PER_MINUTE / ok[PER_MINUTE - 1]:.1f}/s" if len(ok) >= PER_MINUTE else "-"
    other = sum(n for r in results for s, n in r.other_statuses.items() if s != 429)
    errors = sum(r.errors for r in results)
    fraction = len(ok) / allowed
    verdict = "ok" if fraction >= target and rate_limited == 0 else "MISSED"
    return [
        name,
        len(ok),
        allowed,
        f"{fraction:.3f}",
        f"{len(ok) / duration:.1f}",
        burst,
        peak,
        rate_limited,
        other + errors,
        f">= {target:.2f}, 0 429s: {verdict}",
    ]


def run_local(duration: float, callers: int) -> list[object]:
    """Scenario (a): one process, one client, the default ``LocalRateLimiter``."""
    start = [time.monotonic() + LEAD_IN]
    with ThreadedSandbox(_sandbox_config(start)) as sb:
        t0 = start[0]
        target = Target(sb.base_url, sb.token, tuple(sb.store.entries), t0, t0 + duration)
        limiter = LocalRateLimiter(PER_SECOND, PER_MINUTE, reserve=RESERVE[0])
        result = asyncio.run(_load(target, limiter, callers))
    return _summarise(
        f"(a) 1 process x {callers} callers, LocalRateLimiter",
        [result],
        sb.stats.rate_limited,
        duration,
        0.95,
    )


def run_redis(duration: float, processes: int, callers: int) -> list[object] | None:
    """Scenario (b): several processes sharing one ``RedisRateLimiter`` key."""
    if shutil.which("redis-server") is None:
        print("(b) skipped: redis-server is not installed (apt-get install redis-server)")
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from redis_server import running_redis_server  # type: ignore[import-not-found,unused-ignore]

    context = multiprocessing.get_context("spawn")
    channel: Channel = (context.Queue(), context.Queue(), context.Queue())
    ready, start_queue, result_queue = channel
    with tempfile.TemporaryDirectory() as tmp, running_redis_server(Path(tmp)) as redis:
        start = [math.inf]  # the sandbox's windows begin when the run does
        with ThreadedSandbox(_sandbox_config(start)) as sb:
            base = Target(sb.base_url, sb.token, tuple(sb.store.entries), 0.0, duration)
            workers = [
                context.Process(
                    target=_redis_worker,
                    args=(base, redis.url, "awork:bench", callers, RESERVE[0], channel),
                )
                for _ in range(processes)
            ]
            for worker in workers:
                worker.start()
            for _ in workers:  # every interpreter has started and imported everything
                ready.get(timeout=120)
            start[0] = time.monotonic() + 1.0
            for _ in workers:
                start_queue.put(start[0])
            results = [result_queue.get(timeout=duration + 120) for _ in workers]
            for worker in workers:
                worker.join(timeout=30)
    return _summarise(
        f"(b) {processes} processes x {callers} callers, RedisRateLimiter",
        results,
        sb.stats.rate_limited,
        duration,
        0.90,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run both scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=62.0, help="seconds per scenario")
    parser.add_argument("--callers", type=int, default=64, help="concurrent callers in (a)")
    parser.add_argument("--processes", type=int, default=4, help="client processes in (b)")
    parser.add_argument(
        "--reserve",
        type=int,
        default=DEFAULT_RATE_RESERVE,
        help="limiter reserve (-1 switches the header-driven hold off)",
    )
    parser.add_argument("--skip-redis", action="store_true", help="run only scenario (a)")
    args = parser.parse_args(argv)
    RESERVE[0] = args.reserve

    print(f"machine: {machine_info()}")
    print(
        f"sandbox limits: {PER_SECOND}/s and {PER_MINUTE}/min in fixed windows starting with the "
        f"run; {args.duration:g} s per scenario, allowing "
        f"{allowed_requests(args.duration, PER_SECOND, PER_MINUTE)} requests"
    )
    rows = [run_local(args.duration, args.callers)]
    if not args.skip_redis:
        row = run_redis(args.duration, args.processes, max(args.callers // args.processes, 1))
        if row is not None:
            rows.append(row)
    print()
    print_table(
        [
            "scenario",
            "ok",
            "allowed",
            "fraction",
            "req/s",
            "burst rate",
            "max in 1 s",
            "429s",
            "other errors",
            "target",
        ],
        rows,
    )
    print()
    print(
        "burst rate: the first 1000 answers / the time to the 1000th (the per-second limit "
        f"allows {PER_SECOND}/s); max in 1 s: most answers in any sliding second."
    )


if __name__ == "__main__":
    main()
