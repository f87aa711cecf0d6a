"""The retry policy: decisions (pure) and the tenacity-driven loop with a fake sleep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
import tenacity
from _helpers import FakeSleep
from hypothesis import given
from hypothesis import strategies as st

from awork_async._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    make_status_error,
)
from awork_async._retry import RetryEvent, RetryPolicy, retry_reason

URL = "https://api.awork.com/api/v1/timeentries"
SECRET = "tok-SECRET-123"


def status_error(
    status: int, headers: Mapping[str, str] | None = None, method: str = "GET"
) -> APIStatusError:
    return make_status_error(status, dict(headers or {}), b"", method=method, url=URL)


def scripted(
    outcomes: Sequence[BaseException | str],
) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """An attempt function that raises or returns the scripted outcomes in turn."""
    calls = [0]

    async def fn() -> str:
        outcome = outcomes[min(calls[0], len(outcomes) - 1)]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return fn, calls


def policy(**kwargs: object) -> RetryPolicy:
    kwargs.setdefault("random", lambda: 0.0)
    return RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- 429 -------------------------------------------------------------------------------------


async def test_retry_after_wins_over_ratelimit_reset() -> None:
    sleep = FakeSleep()
    error = status_error(429, {"Retry-After": "7", "RateLimit-Reset": "20"})
    fn, calls = scripted([error, "ok"])
    assert await policy().call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert sleep.waits == [7.0]
    assert calls[0] == 2


async def test_ratelimit_reset_used_without_retry_after() -> None:
    sleep = FakeSleep()
    fn, _ = scripted([status_error(429, {"ratelimit-reset": "12"}), "ok"])
    assert await policy().call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert sleep.waits == [12.0]


async def test_retry_after_http_date_uses_injected_clock() -> None:
    now = 1_700_000_000.0
    when = format_datetime(datetime.fromtimestamp(now + 30, timezone.utc), usegmt=True)
    sleep = FakeSleep()
    fn, _ = scripted([status_error(429, {"Retry-After": when}), "ok"])
    await policy(clock=lambda: now).call(fn, method="GET", url=URL, sleep=sleep)
    assert sleep.waits == [pytest.approx(30.0)]


async def test_429_without_headers_uses_backoff() -> None:
    sleep = FakeSleep()
    fn, _ = scripted([status_error(429), status_error(429), "ok"])
    await policy(backoff_initial=2.0).call(fn, method="GET", url=URL, sleep=sleep)
    assert sleep.waits == [2.0, 4.0]


async def test_429_uses_retry_after_attribute_when_headers_are_missing() -> None:
    error = RateLimitError(retry_after=3.5, status=429, method="GET", url=URL)
    assert policy().decide(method="GET", error=error, attempt=1) == 3.5


async def test_429_wait_above_cap_raises_with_retry_after() -> None:
    sleep = FakeSleep()
    error = status_error(429, {"Retry-After": "60"})
    fn, calls = scripted([error, "ok"])
    with pytest.raises(RateLimitError) as info:
        await policy(max_retry_wait=30).call(fn, method="GET", url=URL, sleep=sleep)
    assert info.value is error
    assert info.value.retry_after == 60.0
    assert "retry after 60s" in str(info.value)
    assert sleep.waits == []
    assert calls[0] == 1


async def test_429_wait_at_the_cap_is_slept_through() -> None:
    sleep = FakeSleep()
    fn, _ = scripted([status_error(429, {"Retry-After": "60"}), "ok"])
    assert await policy(max_retry_wait=60).call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert sleep.waits == [60.0]


async def test_post_is_retried_on_429() -> None:
    sleep = FakeSleep()
    fn, calls = scripted([status_error(429, {"Retry-After": "1"}, method="POST"), "created"])
    assert await policy().call(fn, method="POST", url=URL, sleep=sleep) == "created"
    assert calls[0] == 2


async def test_429_gives_up_after_max_attempts_with_retry_after() -> None:
    sleep = FakeSleep()
    fn, calls = scripted([status_error(429, {"Retry-After": "2"})])
    with pytest.raises(RateLimitError) as info:
        await policy(max_attempts=3).call(fn, method="GET", url=URL, sleep=sleep)
    assert calls[0] == 3
    assert sleep.waits == [2.0, 2.0]
    assert info.value.retry_after == 2.0


# -- 5xx, connection errors, timeouts ---------------------------------------------------------


async def test_get_is_retried_on_5xx_with_exponential_backoff() -> None:
    sleep = FakeSleep()
    fn, calls = scripted([status_error(503), status_error(502), status_error(500), "ok"])
    assert await policy().call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert calls[0] == 4


async def test_get_is_retried_on_read_timeout() -> None:
    sleep = FakeSleep()
    timeout = APITimeoutError("read timeout", method="GET", url=URL, request_sent=True)
    fn, calls = scripted([timeout, "ok"])
    assert await policy().call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert calls[0] == 2


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD", "OPTIONS", "get"])
async def test_other_idempotent_methods_are_retried_on_5xx(method: str) -> None:
    fn, calls = scripted([status_error(504, method=method.upper()), "ok"])
    assert await policy().call(fn, method=method, url=URL, sleep=FakeSleep()) == "ok"
    assert calls[0] == 2


async def test_post_is_not_retried_after_read_timeout() -> None:
    timeout = APITimeoutError("read timeout", method="POST", url=URL, request_sent=True)
    fn, calls = scripted([timeout, "ok"])
    with pytest.raises(APITimeoutError):
        await policy().call(fn, method="POST", url=URL, sleep=FakeSleep())
    assert calls[0] == 1


@pytest.mark.parametrize(
    "error",
    [
        APIConnectionError("refused", method="POST", url=URL, request_sent=False),
        APITimeoutError("connect timeout", method="POST", url=URL, request_sent=False),
    ],
)
async def test_post_is_retried_when_the_request_never_left(error: APIConnectionError) -> None:
    sleep = FakeSleep()
    fn, calls = scripted([error, "created"])
    assert await policy().call(fn, method="POST", url=URL, sleep=sleep) == "created"
    assert calls[0] == 2
    assert sleep.waits == [0.5]


async def test_post_5xx_is_not_retried() -> None:
    fn, calls = scripted([status_error(503, method="POST"), "ok"])
    with pytest.raises(ServerError):
        await policy().call(fn, method="POST", url=URL, sleep=FakeSleep())
    assert calls[0] == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_outcome_unknown_is_never_retried(method: str) -> None:
    error = OutcomeUnknownError("lost", method=method, url=URL, request_sent=False)
    fn, calls = scripted([error, "ok"])
    with pytest.raises(OutcomeUnknownError):
        await policy().call(fn, method=method, url=URL, sleep=FakeSleep())
    assert calls[0] == 1


async def test_idempotent_override_retries_a_post() -> None:
    fn, calls = scripted([status_error(503, method="POST"), "paused"])
    result = await policy().call(fn, method="POST", url=URL, sleep=FakeSleep(), idempotent=True)
    assert result == "paused"
    assert calls[0] == 2


async def test_idempotent_override_can_forbid_retrying_a_get() -> None:
    fn, calls = scripted([status_error(503), "ok"])
    with pytest.raises(ServerError):
        await policy().call(fn, method="GET", url=URL, sleep=FakeSleep(), idempotent=False)
    assert calls[0] == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
async def test_other_statuses_are_never_retried(status: int) -> None:
    error = status_error(status)
    fn, calls = scripted([error, "ok"])
    with pytest.raises(APIStatusError) as info:
        await policy().call(fn, method="GET", url=URL, sleep=FakeSleep())
    assert info.value is error
    assert calls[0] == 1


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        ResponseTooLargeError("too big", status=200, limit=10, method="GET", url=URL),
        APIResponseValidationError("bad json", status=200, method="POST", url=URL),
    ],
)
async def test_unrelated_exceptions_are_not_retried(error: Exception) -> None:
    fn, calls = scripted([error, "ok"])
    method = getattr(error, "method", "GET")
    with pytest.raises(type(error)):
        await policy().call(fn, method=method, url=URL, sleep=FakeSleep())
    assert calls[0] == 1


async def test_a_2xx_that_is_not_the_promised_json_is_retried_for_idempotent_calls() -> None:
    sleep = FakeSleep()
    error = APIResponseValidationError("bad json", status=200, method="GET", url=URL)
    fn, calls = scripted([error, error, "ok"])
    assert await policy().call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert calls[0] == 3
    assert sleep.waits == [0.5, 1.0]


async def test_max_attempts_then_the_original_exception() -> None:
    sleep = FakeSleep()
    errors = [status_error(503) for _ in range(4)]
    fn, calls = scripted(errors)
    with pytest.raises(ServerError) as info:
        await policy(max_attempts=4).call(fn, method="GET", url=URL, sleep=sleep)
    assert not isinstance(info.value, tenacity.RetryError)
    assert info.value is errors[-1]
    assert calls[0] == 4
    assert sleep.waits == [0.5, 1.0, 2.0]


async def test_max_attempts_one_disables_retries() -> None:
    fn, calls = scripted([status_error(503), "ok"])
    with pytest.raises(ServerError):
        await policy(max_attempts=1).call(fn, method="GET", url=URL, sleep=FakeSleep())
    assert calls[0] == 1


async def test_wait_that_does_not_fit_the_deadline_is_not_started() -> None:
    sleep = FakeSleep()
    fn, calls = scripted([status_error(429, {"Retry-After": "30"}), "ok"])
    with pytest.raises(RateLimitError) as info:
        await policy().call(fn, method="GET", url=URL, sleep=sleep, time_left=lambda: 10.0)
    assert calls[0] == 1
    assert sleep.waits == []
    assert info.value.retry_after == 30.0


async def test_deadline_with_room_does_not_block_retries() -> None:
    fn, calls = scripted([status_error(503), "ok"])
    result = await policy().call(
        fn, method="GET", url=URL, sleep=FakeSleep(), time_left=lambda: 10.0
    )
    assert result == "ok"
    assert calls[0] == 2


# -- backoff and jitter ------------------------------------------------------------------------


def test_backoff_is_capped() -> None:
    p = policy(backoff_initial=1.0, backoff_max=5.0)
    assert [p.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert p.backoff(10_000) == 5.0


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 4.0), (0.5, 3.5), (0.999999, 3.000001)])
def test_jitter_uses_the_injected_random(rand: float, expected: float) -> None:
    p = policy(backoff_initial=1.0, jitter=0.25, random=lambda: rand)
    assert p.backoff(3) == pytest.approx(expected)


@given(
    attempt=st.integers(min_value=1, max_value=200),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_backoff_stays_within_the_jitter_bounds(attempt: int, rand: float, jitter: float) -> None:
    p = RetryPolicy(max_attempts=1000, jitter=jitter, random=lambda: rand)
    base = min(p.backoff_max, p.backoff_initial * 2 ** (attempt - 1))
    wait = p.decide(method="GET", error=status_error(500), attempt=attempt)
    assert wait is not None
    assert base * (1 - jitter) - 1e-9 <= wait <= base + 1e-9


def test_decide_gives_up_at_max_attempts() -> None:
    p = policy(max_attempts=3)
    error = status_error(500)
    assert p.decide(method="GET", error=error, attempt=2) == 1.0
    assert p.decide(method="GET", error=error, attempt=3) is None


def test_decide_never_retries_base_exceptions() -> None:
    p = policy()
    assert p.decide(method="GET", error=asyncio.CancelledError(), attempt=1) is None
    assert p.decide(method="GET", error=KeyboardInterrupt(), attempt=1) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"backoff_initial": -1},
        {"backoff_max": float("inf")},
        {"max_retry_wait": float("nan")},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_methods_are_normalised() -> None:
    p = RetryPolicy(idempotent_methods={"get", "Put"})
    assert p.is_idempotent("GET")
    assert p.is_idempotent("put")
    assert not p.is_idempotent("DELETE")


# -- cancellation ----------------------------------------------------------------------------


async def test_cancellation_during_backoff_leaves_no_task_running() -> None:
    entered = asyncio.Event()
    never = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        entered.set()
        await never.wait()

    fn, calls = scripted([status_error(503), "ok"])
    before = asyncio.all_tasks()
    task = asyncio.create_task(policy().call(fn, method="GET", url=URL, sleep=blocking_sleep))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert asyncio.all_tasks() == before
    assert calls[0] == 1


async def test_cancelled_attempt_is_not_retried() -> None:
    sleep = FakeSleep()
    fn, calls = scripted([asyncio.CancelledError(), "ok"])
    with pytest.raises(asyncio.CancelledError):
        await policy().call(fn, method="GET", url=URL, sleep=sleep)
    assert calls[0] == 1
    assert sleep.waits == []


class _Abort(BaseException):
    pass


async def test_other_base_exceptions_propagate_unretried() -> None:
    fn, calls = scripted([_Abort(), "ok"])
    with pytest.raises(_Abort):
        await policy().call(fn, method="GET", url=URL, sleep=FakeSleep())
    assert calls[0] == 1


# -- events and logging ----------------------------------------------------------------------


async def test_on_retry_receives_events() -> None:
    events: list[RetryEvent] = []
    first, second = status_error(503), status_error(429, {"Retry-After": "4"})
    fn, _ = scripted([first, second, "ok"])
    await policy().call(fn, method="get", url=URL, sleep=FakeSleep(), on_retry=events.append)
    assert events == [
        RetryEvent(attempt=1, wait=0.5, error=first, method="GET", url=URL),
        RetryEvent(attempt=2, wait=4.0, error=second, method="GET", url=URL),
    ]
    assert events[1].reason == "429"


async def test_async_on_retry_is_awaited() -> None:
    seen: list[int] = []

    async def hook(event: RetryEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.attempt)

    fn, _ = scripted([status_error(503), status_error(503), "ok"])
    await policy().call(fn, method="GET", url=URL, sleep=FakeSleep(), on_retry=hook)
    assert seen == [1, 2]


def test_retry_reason() -> None:
    coded = make_status_error(503, {}, b'{"code":"server-busy"}', method="GET", url=URL)
    assert retry_reason(coded) == "503 server-busy"
    assert retry_reason(APITimeoutError("t")) == "APITimeoutError"


async def test_retries_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    error = make_status_error(
        503,
        {"Set-Cookie": SECRET, "Authorization": f"Bearer {SECRET}"},
        f'{{"description": "{SECRET}"}}'.encode(),
        method="GET",
        url=URL,
    )
    fn, _ = scripted([error, "ok"])
    with caplog.at_level(logging.INFO, logger="awork_async"):
        await policy().call(fn, method="GET", url=URL, sleep=FakeSleep())
    records = [r for r in caplog.records if r.name == "awork_async"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "GET" in message
    assert URL in message
    assert "503" in message
    assert "attempt 1/5" in message
    assert "0.50s" in message
    assert SECRET not in caplog.text
    assert record.__dict__["awork_attempt"] == 1
    assert record.__dict__["awork_wait"] == 0.5


async def test_giving_up_on_a_429_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    fn, _ = scripted([status_error(429, {"Retry-After": "60"})])
    with caplog.at_level(logging.INFO, logger="awork_async"), pytest.raises(RateLimitError):
        await policy(max_retry_wait=30).call(fn, method="GET", url=URL, sleep=FakeSleep())
    assert "not retrying GET" in caplog.text
    assert "wait exceeds cap" in caplog.text


@pytest.mark.parametrize("value", ["1e12", "1e308", "inf", "nan", "-1"])
async def test_implausible_retry_after_is_noise_not_a_wait(value: str) -> None:
    """A hostile ``Retry-After`` neither freezes the call nor makes it give up: backoff."""
    sleep = FakeSleep()
    error = status_error(429, {"Retry-After": value, "RateLimit-Reset": value})
    fn, _ = scripted([error, "ok"])
    assert await policy(backoff_initial=0.5).call(fn, method="GET", url=URL, sleep=sleep) == "ok"
    assert sleep.waits == [0.5]
