"""Tests for the pure rate limit header parsing (notes §4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from awork_async._constants import MAX_PLAUSIBLE_RATE_LIMIT_WAIT
from awork_async._ratelimit_headers import RateLimitInfo, parse_retry_after

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)

DOCS_EXAMPLE = {
    "ratelimit-limit": "50",
    "ratelimit-remaining": "49",
    "ratelimit-reset": "47",
    "x-ratelimit-limit-second": "50",
    "x-ratelimit-remaining-second": "49",
    "x-ratelimit-limit-minute": "1000",
    "x-ratelimit-remaining-minute": "998",
}


def test_docs_example_lowercase() -> None:
    info = RateLimitInfo.from_headers(DOCS_EXAMPLE)
    assert info == RateLimitInfo(
        limit=50,
        remaining=49,
        reset=47.0,
        second_limit=50,
        second_remaining=49,
        minute_limit=1000,
        minute_remaining=998,
        retry_after=None,
    )
    assert not info.is_empty


def test_capitalised_names_in_plain_dict() -> None:
    headers = {
        "RateLimit-Limit": "1000",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "12",
        "X-RateLimit-Remaining-Minute": "0",
        "Retry-After": "3",
    }
    info = RateLimitInfo.from_headers(headers)
    assert (info.limit, info.remaining, info.reset) == (1000, 0, 12.0)
    assert info.minute_remaining == 0
    assert info.retry_after == 3.0
    assert info.second_remaining is None


def test_aiohttp_style_multidict_first_value_wins() -> None:
    raw: CIMultiDict[str] = CIMultiDict()
    raw.add("X-RATELIMIT-REMAINING-SECOND", "7")
    raw.add("x-ratelimit-remaining-second", "3")
    info = RateLimitInfo.from_headers(CIMultiDictProxy(raw))
    assert info.second_remaining == 7


def test_no_headers_is_empty() -> None:
    info = RateLimitInfo.from_headers({"content-type": "application/json"})
    assert info.is_empty
    assert info.suggested_wait() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50),
        (" 50 ", 50),
        ("50.0", 50),
        ("50, 1000", 50),
        ("abc", None),
        ("-1", None),
        ("", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_count_values(value: str, expected: int | None) -> None:
    assert RateLimitInfo.from_headers({"RateLimit-Remaining": value}).remaining == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("47", 47.0), ("0.25", 0.25), ("x", None), ("-3", None)]
)
def test_reset_values(value: str, expected: float | None) -> None:
    assert RateLimitInfo.from_headers({"RateLimit-Reset": value}).reset == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90", 90.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-5", None),
        ("", None),
        ("soon", None),
        ("12abc", None),
        (None, None),
    ],
)
def test_retry_after_delta_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_http_date_in_future() -> None:
    value = "Sat, 01 Mar 2025 12:00:30 GMT"
    assert parse_retry_after(value, NOW) == 30.0


def test_retry_after_http_date_in_past_is_zero() -> None:
    assert parse_retry_after("Sat, 01 Mar 2025 11:59:00 GMT", NOW) == 0.0


def test_retry_after_naive_now_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", naive) == 60.0


def test_retry_after_date_defaults_to_current_time() -> None:
    soon = datetime.now(timezone.utc) + timedelta(seconds=60)
    value = soon.strftime("%a, %d %b %Y %H:%M:%S GMT")
    wait = parse_retry_after(value)
    assert wait is not None
    assert 0 < wait <= 60


def test_retry_after_from_headers_uses_now() -> None:
    info = RateLimitInfo.from_headers({"Retry-After": "Sat, 01 Mar 2025 12:00:10 GMT"}, now=NOW)
    assert info.retry_after == 10.0


def test_suggested_wait_prefers_retry_after() -> None:
    assert RateLimitInfo(reset=40.0, retry_after=2.0).suggested_wait() == 2.0
    assert RateLimitInfo(reset=40.0).suggested_wait() == 40.0


# -- hostile values: beyond any plausible window, ignored as noise (issue 9 §3) ------------------

HOSTILE_WAITS = ["1e12", "1e308", "-1", "nan", "inf", "-inf", "91", "86400", "1e400"]


@pytest.mark.parametrize("value", HOSTILE_WAITS)
def test_implausible_waits_are_ignored(value: str) -> None:
    info = RateLimitInfo.from_headers(
        {"Retry-After": value, "RateLimit-Reset": value, "RateLimit-Remaining": "0"}
    )
    assert info.retry_after is None
    assert info.reset is None
    assert info.suggested_wait() is None
    assert info.remaining == 0  # the rest of the answer is still read


def test_plausible_bound_is_a_minute_window_plus_margin() -> None:
    assert MAX_PLAUSIBLE_RATE_LIMIT_WAIT >= 60.0
    edge = f"{MAX_PLAUSIBLE_RATE_LIMIT_WAIT:g}"
    assert parse_retry_after(edge, NOW) == MAX_PLAUSIBLE_RATE_LIMIT_WAIT
    assert RateLimitInfo.from_headers({"RateLimit-Reset": edge}).reset == (
        MAX_PLAUSIBLE_RATE_LIMIT_WAIT
    )


def test_http_date_far_in_the_future_is_ignored() -> None:
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW) is None
    assert parse_retry_after("Sat, 01 Mar 2025 13:00:00 GMT", NOW) is None  # an hour
