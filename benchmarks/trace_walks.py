"""Per-request timeline of one bench_walks run: where do the 429s come from?

Run: ``python benchmarks/trace_walks.py --mode export --latency 0.1 --duration 40 --out t.jsonl``

Runs one ``bench_walks`` cell (same sandbox process, same scaled clock and limiter) and records,
for every request attempt, on the scaled clock (seconds; 3 scaled = 1 real):

* ``want``: the transport asked the client's limiter; ``admit``: the limiter admitted it;
* ``sent``: the transport's ``on_request`` hook ran (just before the request is written);
* ``arrive``: the sandbox's middleware started on it; ``count``: the sandbox's limiter counted it
  (with its fixed second and minute window numbers and the counts it had seen in them);
* ``answer``: the client read the answer (status, headers).

The sandbox side is recorded by wrapping its limiter in the sandbox process and echoed back in
``X-Trace-*`` answer headers. Prints a summary: delays admit->count, the 429s with their
neighbours, and the client's own sliding-window view at each refused request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import bench_walks
from bench_export import PAGE, SCALE, ScaledClock, ServerOptions, Statuses, scaled_limiter

from awork_async import AworkClient, Hooks, LocalRateLimiter
from awork_async.export import KeysetWalk

_STATE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "trace_state", default=None
)
#: What the request is for: ``window`` (a keyset window) or ``offset N`` (a partition start).
_KIND: contextvars.ContextVar[str] = contextvars.ContextVar("trace_kind", default="")


def _traced_serve(options: ServerOptions, conn: Connection) -> None:
    """The sandbox process of bench_export, its limiter reporting what it counted and when."""
    import bench_export

    import awork_async.sandbox.app as app_module
    from awork_async.sandbox.ratelimit import FixedWindowRateLimiter

    assert options.clock is not None
    clock = options.clock
    from aiohttp import web_protocol

    arrived: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
        "arrived", default=(-1.0, -1.0)
    )
    check_auth = app_module._check_auth
    data_received = web_protocol.RequestHandler.data_received

    reads: dict[int, float] = {}  # protocol id -> when its loop last read a request

    def traced_data_received(self: Any, data: bytes) -> None:
        reads[id(self)] = clock()
        data_received(self, data)

    def traced_check_auth(request: Any, token: str) -> None:
        arrived.set((reads.get(id(request.protocol), -1.0), clock()))
        check_auth(request, token)

    hit = FixedWindowRateLimiter.hit

    def traced_hit(self: FixedWindowRateLimiter) -> Any:
        now = clock()
        decision = hit(self)
        decision.headers.update(
            {
                "X-Trace-Read": repr(arrived.get()[0]),
                "X-Trace-Arrive": repr(arrived.get()[1]),
                "X-Trace-Count": repr(now),
                "X-Trace-Second-Count": str(self._second_count),
                "X-Trace-Minute-Count": str(self._minute_count),
            }
        )
        return decision

    app_module._check_auth = traced_check_auth  # type: ignore[assignment]
    web_protocol.RequestHandler.data_received = traced_data_received  # type: ignore[method-assign]
    FixedWindowRateLimiter.hit = traced_hit  # type: ignore[method-assign]
    bench_export._serve(options, conn)


class TracedSandboxProcess(bench_walks.SandboxProcess):  # type: ignore[misc]
    def __init__(self, options: ServerOptions) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_traced_serve, args=(options, child), daemon=True)


class TracingLimiter:
    """Wraps the benchmark's limiter: records want/admit per attempt, and the answer."""

    def __init__(self, inner: LocalRateLimiter, clock: ScaledClock, log: list[dict[str, Any]]):
        self.inner, self.clock, self.log = inner, clock, log

    async def acquire(self, *, request: Any = None) -> None:
        want = self.clock()
        await self.inner.acquire()
        state = {
            "want": want,
            "admit": self.clock(),
            "path": request.path if request else "",
            "kind": _KIND.get(),
        }
        _STATE.set(state)

    def observe(self, status: int, headers: Mapping[str, str], *, rate_limit: Any = None) -> None:
        state = _STATE.get()
        record: dict[str, Any] = dict(state or {})
        record["answer"] = self.clock()
        record["status"] = status
        for name in ("X-Trace-Read", "X-Trace-Arrive", "X-Trace-Count"):
            if name in headers:
                record[name[8:].lower()] = float(headers[name])
        for name in (
            "X-Trace-Second-Count",
            "X-Trace-Minute-Count",
            "Retry-After",
            "X-RateLimit-Remaining-Second",
            "X-RateLimit-Remaining-Minute",
        ):
            if name in headers:
                record[name.lower()] = int(headers[name])
        self.log.append(record)
        self.inner.observe(status, headers, rate_limit=rate_limit)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.contextmanager
def _kinds() -> Iterator[None]:
    """Tag each walk request with what it is for (``kind`` in the log)."""
    fetch, offset = KeysetWalk._fetch, KeysetWalk._fetch_offset

    async def tagged_fetch(walk: KeysetWalk, *args: Any, **kwargs: Any) -> Any:
        _KIND.set("window")
        return await fetch(walk, *args, **kwargs)

    async def tagged_offset(walk: KeysetWalk, cursor: Any, page: int, size: int) -> Any:
        _KIND.set(f"offset {page}x{size}")
        return await offset(walk, cursor, page, size)

    KeysetWalk._fetch = tagged_fetch  # type: ignore[method-assign]
    KeysetWalk._fetch_offset = tagged_offset  # type: ignore[method-assign]
    try:
        yield
    finally:
        KeysetWalk._fetch, KeysetWalk._fetch_offset = fetch, offset  # type: ignore[method-assign]


def traced_run(mode: str, latency: float, entries: int, duration: float) -> list[dict[str, Any]]:
    origin = time.monotonic() + 12.0 + entries / 40_000
    clock = ScaledClock(origin=origin, scale=SCALE)
    options = ServerOptions(entries=entries, clock=clock, latency=latency)  # real, as bench_walks
    log: list[dict[str, Any]] = []
    with TracedSandboxProcess(options) as (url, token):

        async def run() -> None:
            statuses = Statuses()

            async def on_request(_event: Any) -> None:
                state = _STATE.get()
                if state is not None:
                    state["sent"] = clock()

            async def on_headers_sent(*_: Any) -> None:
                state = _STATE.get()
                if state is not None:
                    state["wrote"] = clock()

            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(on_headers_sent)
            session = aiohttp.ClientSession(trace_configs=[trace])
            hooks = Hooks(on_request=[on_request], on_response=statuses.hooks().on_response)
            limiter = TracingLimiter(scaled_limiter(clock), clock, log)
            async with (
                session,
                AworkClient(
                    token, base_url=url, rate_limiter=limiter, hooks=hooks, session=session
                ) as c,
            ):
                await asyncio.sleep(max(0.0, origin - time.monotonic()))
                deadline = time.monotonic() + duration
                seen = [0]
                with _kinds():
                    while time.monotonic() < deadline:
                        await bench_walks.PASSES[mode](c, deadline, seen)
            print(f"{mode} {latency} s: {seen[0]:,} entries, statuses {dict(statuses.counts)}")

        asyncio.run(run())
    return log


def summarize(log: list[dict[str, Any]]) -> None:
    counted = [r for r in log if "count" in r]
    delays = sorted(r["count"] - r["admit"] for r in counted)
    sends = sorted(r["wrote"] - r["admit"] for r in counted if "wrote" in r)
    reads = sorted(r["read"] - r["wrote"] for r in counted if "wrote" in r)
    arrive = sorted(r["arrive"] - r["read"] for r in counted)
    wait = sorted(r["count"] - r["arrive"] for r in counted)

    def q(xs: list[float]) -> str:
        if not xs:
            return "-"
        pick = [xs[int(p * (len(xs) - 1))] for p in (0.0, 0.5, 0.9, 0.99, 1.0)]
        return " / ".join(f"{x / SCALE * 1000:.1f}" for x in pick)

    print(f"{len(log)} attempts, {len(counted)} counted by the sandbox limiter")
    print("real ms, min / median / p90 / p99 / max:")
    print(f"  admit -> wrote  {q(sends)}   (client: headers written to the socket)")
    print(f"  wrote -> read   {q(reads)}   (sandbox: its loop read the request)")
    print(f"  read -> arrive  {q(arrive)}   (sandbox: middleware started)")
    print(f"  arrive -> count {q(wait)}")
    print(f"  admit -> count  {q(delays)}")
    by_count = sorted(counted, key=lambda r: r["count"])
    for r in by_count:
        if r["status"] != 429:
            continue
        t = r["count"]
        second = int(t // 1)
        same = [x for x in by_count if int(x["count"] // 1) == second and x["status"] != 429]
        print(
            f"429 at count {t:.3f} (second window {second}, minute {int(t // 60)}), "
            f"admit {r['admit']:.3f}, path {r.get('path')}, retry-after {r.get('retry-after')}, "
            f"remaining s/m {r.get('x-ratelimit-remaining-second')}/"
            f"{r.get('x-ratelimit-remaining-minute')}"
        )
        for x in same:
            print(
                f"    counted {x['count']:.3f} admitted {x['admit']:.3f} "
                f"(delay {(x['count'] - x['admit']) / SCALE * 1000:.0f} ms real)"
            )
        admits = sorted(x["admit"] for x in log if "admit" in x)
        lo = [a for a in admits if r["admit"] - 1.3 < a <= r["admit"]]
        print(f"    client admissions in (admit-1.3, admit]: {len(lo)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="export", choices=bench_walks.MODES)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    log = traced_run(args.mode, args.latency, args.entries, args.duration)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in log))
    summarize(log)
    _ = statistics, PAGE


if __name__ == "__main__":
    main()
