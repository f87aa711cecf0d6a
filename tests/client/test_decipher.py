"""decipher_response: one pure call reads an answer once; the request path reads its record."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from _helpers import BASE, TOKEN, FakeClock
from aioresponses import aioresponses

from awork_async import (
    APIResponseValidationError,
    AworkClient,
    LocalRateLimiter,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    _ratelimit_headers,
    _sansio,
    capture_responses,
)
from awork_async._decipher import decipher_response
from awork_async._ratelimit_headers import RateLimitInfo
from awork_async._response import RawResponse
from awork_async._sansio import PageInfo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_success_is_data_and_metadata() -> None:
    headers = {
        "aw-page": "2",
        "aw-pagesize": "10",
        "aw-totalitems": "25",
        "RateLimit-Remaining": "7",
        "trace-id": "abc",
    }
    answer = decipher_response(200, headers, b"[1, 2]", expect="array")
    assert answer.ok and answer.error is None
    assert answer.data == [1, 2]
    assert answer.page_info == PageInfo(page=2, page_size=10, total_items=25)
    assert answer.rate_limit.remaining == 7
    assert answer.trace_id == "abc"


def test_204_is_none_whatever_it_carries() -> None:
    answer = decipher_response(204, {}, b'{"x": 1}', expect="object")
    assert answer.ok and answer.data is None


@pytest.mark.parametrize(
    ("body", "expect", "problem"),
    [
        (b"<html>", None, "not valid JSON"),
        (b"{}", "array", "a JSON dict, not the JSON array"),
        (b"[]", "object", "a JSON list, not the JSON object"),
        (b"", "object", "an empty body"),
    ],
)
def test_a_2xx_that_breaks_its_promise_is_the_typed_error(
    body: bytes, expect: str | None, problem: str
) -> None:
    answer = decipher_response(200, {}, body, method="GET", url="u", expect=expect)  # type: ignore[arg-type]
    assert isinstance(answer.error, APIResponseValidationError)
    assert problem in str(answer.error)
    assert answer.data is None


def test_error_status_is_the_typed_error_with_scrubbed_trace_id() -> None:
    answer = decipher_response(
        404,
        {"trace-id": f"t-{TOKEN}"},
        b'{"code": "not-found"}',
        method="GET",
        url="u",
        secrets=[TOKEN],
    )
    assert isinstance(answer.error, NotFoundError)
    assert answer.error.trace_id == "t-***"
    assert answer.trace_id == "t-***"  # what hook events and raw responses read
    assert TOKEN not in str(answer.error)


def test_a_success_s_trace_id_is_scrubbed_too() -> None:
    answer = decipher_response(200, {"trace-id": f"t-{TOKEN}"}, b"[]", secrets=[TOKEN])
    assert answer.trace_id == "t-***"


def test_429_carries_the_servers_wait() -> None:
    answer = decipher_response(429, {"Retry-After": "Sat, 01 Mar 2025 12:00:30 GMT"}, b"", now=NOW)
    assert isinstance(answer.error, RateLimitError)
    assert answer.error.retry_after == 30.0
    assert answer.rate_limit.retry_after == 30.0


def test_raw_response_reads_the_record_not_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = decipher_response(200, {"aw-page": "1", "trace-id": "t"}, b"[]")
    raw = RawResponse.of(answer, method="GET", url="u")

    def boom(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("headers parsed again")

    monkeypatch.setattr(PageInfo, "from_headers", boom)
    monkeypatch.setattr(RateLimitInfo, "from_headers", boom)
    monkeypatch.setattr("awork_async._response.trace_id_of", boom)
    assert raw.page_info is answer.page_info
    assert raw.rate_limit is answer.rate_limit
    assert raw.trace_id == "t"


def test_hand_built_raw_response_still_reads_headers() -> None:
    raw = RawResponse(
        method="GET", url="u", status=200, headers={"traceparent": "p", "aw-page": "3"}
    )
    assert raw.trace_id == "p"
    assert raw.page_info.page == 3
    assert raw.rate_limit.is_empty


async def test_rate_limit_headers_are_parsed_once_per_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 then a 200: limiter, retry decision and raw responses share one parse each."""
    calls: list[int] = []
    original = RateLimitInfo.from_headers.__func__  # type: ignore[attr-defined]

    def counting(cls: type[RateLimitInfo], headers: object, **kwargs: object) -> RateLimitInfo:
        calls.append(1)
        return original(cls, headers, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(_ratelimit_headers.RateLimitInfo, "from_headers", classmethod(counting))
    trace_calls: list[int] = []
    original_trace = _sansio.trace_id_of

    def counting_trace(headers: object) -> str | None:
        trace_calls.append(1)
        return original_trace(headers)  # type: ignore[arg-type]

    monkeypatch.setattr("awork_async._decipher.trace_id_of", counting_trace)
    clock = FakeClock()
    limiter = LocalRateLimiter(clock=clock, sleep=clock.sleep)
    with aioresponses() as m:
        m.get(f"{BASE}/me", status=429, headers={"Retry-After": "1"}, payload={})
        m.get(f"{BASE}/me", status=200, payload={"user": {}}, headers={"trace-id": "t"})
        async with AworkClient(
            token=TOKEN,
            base_url=BASE,
            sleep=clock.sleep,
            clock=clock,
            rate_limiter=limiter,
            retry=RetryPolicy(jitter=0),
        ) as client:
            async with capture_responses() as responses:
                await client._transport.request("GET", "/me")
            assert [r.status for r in responses] == [429, 200]
            for r in responses:
                assert r.rate_limit is not None and r.page_info is not None
            assert responses[-1].trace_id == "t"
    assert len(calls) == 2  # one per answer, whoever reads it
    assert len(trace_calls) == 2
    assert 1.0 in clock.waits


def test_a_raw_array_is_split_into_each_items_json() -> None:
    body = b'[{"id": 1, "note": "caf\xc3\xa9"} , \n {"id":2}, []]'
    answer = decipher_response(200, {}, body, expect="raw-array")
    assert answer.ok
    assert answer.data == [b'{"id": 1, "note": "caf\xc3\xa9"}', b'{"id":2}', b"[]"]
    assert decipher_response(204, {}, b"", expect="raw-array").data is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'[{"id": 1}', "not valid JSON"),
        (b'[{"note": "\xff"}]', "not valid JSON"),  # msgspec skips strings unchecked
        (b'{"id": 1}', "is a JSON dict, not the JSON array"),
        (b"", "is an empty body, not the JSON array"),
    ],
)
def test_a_raw_array_that_breaks_its_promise_is_the_typed_error(body: bytes, problem: str) -> None:
    answer = decipher_response(200, {}, body, method="GET", url="u", expect="raw-array")
    assert isinstance(answer.error, APIResponseValidationError)
    assert problem in str(answer.error)
