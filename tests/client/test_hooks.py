"""Observability hooks: sync and async callbacks, failure isolation, event contents."""

from __future__ import annotations

import asyncio
import logging
import re

import attrs
import pytest
from _helpers import FakeClock, no_sleep
from aioresponses import aioresponses

from awork_async import AworkClient, LocalRateLimiter, NotFoundError
from awork_async._exceptions import APITimeoutError, make_status_error
from awork_async._hooks import (
    ErrorEvent,
    Hooks,
    RateLimitWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    emit,
)
from awork_async._response import RawResponse
from awork_async._retry import RetryPolicy

URL = "https://api.awork.com/api/v1/timeentries"


async def test_sync_and_async_callbacks_run_in_order() -> None:
    seen: list[tuple[str, RequestEvent]] = []

    def sync_hook(event: RequestEvent) -> None:
        seen.append(("sync", event))

    async def async_hook(event: RequestEvent) -> None:
        await asyncio.sleep(0)
        seen.append(("async", event))

    hooks = Hooks(on_request=[sync_hook, async_hook])
    await hooks.emit_request(method="GET", url=URL, attempt=2)
    event = RequestEvent(method="GET", url=URL, attempt=2)
    assert seen == [("sync", event), ("async", event)]


async def test_failing_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[RequestEvent] = []

    def broken(event: RequestEvent) -> None:
        raise RuntimeError("hook bug")

    async def broken_async(event: RequestEvent) -> None:
        raise ValueError("async hook bug")

    with caplog.at_level(logging.WARNING, logger="awork_async"):
        await emit([broken, broken_async, seen.append], RequestEvent(method="GET", url=URL))
    assert len(seen) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "awork_async"]
    assert len(messages) == 2
    assert "broken" in messages[0]
    assert "RequestEvent" in messages[0]
    assert "hook bug" in caplog.text  # the traceback is attached


class _Stop(BaseException):
    pass


async def test_base_exceptions_from_hooks_propagate() -> None:
    def stopper(event: RequestEvent) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        await emit([stopper], RequestEvent(method="GET", url=URL))


async def test_cancellation_inside_an_async_hook_propagates() -> None:
    entered = asyncio.Event()

    async def slow(event: RequestEvent) -> None:
        entered.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(Hooks(on_request=[slow]).emit_request(method="GET", url=URL))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_response_event_from_raw_response() -> None:
    seen: list[ResponseEvent] = []
    raw = RawResponse(
        method="GET",
        url=URL,
        status=200,
        headers={"Trace-Id": "abc123", "Authorization": "Bearer SECRET"},
        elapsed=0.25,
        attempt=3,
    )
    await Hooks(on_response=[seen.append]).emit_response(raw)
    assert seen == [
        ResponseEvent(method="GET", url=URL, status=200, elapsed=0.25, attempt=3, trace_id="abc123")
    ]
    assert "SECRET" not in repr(seen[0])
    assert "headers" not in attrs.fields_dict(ResponseEvent)


async def test_error_event_exposes_status_and_trace_id() -> None:
    seen: list[ErrorEvent] = []
    error = make_status_error(
        404, {"trace-id": "t-1"}, b'{"code":"not-found"}', method="GET", url=URL
    )
    hooks = Hooks(on_error=[seen.append])
    await hooks.emit_error(method="GET", url=URL, error=error, attempt=1, elapsed=0.1)
    event = seen[0]
    assert (event.status, event.trace_id, event.reason) == (404, "t-1", "404 not-found")
    await hooks.emit_error(method="GET", url=URL, error=APITimeoutError("t"))
    assert (seen[1].status, seen[1].trace_id, seen[1].reason) == (None, None, "APITimeoutError")


async def test_retry_hooks_plug_into_the_retry_policy() -> None:
    seen: list[RetryEvent] = []
    hooks = Hooks(on_retry=[seen.append])
    calls = [0]
    error = make_status_error(503, {}, b"", method="GET", url=URL)

    async def attempt() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise error
        return "ok"

    policy = RetryPolicy(random=lambda: 0.0)
    result = await policy.call(
        attempt, method="GET", url=URL, sleep=no_sleep, on_retry=hooks.emit_retry
    )
    assert result == "ok"
    assert seen == [RetryEvent(attempt=1, wait=0.5, error=error, method="GET", url=URL)]


async def test_empty_hooks_do_nothing_and_are_falsy() -> None:
    hooks = Hooks()
    assert not hooks
    await hooks.emit_request(method="GET", url=URL)
    hooks.on_error.append(lambda event: None)
    assert hooks


def test_hooks_accept_any_iterable_and_extend() -> None:
    def a(event: RequestEvent) -> None:
        return None

    def b(event: RequestEvent) -> None:
        return None

    hooks = Hooks(on_request=(a,))
    assert hooks.on_request == [a]
    hooks.extend(Hooks(on_request=[b]))
    assert hooks.on_request == [a, b]


def test_events_are_frozen() -> None:
    event = RequestEvent(method="GET", url=URL)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.url = "x"  # type: ignore[misc]


async def test_rate_limit_waits_reach_the_on_rate_limit_wait_hooks(mocked: aioresponses) -> None:
    time = FakeClock()
    limiter = LocalRateLimiter(1, 1000, window_margin=0.5, clock=time, sleep=time.sleep)
    waits: list[RateLimitWaitEvent] = []
    quiet = Hooks(on_request=[lambda e: None])  # a client whose hooks do not ask for waits
    mocked.get(re.compile(re.escape(URL) + r"\?.*"), payload=[], repeat=True)
    async with AworkClient(
        token="tok", rate_limiter=limiter, hooks=Hooks(on_rate_limit_wait=[waits.append])
    ) as awork:
        await awork.time_entries.list().collect()
        assert waits == []  # the first request fits the window
        await awork.time_entries.list().collect()
    assert len(waits) == 1
    assert waits[0].wait == pytest.approx(1.5) == time.waits[0]
    assert (waits[0].method, waits[0].attempt) == ("GET", 1)
    assert waits[0].url.startswith(URL)
    # the same limiter in a client without wait hooks reports to no one (and still waits)
    async with AworkClient(token="tok", rate_limiter=limiter, hooks=quiet) as other:
        await other.time_entries.list().collect()
    assert len(waits) == 1
    assert len(time.waits) == 2


async def test_wait_listener_is_scoped_to_its_block() -> None:
    from awork_async._ratelimit import announce_wait, wait_listener

    heard: list[float] = []

    async def listener(seconds: float) -> None:
        heard.append(seconds)

    await announce_wait(1.0)  # no listener: nothing happens
    with wait_listener(listener):
        await announce_wait(2.0)
    await announce_wait(3.0)
    assert heard == [2.0]


async def test_response_events_never_carry_a_token_the_server_echoes(mocked: aioresponses) -> None:
    token = "sEcReT-tok-123"
    echo = {"trace-id": f"trace-{token}"}
    mocked.get(re.compile(re.escape(URL) + r"\?.*"), payload=[], headers=echo)
    mocked.get(re.compile(re.escape(URL) + r"/.*"), status=404, payload={}, headers=echo)
    events: list[ResponseEvent] = []
    errors: list[ErrorEvent] = []
    hooks = Hooks(on_response=[events.append], on_error=[errors.append])
    async with AworkClient(token=token, hooks=hooks) as awork:
        await awork.time_entries.list().collect()
        with pytest.raises(NotFoundError):
            await awork.time_entries.get("3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert [e.trace_id for e in events] == ["trace-***", "trace-***"]
    assert [e.trace_id for e in errors] == ["trace-***"]
