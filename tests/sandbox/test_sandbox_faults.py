"""Rate limiting, injected faults, concurrent changes and stats of the sandbox."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from _helpers import FakeClock
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from awork_async.sandbox import (
    FaultConfig,
    FixedWindowRateLimiter,
    RateLimitConfig,
    Sandbox,
    SandboxConfig,
)
from awork_async.sandbox._http import STATS_KEY
from awork_async.sandbox.app import build_app, sandbox_middleware

#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=120, seed=5)


def session(sb: Sandbox, timeout: aiohttp.ClientTimeout | None = None) -> aiohttp.ClientSession:
    # force_close: aiohttp silently retries an idempotent request once when a *reused*
    # connection is dropped; fresh connections make every drop visible.
    return aiohttp.ClientSession(
        headers=sb.auth_headers,
        connector=aiohttp.TCPConnector(force_close=True),
        timeout=timeout or aiohttp.ClientTimeout(total=30),
    )


# --------------------------------------------------------------------------- rate limiting


def test_limiter_windows_and_headers() -> None:
    clock = FakeClock(60.25)
    limiter = FixedWindowRateLimiter(RateLimitConfig(per_second=2, per_minute=3, clock=clock))
    first = limiter.hit()
    assert first.allowed
    assert first.headers["X-RateLimit-Remaining-Second"] == "1"
    assert first.headers["X-RateLimit-Remaining-Minute"] == "2"
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Reset"] == "1"
    assert limiter.hit().allowed
    refused = limiter.hit()
    assert not refused.allowed
    assert refused.retry_after == 1
    assert refused.headers["Retry-After"] == "1"
    clock.now = 61.0
    third = limiter.hit()
    assert third.allowed
    assert third.headers["RateLimit-Limit"] == "3"
    assert third.headers["RateLimit-Remaining"] == "0"
    clock.now = 62.5
    blocked = limiter.hit()
    assert not blocked.allowed
    assert blocked.retry_after == 58
    clock.now = 120.0
    assert limiter.hit().allowed


async def test_rate_limit_headers_and_429_over_http() -> None:
    clock = FakeClock(1000.2)
    config = SandboxConfig(
        entries=10, rate_limit=RateLimitConfig(per_second=3, per_minute=100, clock=clock)
    )
    async with Sandbox(config) as sb, session(sb) as http:
        statuses = []
        for _ in range(4):
            async with http.get(f"{sb.base_url}/me") as r:
                statuses.append(r.status)
                headers = r.headers
                for name in (
                    "RateLimit-Limit",
                    "RateLimit-Remaining",
                    "RateLimit-Reset",
                    "X-RateLimit-Limit-Second",
                    "X-RateLimit-Remaining-Second",
                    "X-RateLimit-Limit-Minute",
                    "X-RateLimit-Remaining-Minute",
                ):
                    assert name in headers
        assert statuses == [200, 200, 200, 429]
        assert headers["Retry-After"] == "1"
        assert headers["X-RateLimit-Remaining-Second"] == "0"
        clock.now += 1
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 200
            assert r.headers["X-RateLimit-Remaining-Minute"] == "96"
        assert sb.stats.rate_limited == 1
        assert sb.stats.by_status[429] == 1


async def _received(app: web.Application, token: str | None) -> web.Request:
    """A ``GET /timeentries`` as the server has read and routed it (for the middleware)."""
    request = make_mocked_request(
        "GET", "/api/v1/timeentries", headers={"Authorization": f"Bearer {token}"}, app=app
    )
    info = await app.router.resolve(request)  # as the server routes it
    info.add_app(app)
    request._match_info = info
    return request


async def test_requests_received_together_are_counted_on_arrival() -> None:
    """Two requests received at once are counted in the window they arrived in, even when
    building the first one's answer takes past the window's end (was: the second one was
    counted after it, in the next window, next to that window's own requests)."""
    clock = FakeClock(1000.5)
    config = SandboxConfig(
        entries=1, rate_limit=RateLimitConfig(per_second=1, per_minute=100, clock=clock)
    )
    app = build_app(config)

    async def slow_page(request: web.Request) -> web.StreamResponse:
        clock.now += 1.0  # building this answer took into the next window
        return web.json_response([])

    requests = [await _received(app, config.token), await _received(app, config.token)]
    first, second = await asyncio.gather(
        *(sandbox_middleware(request, slow_page) for request in requests)
    )
    assert [first.status, second.status] == [200, 429]


async def test_a_request_is_counted_on_arrival_not_after_the_latency() -> None:
    """The latency knob is the time the server takes *behind* the limit (awork's gateway
    counts a request when it arrives). One request arrives in second 1000 and one in second
    1001, one allowed per second: both pass. Was: each was counted when its latency had passed
    and this process's loop came back to it, so both landed in second 1001 (429); on a busy
    machine that turned a client's correctly spaced requests into bunches and 429s."""
    clock = FakeClock(1000.9)
    config = SandboxConfig(
        entries=1,
        rate_limit=RateLimitConfig(per_second=1, per_minute=100, clock=clock),
        faults=FaultConfig(latency=0.001),
    )
    app = build_app(config)

    async def page(request: web.Request) -> web.StreamResponse:
        return web.json_response([])

    first = asyncio.ensure_future(sandbox_middleware(await _received(app, config.token), page))
    await asyncio.sleep(0)  # the first request is read and on its way (its latency)
    clock.now = 1001.2  # the second one arrives in the next second
    second = await sandbox_middleware(await _received(app, config.token), page)
    assert [(await first).status, second.status] == [200, 200]
    assert app[STATS_KEY].rate_limited == 0


async def test_requests_read_while_answers_wait_are_counted_before_they_are_built() -> None:
    """Answers that became ready together are built one at a time, each after the loop has
    counted what arrived meanwhile. Two requests of second 1000 (the limit: 2) wait to be
    built, 0.6 s each; a third arrives, still in second 1000: it is over the limit. Was: both
    pages were built first and the third was counted in second 1001 (and, the other way
    round, requests a client spread out were bunched into one window: 429s)."""
    clock = FakeClock(1000.0)
    config = SandboxConfig(
        entries=1, rate_limit=RateLimitConfig(per_second=2, per_minute=100, clock=clock)
    )
    app = build_app(config)

    async def slow_page(request: web.Request) -> web.StreamResponse:
        clock.now += 0.6
        return web.json_response([])

    waiting = [
        asyncio.ensure_future(sandbox_middleware(await _received(app, config.token), slow_page))
        for _ in range(2)
    ]
    await asyncio.sleep(0)  # both counted; their answers are to be built next
    third = asyncio.ensure_future(sandbox_middleware(await _received(app, config.token), slow_page))
    statuses = [(await task).status for task in (*waiting, third)]
    assert statuses == [200, 200, 429]


# ---------------------------------------------------------------------------------- faults


async def test_injected_429(sb: Sandbox) -> None:
    sb.faults.inject_next("rate_limit")
    async with session(sb) as http, http.get(f"{sb.base_url}/me") as r:
        assert r.status == 429
        assert r.headers["Retry-After"] == "1"
        assert (await r.json())["traceId"] == r.headers["trace-id"]
    assert sb.stats.faults["rate_limit"] == 1


async def test_unauthenticated_requests_do_not_consume_queued_faults(sb: Sandbox) -> None:
    sb.faults.inject_next("error", status=500)
    async with aiohttp.ClientSession() as anonymous:
        for _ in range(3):
            async with anonymous.get(f"{sb.base_url}/me") as r:
                assert r.status == 401
    assert sb.stats.faults["error"] == 0
    async with session(sb) as http, http.get(f"{sb.base_url}/me") as r:
        assert r.status == 500  # the queued fault is still there for the first real request
    assert sb.stats.faults["error"] == 1
    assert sb.stats.by_status[401] == 3


async def test_injected_server_errors(sb: Sandbox) -> None:
    sb.faults.inject_next("error", status=500)
    sb.faults.inject_next("error", status=503)
    async with session(sb) as http:
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 500
            assert (await r.json())["code"] == "server-error"
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 503
            assert r.content_type == "text/html"
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 200
    assert sb.stats.faults["error"] == 2


def _booking(sb: Sandbox) -> dict[str, object]:
    """A valid time booking body (a write the stats count)."""
    return {
        "userId": sb.store.me_id,
        "startDate": "2030-01-01",
        "endDate": "2030-01-01",
        "duration": 60,
    }


async def test_dropped_connection_before_processing(sb: Sandbox) -> None:
    sb.faults.inject_next("drop")
    before = len(sb.store.time_bookings)
    form = _booking(sb)
    async with session(sb) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(f"{sb.base_url}/timebookings", json=form)
    assert len(sb.store.time_bookings) == before
    assert sb.stats.writes_total == 0


async def test_dropped_connection_after_processing_applies_the_write_once(sb: Sandbox) -> None:
    sb.faults.drop_after_processing = True
    sb.faults.inject_next("drop")
    before = len(sb.store.time_bookings)
    form = _booking(sb)
    async with session(sb) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(f"{sb.base_url}/timebookings", json=form)
    assert len(sb.store.time_bookings) == before + 1
    assert sb.stats.writes["POST /timebookings"] == 1
    assert sb.stats.undelivered == 1


async def test_truncated_body(sb: Sandbox) -> None:
    sb.faults.inject_next("truncate")
    async with (
        session(sb) as http,
        http.get(f"{sb.base_url}/timeentries", params={"pageSize": "50"}) as r,
    ):
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()


async def test_slow_response_times_out_the_client(sb: Sandbox) -> None:
    # The sandbox holds the answer for a day (its handler is cancelled when the sandbox closes), so
    # the client's read timeout fires first on any machine, however loaded: no race with the clock.
    sb.faults.slow_delay = 86_400.0
    sb.faults.inject_next("slow")
    timeout = aiohttp.ClientTimeout(sock_read=0.05)
    async with session(sb, timeout=timeout) as http:
        # asyncio.TimeoutError: on Python 3.10 it is not yet the builtin TimeoutError
        with pytest.raises(asyncio.TimeoutError):
            await http.get(f"{sb.base_url}/me")
    assert sb.stats.faults["slow"] == 1


async def test_random_faults_are_reproducible() -> None:
    async def run() -> list[int]:
        faults = FaultConfig(
            seed=11, error_rate=0.3, rate_limit_rate=0.2, error_statuses=(500, 502)
        )
        async with Sandbox(SandboxConfig(entries=5, faults=faults)) as sb, session(sb) as http:
            statuses = []
            for _ in range(25):
                async with http.get(f"{sb.base_url}/me") as r:
                    statuses.append(r.status)
            return statuses

    first, second = await run(), await run()
    assert first == second
    assert {200, 429} <= set(first)
    assert set(first) & {500, 502}


async def test_faults_switch_at_runtime_and_respect_path_filter(sb: Sandbox) -> None:
    async with session(sb) as http:
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 200
        sb.faults.error_rate = 1.0
        sb.faults.error_statuses = (500,)
        sb.faults.paths = ("/timeentries",)
        async with http.get(f"{sb.base_url}/me") as r:
            assert r.status == 200
        async with http.get(f"{sb.base_url}/timeentries") as r:
            assert r.status == 500
        sb.faults.reset()
        async with http.get(f"{sb.base_url}/timeentries") as r:
            assert r.status == 200
    with pytest.raises(ValueError, match="between 0 and 1"):
        sb.faults.error_rate = 1.5


async def test_latency_knob_still_answers(sb: Sandbox) -> None:
    sb.faults.latency = 0.001
    async with session(sb) as http, http.get(f"{sb.base_url}/me") as r:
        assert r.status == 200


# ----------------------------------------------------------------------- concurrent change


async def test_insert_while_paging_shows_shifted_pages(sb: Sandbox) -> None:
    async with session(sb) as http:
        params = {"pageSize": "50", "page": "1"}
        async with http.get(f"{sb.base_url}/timeentries", params=params) as r:
            page1 = [e["id"] for e in await r.json()]
        inserted = sb.store.insert_entries(10, position="first")
        params["page"] = "2"
        async with http.get(f"{sb.base_url}/timeentries", params=params) as r:
            page2 = [e["id"] for e in await r.json()]
            assert r.headers["aw-totalitems"] == "130"
        assert len(set(page1) & set(page2)) == 10
        assert not set(inserted) & set(page2)
        ordered = [e["id"] for e in sb.store.ordered_entries()]
        assert set(ordered[:10]) == set(inserted)

        deleted = sb.store.delete_entries(20, position="last")
        async with http.get(f"{sb.base_url}/timeentries", params={"pageSize": "1000"}) as r:
            ids = {e["id"] for e in await r.json()}
        assert len(ids) == 110
        assert not ids & set(deleted)


async def test_random_insert_and_delete(sb: Sandbox) -> None:
    version = sb.store.version
    added = sb.store.insert_entries(5)
    removed = sb.store.delete_entries(3)
    assert sb.store.version > version
    assert len(sb.store.entries) == 122
    assert all(a in sb.store.entries for a in added if a not in removed)


# ------------------------------------------------------------------------------------ stats


async def test_stats_count_requests_routes_and_writes(sb: Sandbox) -> None:
    async with session(sb) as http:
        for _ in range(3):
            async with http.get(f"{sb.base_url}/timeentries"):
                pass
        entry_id = next(iter(sb.store.entries))
        async with http.get(f"{sb.base_url}/timeentries/{entry_id}"):
            pass
        async with http.delete(f"{sb.base_url}/timeentries/{entry_id}"):
            pass
        async with http.delete(f"{sb.base_url}/timeentries/{entry_id}"):
            pass
    stats = sb.stats
    assert stats.requests == 6
    assert stats.by_route["GET /timeentries"] == 3
    assert stats.by_route["DELETE /timeentries/{timeEntryId}"] == 2
    assert stats.by_status[200] == 4
    assert stats.by_status[204] == 1
    assert stats.by_status[404] == 1
    assert stats.writes == {"DELETE /timeentries/{timeEntryId}": 1}
    stats.reset()
    assert stats.requests == 0
