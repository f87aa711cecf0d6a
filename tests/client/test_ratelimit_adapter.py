"""An aiolimiter.AsyncLimiter as the client's limiter, and limiters that see the request."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from _helpers import BASE, TOKEN, FakeClock, FakeSleep
from aiolimiter import AsyncLimiter
from aioresponses import aioresponses

from awork_async import (
    AiolimiterAdapter,
    AworkClient,
    LimiterRequest,
    NoRateLimiter,
    RateLimiter,
    RetryPolicy,
)
from awork_async._ratelimit import acquire_for

#: A period so long that the bucket does not visibly drain while a test runs.
HOUR = 3600.0


def _client(limiter: object, sleep: FakeSleep | None = None) -> AworkClient:
    return AworkClient(
        token=TOKEN,
        base_url=BASE,
        rate_limiter=limiter,  # type: ignore[arg-type]
        retry=RetryPolicy(random=lambda: 0.0),
        sleep=sleep or FakeSleep(),
    )


async def test_an_async_limiter_is_wrapped_and_shares_its_budget_with_the_client() -> None:
    shared = AsyncLimiter(3, HOUR)
    async with _client(shared) as client:
        assert isinstance(client.rate_limiter, AiolimiterAdapter)
        assert client.rate_limiter.limiter is shared
        async with shared:  # the user's own awork calls elsewhere
            pass
        async with shared:
            pass
        assert shared.has_capacity()  # one unit left
        with aioresponses() as m:
            m.get(f"{BASE}/me", payload={})
            await client._transport.request("GET", "/me")
        assert not shared.has_capacity()  # the client took the last unit of the one budget
    assert shared.has_capacity(0)  # closing the client leaves the user's limiter usable


async def test_the_adapter_counts_every_attempt_including_retries() -> None:
    shared = AsyncLimiter(10, HOUR)
    async with _client(AiolimiterAdapter(shared)) as client:
        with aioresponses() as m:
            m.get(f"{BASE}/me", status=503)
            m.get(f"{BASE}/me", payload={})
            await client._transport.request("GET", "/me")
    assert not shared.has_capacity(9)  # two units taken
    assert shared.has_capacity(8)


async def test_a_429_pauses_the_adapter_until_retry_after() -> None:
    clock = FakeClock()
    adapter = AiolimiterAdapter(AsyncLimiter(100, HOUR), clock=clock, sleep=clock.sleep)
    adapter.observe(429, {"Retry-After": "7"})
    assert adapter.paused_until == 7.0
    await adapter.acquire()
    assert clock.waits == [7.0]


async def test_a_spent_window_reported_by_the_server_holds_the_adapter() -> None:
    clock = FakeClock()
    adapter = AiolimiterAdapter(AsyncLimiter(100, HOUR), clock=clock, sleep=clock.sleep, reserve=2)
    headers: Mapping[str, str] = {"RateLimit-Remaining": "1", "RateLimit-Reset": "4"}
    adapter.observe(200, headers)
    await adapter.acquire()
    assert clock.waits == [4.0]
    adapter.observe(200, {"RateLimit-Remaining": "50", "RateLimit-Reset": "4"})
    await adapter.acquire()
    assert clock.waits == [4.0]  # no new pause


def test_the_adapter_is_a_rate_limiter_and_refuses_other_objects() -> None:
    assert isinstance(AiolimiterAdapter(AsyncLimiter(1, 1)), RateLimiter)
    assert "max_rate=1" in repr(AiolimiterAdapter(AsyncLimiter(1, 1)))
    with pytest.raises(TypeError, match="AsyncLimiter"):
        AiolimiterAdapter(NoRateLimiter())  # type: ignore[arg-type]


def test_the_client_error_names_the_async_limiter_option() -> None:
    with pytest.raises(TypeError, match=r"aiolimiter\.AsyncLimiter"):
        AworkClient(token=TOKEN, rate_limiter=AsyncLimiter)  # type: ignore[arg-type]


# -- limiters that see the request ------------------------------------------------------------


class RequestAware:
    """Counts writes and reads separately (what a request-aware limiter can do)."""

    def __init__(self) -> None:
        self.seen: list[LimiterRequest] = []

    async def acquire(self, *, request: LimiterRequest | None = None) -> None:
        assert request is not None
        self.seen.append(request)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        pass

    async def aclose(self) -> None:
        pass


class Classic:
    """A limiter written before requests were passed: ``acquire()`` takes nothing."""

    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self) -> None:
        self.calls += 1

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_a_limiter_taking_request_receives_method_and_path() -> None:
    limiter = RequestAware()
    async with _client(limiter) as client:
        with aioresponses() as m:
            m.get(f"{BASE}/me?x=1", payload={})
            m.post(f"{BASE}/timeentries", payload={})
            await client._transport.request("GET", "/me", params={"x": "1"})
            await client._transport.request("POST", "/timeentries", json={})
    assert limiter.seen == [
        LimiterRequest("GET", "/api/v1/me"),
        LimiterRequest("POST", "/api/v1/timeentries"),
    ]
    assert [r.is_write for r in limiter.seen] == [False, True]


async def test_a_limiter_without_the_request_parameter_still_works() -> None:
    limiter = Classic()
    async with _client(limiter) as client:
        with aioresponses() as m:
            m.get(f"{BASE}/me", payload={})
            await client._transport.request("GET", "/me")
    assert limiter.calls == 1


async def test_acquire_for_dispatches_on_the_signature() -> None:
    request = LimiterRequest("DELETE", "/api/v1/timeentries/1")
    aware, classic = RequestAware(), Classic()
    await acquire_for(aware, request)
    await acquire_for(classic, request)
    assert aware.seen == [request]
    assert classic.calls == 1
