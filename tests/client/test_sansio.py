"""Pure request/response helpers: base URL rules, query building, header parsing, decoding."""

from __future__ import annotations

import pytest
import yarl

from awork_async._sansio import (
    PageInfo,
    build_query,
    checked_total_items,
    decode_json,
    join_url,
    validate_base_url,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.awork.com/api/v1",
        "https://api.awork.com/api/v1/",
        "http://127.0.0.1:8080/api/v1",
        "http://localhost/api/v1",
        "http://[::1]:9000/api/v1",
        "http://127.0.0.5/api/v1",
    ],
)
def test_accepted_base_urls(url: str) -> None:
    assert not str(validate_base_url(url)).endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.awork.com/api/v1",
        "http://10.0.0.1/api/v1",
        "ftp://api.awork.com",
        "api.awork.com/api/v1",
        "https://user:pw@api.awork.com/api/v1",
        "https://api.awork.com/api/v1?x=1",
    ],
)
def test_rejected_base_urls(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        validate_base_url(url)


def test_join_url_keeps_base_path() -> None:
    base = validate_base_url("https://api.awork.com/api/v1/")
    assert str(join_url(base, "/timeentries/x")) == "https://api.awork.com/api/v1/timeentries/x"
    assert str(join_url(base, "timeentries")) == "https://api.awork.com/api/v1/timeentries"


def test_build_query_drops_none_and_lowercases_bools() -> None:
    assert build_query({"a": None, "b": True, "c": False, "d": 3, "e": "x y"}) == {
        "b": "true",
        "c": "false",
        "d": "3",
        "e": "x y",
    }
    assert build_query(None) == {}


def test_filter_value_is_encoded_once() -> None:
    value = "note eq 'a & b %26 + #?='"
    url = yarl.URL("https://x.test/p").with_query(build_query({"filterby": value}))
    assert url.query["filterby"] == value
    assert "%2526" in url.raw_query_string  # the literal %26 is itself encoded, once


def test_page_info_case_insensitive_and_tolerant() -> None:
    info = PageInfo.from_headers({"AW-Page": "2", "aw-pagesize": "100", "aw-totalitems": " 250 "})
    assert info == PageInfo(page=2, page_size=100, items=None, total_items=250)
    assert PageInfo.from_headers({"aw-totalitems": "n/a"}).total_items is None


@pytest.mark.parametrize(("status", "body"), [(204, b""), (200, b""), (200, b"  \n"), (204, b"{}")])
def test_empty_bodies_decode_to_none(status: int, body: bytes) -> None:
    assert decode_json(status, body) is None


def test_decode_json_big_int_exact() -> None:
    assert decode_json(200, b'{"resourceVersion": 637825154598057900}') == {
        "resourceVersion": 637825154598057900
    }


def test_decode_json_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        decode_json(200, b"<html>")


# -- aw-totalitems checked against its page (issue 9 §3) -----------------------------------------


@pytest.mark.parametrize(
    ("value", "page", "received", "expected"),
    [
        (None, 1, 5, None),
        ("250", 1, 100, 250),
        (" 250 ", 3, 50, 250),  # the last page: items 201..250
        ("0", 1, 0, 0),  # an empty list
        ("7", 5, 0, 7),  # a page past the end is empty: any total goes
        ("200", 2, 100, 200),
    ],
)
def test_checked_total_items_accepts_possible_totals(
    value: str | None, page: int, received: int, expected: int | None
) -> None:
    headers = {} if value is None else {"aw-totalitems": value}
    assert checked_total_items(headers, page=page, page_size=100, received=received) == expected


@pytest.mark.parametrize(
    ("value", "page", "received", "problem"),
    [
        ("-1", 1, 0, "not a non-negative integer"),
        ("-5", 1, 3, "not a non-negative integer"),
        ("1.5", 1, 1, "not a non-negative integer"),
        ("1e3", 1, 1, "not a non-negative integer"),
        ("lots", 1, 1, "not a non-negative integer"),
        ("", 1, 1, "not a non-negative integer"),
        ("\u0663", 1, 1, "not a non-negative integer"),  # a non-ASCII digit
        ("0", 1, 3, "at least 3"),  # zero while items arrive
        ("150", 2, 100, "at least 200"),  # smaller than the items received up to here
        ("99", 1, 100, "at least 100"),
    ],
)
def test_checked_total_items_rejects_impossible_totals(
    value: str, page: int, received: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        checked_total_items({"AW-TotalItems": value}, page=page, page_size=100, received=received)
