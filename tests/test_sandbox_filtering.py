"""Unit tests of the sandbox's pure ``filterby`` parser/compiler and ``orderby`` handling."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awork_async.sandbox.filtering import (
    Compare,
    FilterContext,
    FilterSyntaxError,
    Logical,
    Not,
    Path,
    Value,
    compile_filter,
    parse_filter,
)
from awork_async.sandbox.ordering import OrderKey, parse_orderby, sort_rows

ME = "AAAAAAAA-1111-4111-8111-000000000001"
NOW = datetime(2024, 5, 15, 13, 30, tzinfo=timezone.utc)
CTX = FilterContext(me_id=ME, now=NOW)

ROW_ID = "12345678-aaaa-4bbb-8ccc-ddddeeeeffff"
ROW: dict[str, object] = {
    "id": ROW_ID,
    "userId": ME.lower(),
    "note": "O'Brien's Design",
    "duration": 3600,
    "isBillable": True,
    "isBilled": False,
    "taskId": None,
    "startDateUtc": "2024-05-14T00:00:00Z",
    "startDateLocal": "2024-05-14T00:00:00",
    "createdOn": "2024-05-14T10:15:30.123Z",
    "project": {"name": "Website", "company": {"id": "0F0F0F0F-0000-4000-8000-000000000000"}},
}


def matches(expr: str, row: dict[str, object] = ROW, ctx: FilterContext = CTX) -> bool:
    return compile_filter(expr, ctx)(row)


def test_precedence_not_binds_tighter_than_and_tighter_than_or() -> None:
    node = parse_filter("a eq 1 or not b eq 2 and c eq 3")
    assert isinstance(node, Logical)
    assert node.op == "or"
    first, second = node.operands
    assert first == Compare("eq", Path(("a",)), Value("number", 1))
    assert isinstance(second, Logical)
    assert second.op == "and"
    assert isinstance(second.operands[0], Not)


def test_parentheses_override_precedence() -> None:
    node = parse_filter("(a eq 1 or b eq 2) and c eq 3")
    assert isinstance(node, Logical)
    assert node.op == "and"
    assert isinstance(node.operands[0], Logical)
    assert node.operands[0].op == "or"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("duration eq 3600", True),
        ("duration gt 3600", False),
        ("duration ge 3600 and duration le 3600", True),
        ("isBillable eq true and isBilled eq false", True),
        ("isBillable", True),
        ("not isBilled", True),
        ("taskId eq null", True),
        ("taskId ne null", False),
        ("note eq 'O''Brien''s Design'", True),
        ("note eq 'o''brien''s design'", True),
        ("startswith(note,'O''B')", True),
        ("endswith(note,'design')", True),
        ("substringof('brien',note)", True),
        ("substringof('nope',note)", False),
        ("tolower(note) eq 'o''brien''s design'", True),
        ("startswith(note,'x') eq false", True),
        ("project/name eq 'Website'", True),
        ("project/company/id eq guid'0f0f0f0f-0000-4000-8000-000000000000'", True),
        ("userId eq me.id", True),
        (f"id eq guid'{ROW_ID.upper()}'", True),
        (
            "startDateUtc ge datetime'2024-05-14T00:00' and startDateUtc lt datetime'2024-05-15'",
            True,
        ),
        ("startDateUtc eq datetime'2024-05-14T00:00:00Z'", True),
        ("startDateUtc eq datetime'2024-05-14T02:00:00+02:00'", True),
        ("createdOn gt datetime'2024-05-14T10:15:30'", True),
        ("startDateLocal lt datetime'2024-05-14T00:00:01'", True),
        ("startDateUtc gt today-2d", True),
        ("startDateUtc gt today", False),
        ("createdOn lt now", True),
        ("duration in (1, 3600)", True),
        ("note in ('a','b')", False),
        ("missingButAllowed eq null", True),
        ("(duration eq 1 or duration eq 3600) and not (isBilled eq true)", True),
        ("duration eq 3600.0", True),
        ("duration eq 0xE10", True),
        ("duration lt 64L", False),
        ("true", True),
        ("not not isBillable", True),
        ("note eq 1", False),
    ],
)
def test_evaluation(expr: str, expected: bool) -> None:
    assert matches(expr) is expected


def test_keywords_and_operators_are_case_insensitive() -> None:
    assert matches("duration EQ 3600 AND NOT isBilled Eq True OR false")


def test_nested_path_through_null_is_null() -> None:
    assert matches("task/name eq null")
    assert not matches("task/name eq 'x'")


def test_known_names_resolve_case_insensitively_and_reject_unknown() -> None:
    names = {"duration": "duration", "project": "project", "name": "name"}
    ctx = FilterContext(me_id=ME, now=NOW, names=names)
    assert compile_filter("DURATION eq 3600", ctx)(ROW)
    assert compile_filter("PROJECT/Name eq 'website'", ctx)(ROW)
    with pytest.raises(FilterSyntaxError, match="unknown property"):
        compile_filter("bogus eq 1", ctx)


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "   ",
        "duration eq",
        "eq 1",
        "note eq 'unterminated",
        "id eq guid'1234'",
        "startDateUtc gt datetime'yesterday'",
        "startDateUtc gt datetime'2024-13-01'",
        "duration eq 1)",
        "((duration eq 1)",
        "duration eq 1 isBilled",
        "foo(note)",
        "startswith(note)",
        "substringof('a',note,'b')",
        "userId eq me.name",
        "duration ~ 1",
        "duration eq 1; drop table",
        "members/any(p: p/name eq 'x')",
        "members/count() lt 10",
        "duration gt null",
        "'just a string'",
        "42",
        "tolower(note)",
        "note eq 'a' and",
        "not",
        "duration in ()",
        "duration in (note)",
        "duration eq 12abc",
        "note eq guid'12345678-aaaa-4bbb-8ccc-ddddeeeeffff' eq 1",
        "project/ eq 1",
        "today+ eq 1",
        "duration eq 'a' or",
        "note eq 'x' \x00",
        "(" * 200 + "duration eq 1" + ")" * 200,
        "duration eq 1 and " * 2000 + "duration eq 1",
    ],
)
def test_invalid_filters_raise_syntax_error(expr: str) -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter(expr, CTX)


def test_syntax_error_reports_position() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("duration eq 1 )")
    assert info.value.position == 14


@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        predicate = compile_filter(text, CTX)
    except FilterSyntaxError:
        return
    assert predicate(ROW) in (True, False)


@given(st.text(max_size=40))
def test_any_string_round_trips_through_escaping(value: str) -> None:
    escaped = value.replace("'", "''")
    assert matches(f"note eq '{escaped}'", {"note": value})


def test_orderby_parses_keys_directions_and_paths() -> None:
    keys = parse_orderby("startDateUtc desc,project/name,Duration ASC")
    assert keys == [
        OrderKey(("startDateUtc",), True),
        OrderKey(("project", "name"), False),
        OrderKey(("Duration",), False),
    ]


@pytest.mark.parametrize("text", ["", "a,,b", "a sideways", "a desc extra", "a/", "a-b", "x y z"])
def test_orderby_rejects_bad_syntax(text: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_orderby(text)


def test_orderby_unknown_property() -> None:
    with pytest.raises(FilterSyntaxError, match="unknown property"):
        parse_orderby("nope", {"id": "id"})
    assert parse_orderby("ID desc", {"id": "id"}) == [OrderKey(("id",), True)]


def test_sort_rows_multi_key_with_nulls() -> None:
    rows: list[dict[str, object]] = [
        {"id": 1, "p": {"n": "b"}, "d": 5},
        {"id": 2, "p": None, "d": 1},
        {"id": 3, "p": {"n": "A"}, "d": 5},
        {"id": 4, "p": {"n": "a"}, "d": 9},
    ]
    by_name = sort_rows(rows, parse_orderby("p/n,d desc"))
    assert [r["id"] for r in by_name] == [2, 4, 3, 1]
    by_d = sort_rows(rows, parse_orderby("d desc,id desc"))
    assert [r["id"] for r in by_d] == [4, 3, 1, 2]
