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


# ------------------------------------------------------------------- node bound and fast forms


def test_filters_are_bounded_to_100_nodes() -> None:
    from awork_async.sandbox.filtering import MAX_FILTER_NODES, node_count

    chain = " or ".join(f"id eq {i}" for i in range(466))  # 5.9k characters
    with pytest.raises(FilterSyntaxError, match="1863 nodes"):
        parse_filter(chain)
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(180)]
    assert MAX_FILTER_NODES == 100
    # 25 equalities joined by 'or' (the sweep's default chunk): 25 * 3 + 24 = 99 nodes
    assert node_count(parse_filter(" or ".join(f"id eq guid'{i}'" for i in ids[:25]))) == 99
    with pytest.raises(FilterSyntaxError, match="103 nodes, more than the 100 allowed"):
        parse_filter(" or ".join(f"id eq guid'{i}'" for i in ids[:26]))
    # an 'in' list counts once, however long: 180 ids fit
    many = "id in (" + ",".join(f"guid'{i}'" for i in ids[:180]) + ")"
    assert node_count(parse_filter(many)) == 3
    assert node_count(parse_filter("not (duration eq 1) and startswith(note,'a')")) == 8


async def test_a_long_or_chain_is_400_over_http() -> None:
    import aiohttp

    from awork_async.sandbox import Sandbox, SandboxConfig

    chain = " or ".join(f"duration eq {i}" for i in range(300))  # within aiohttp's URL limit
    async with (
        Sandbox(SandboxConfig(entries=10, seed=1)) as sb,
        aiohttp.ClientSession(headers=sb.auth_headers) as http,
        http.get(f"{sb.base_url}/timeentries", params={"filterby": chain}) as r,
    ):
        body = await r.json()
    assert r.status == 400
    assert body["code"] == "invalid-filter-or-order"
    assert "more than the 100 allowed" in body["details"][0]


def test_the_client_builder_stays_within_the_bound() -> None:
    # What the library itself sends: an export window with a user filter, an 'in' list.
    from datetime import timedelta

    from awork_async.export import KeysetCursor, window_query
    from awork_async.filters import F, and_, or_
    from awork_async.sandbox.filtering import MAX_FILTER_NODES, node_count

    user = and_(
        F.user_id.in_([ME] * 150),
        F.is_billable == True,  # noqa: E712
        or_(F.note.contains("a"), F.note.startswith("b"), F.project.name == "c"),
        F.start_date_utc >= NOW - timedelta(days=30),
    )
    for cursor in (KeysetCursor(), KeysetCursor(key=NOW), KeysetCursor(key=NOW, in_group=True)):
        filterby, _ = window_query("createdOn", cursor, user)
        assert filterby is not None
        assert node_count(parse_filter(filterby)) <= MAX_FILTER_NODES // 2


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([1.5, "", "a", "A", "ab", "Ba", "2024-05-14T10:00:00Z", "2024-05-14", "x"]),
    st.sampled_from([ROW_ID, ROW_ID.upper(), "0001-01-01T00:00:00+14:00"]),
)
_LITERALS = st.sampled_from(
    [
        "null",
        "true",
        "false",
        "1",
        "-2",
        "1.5",
        "'a'",
        "'A'",
        "''",
        "'ab'",
        f"guid'{ROW_ID}'",
        "datetime'2024-05-14T10:00:00Z'",
        "datetime'2024-05-14'",
        "today",
    ]
)
_FIELDS = st.sampled_from(["a", "b", "n/c"])


@st.composite
def _atoms(draw: st.DrawFn) -> str:
    field, literal = draw(_FIELDS), draw(_LITERALS)
    shape = draw(st.integers(0, 4))
    if shape == 0:
        op = draw(st.sampled_from(["eq", "ne"] if literal == "null" else ["eq", "ne", "gt", "le"]))
        return f"{literal} {op} {field}" if draw(st.booleans()) else f"{field} {op} {literal}"
    if shape == 1:
        values = draw(st.lists(_LITERALS, min_size=1, max_size=4))
        return f"{field} in ({','.join(values)})"
    if shape == 2:
        func = draw(st.sampled_from(["startswith", "endswith"]))
        arg = draw(st.sampled_from(["'a'", "'B'", "''"]))
        wrapped = f"tolower({field})" if draw(st.booleans()) else field
        return f"{func}({wrapped},{arg})"
    if shape == 3:
        needle = draw(st.sampled_from(["'a'", "'x'"]))
        return f"substringof({needle},{field})"
    return f"{field} eq {draw(_FIELDS)}"


@st.composite
def _filters(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(_atoms(), min_size=1, max_size=6))
    joined = f" {draw(st.sampled_from(['or', 'and']))} ".join(f"({a})" for a in atoms)
    return f"not ({joined})" if draw(st.booleans()) else joined


@given(
    _filters(),
    st.fixed_dictionaries(
        {
            "a": _VALUES,
            "b": _VALUES,
            "n": st.one_of(st.none(), st.fixed_dictionaries({"c": _VALUES})),
        }
    ),
)
def test_fast_forms_answer_like_the_general_form(expr: str, row: dict[str, object]) -> None:
    # The general form: every comparison through _compare's generic code, no grouping.
    from awork_async.sandbox import filtering

    try:
        fast = compile_filter(expr, CTX)(row)
    except FilterSyntaxError:
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filtering, "_path_vs_constant", lambda node, ctx: None)
        mp.setattr(filtering, "_equality_key", lambda node, ctx: None)
        mp.setattr(filtering, "_text_search_key", lambda node, ctx: None)
        mp.setattr(filtering, "_NEGATED", {})
        general = compile_filter(expr, CTX)(row)
    assert fast is general
