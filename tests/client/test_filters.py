"""Tests of the typed ``filterby`` / ``orderby`` builder (awork_async.filters)."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Union

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from awork_async.filters import (
    Expr,
    F,
    Field,
    Fields,
    OrderBy,
    and_,
    asc,
    desc,
    eom,
    eow,
    me,
    not_,
    now,
    or_,
    order_by,
    raw,
    som,
    sow,
    to_filter_string,
    to_order_string,
    today,
)

UTC = dt.timezone.utc
UID = uuid.UUID("12345678-aaaa-bbbb-cccc-ddddeeeeffff")

# ----------------------------------------------------------------------- a tiny reference parser
#
# The expected server grammar (OData v2): ``not`` binds tighter than the comparison operators,
# which bind tighter than ``and``, which binds tighter than ``or``. ``not_binds_tightest=False``
# parses ``not a eq b`` as ``not (a eq b)`` instead (the other reading some parsers use); the
# builder's output must mean the same under both.

Node = tuple[object, ...]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<prefixed>(?:guid|datetime)'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*(?:[+-]\d+d)?)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", *_COMPARE}


class ParseError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ParseError(f"bad character at {pos}: {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            out.append((kind, match.group(), pos))
        pos = match.end()
    out.append(("end", "", pos))
    return out


def _unquote(literal: str) -> str:
    assert literal[0] == literal[-1] == "'"
    return literal[1:-1].replace("''", "'")


class RefParser:
    """Parses filter text into nested tuples; records the positions of grouping parentheses."""

    def __init__(self, text: str, *, not_binds_tightest: bool = True) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.tight_not = not_binds_tightest
        self.groups: list[tuple[int, int]] = []

    @property
    def tok(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def _word(self, word: str) -> bool:
        return self.tok[0] == "word" and self.tok[1] == word

    def _punct(self, ch: str) -> bool:
        return self.tok[0] == "punct" and self.tok[1] == ch

    def _expect(self, ch: str) -> int:
        if not self._punct(ch):
            raise ParseError(f"expected {ch!r}, got {self.tok}")
        pos = self.tok[2]
        self.i += 1
        return pos

    def parse(self) -> Node:
        node = self.or_()
        if self.tok[0] != "end":
            raise ParseError(f"trailing {self.tok}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self._word("or"):
            self.i += 1
            items.append(self.and_())
        return _junction("or", items)

    def and_(self) -> Node:
        operand = self.comparison if self.tight_not else self.loose_not
        items = [operand()]
        while self._word("and"):
            self.i += 1
            items.append(operand())
        return _junction("and", items)

    def loose_not(self) -> Node:
        if self._word("not"):
            self.i += 1
            return ("not", self.loose_not())
        return self.comparison()

    def comparison(self) -> Node:
        operand = self.tight_unary if self.tight_not else self.primary
        left = operand()
        if self.tok[0] == "word" and self.tok[1] in _COMPARE:
            op = self.tok[1]
            self.i += 1
            return ("cmp", op, left, operand())
        if self._word("in"):
            self.i += 1
            self._expect("(")
            values = [self.primary()]
            while self._punct(","):
                self.i += 1
                values.append(self.primary())
            self._expect(")")
            return ("in", left, tuple(values))
        return left

    def tight_unary(self) -> Node:
        if self._word("not"):
            self.i += 1
            return ("not", self.tight_unary())
        return self.primary()

    def primary(self) -> Node:
        kind, text, pos = self.tok
        if kind == "punct" and text == "(":
            self.i += 1
            node = self.or_()
            self.groups.append((pos, self._expect(")")))
            return node
        self.i += 1
        if kind == "string":
            return ("str", _unquote(text))
        if kind in ("number", "prefixed"):
            return ("lit", text)
        if kind != "word" or text in {"and", "or", "not", "in", *_COMPARE}:
            raise ParseError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return ("lit", text)
        if not self._punct("("):
            return ("path", text)
        self.i += 1
        head, _, function = text.rpartition("/")
        if head and function in ("any", "count"):
            if self._punct(")"):
                self.i += 1
                return ("lambda", head, function, None, None)
            var = self.tok[1]
            self.i += 1
            self._expect(":")
            body = self.or_()
            self._expect(")")
            return ("lambda", head, function, var, body)
        args = [self.comparison()]
        while self._punct(","):
            self.i += 1
            args.append(self.comparison())
        self._expect(")")
        return ("call", text, tuple(args))


def _junction(op: str, items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[object] = []
    for item in items:
        flat.extend(item[1] if item[0] == op else (item,))  # type: ignore[arg-type]
    return (op, tuple(flat))


def parse(text: str, *, not_binds_tightest: bool = True) -> Node:
    return RefParser(text, not_binds_tightest=not_binds_tightest).parse()


# ------------------------------------------------------------------------- brief's examples


def test_examples_from_the_issue() -> None:
    start = dt.datetime(2024, 5, 1, tzinfo=UTC)
    expr = (F.is_billable == True) & (F.user_id == UID) & (F.start_date_utc >= start)  # noqa: E712
    assert str(expr) == (
        "isBillable eq true and userId eq guid'12345678-aaaa-bbbb-cccc-ddddeeeeffff' "
        "and startDateUtc ge datetime'2024-05-01T00:00:00'"
    )
    assert str(F.project.company.id == UID) == (
        "project/company/id eq guid'12345678-aaaa-bbbb-cccc-ddddeeeeffff'"
    )
    assert str(F.note.startswith("O'Brien & co")) == "startswith(note,'O''Brien & co')"
    assert str(F.note.endswith("x")) == "endswith(note,'x')"
    assert str(F.note.contains("x")) == "substringof('x',note)"
    assert str(F.note.lower() == "abc") == "tolower(note) eq 'abc'"
    assert str(~(F.task_id == None) | (F.user_id == me.id)) == (  # noqa: E711
        "not (taskId eq null) or userId eq me.id"
    )
    assert str(order_by(desc(F.start_date_utc), F.id)) == "startDateUtc desc,id"


def test_method_forms_equal_operator_forms() -> None:
    assert F.a.eq(True) == (F.a == True)  # noqa: E712
    assert str(F.a.ne(None)) == "a ne null"
    assert str(F.a.gt(1)) == "a gt 1"
    assert str(F.a.ge(1)) == "a ge 1"
    assert str(F.a.lt(1)) == "a lt 1"
    assert str(F.a.le(1)) == "a le 1"
    assert str(F.a != 1) == "a ne 1"
    assert str(F.a > 1) == "a gt 1"
    assert str(F.a <= 1) == "a le 1"


def test_reflected_comparisons_keep_the_field_on_the_left() -> None:
    assert str(F.duration > 5) == "duration gt 5"
    assert str(F.task_id == None) == "taskId eq null"  # noqa: E711
    assert str(today >= F.due_on) == "dueOn le today"
    assert str(F.id == UID) == f"id eq guid'{UID}'"


def test_field_against_field() -> None:
    assert str(F.start_date_utc < F.end_date_utc) == "startDateUtc lt endDateUtc"
    assert str(F.name.lower() == F.other.lower()) == "tolower(name) eq tolower(other)"
    assert str(F.name.startswith(F.prefix)) == "startswith(name,prefix)"


# --------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("", "''"),
        ("'", "''''"),
        ("user's task", "'user''s task'"),
        ("''", "''''''"),
        ("awork & co", "'awork & co'"),
        ("100% done", "'100% done'"),
        ("a%26b", "'a%26b'"),
        ("C:\\path\\", "'C:\\path\\'"),
        ("Grüße 日本 😀", "'Grüße 日本 😀'"),
        ("a eq 'b' or x", "'a eq ''b'' or x'"),
        ("#?=+", "'#?=+'"),
    ],
)
def test_string_literal_escaping(value: str, literal: str) -> None:
    assert str(F.note == value) == f"note eq {literal}"
    assert parse(str(F.note == value)) == ("cmp", "eq", ("path", "note"), ("str", value))


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        F.note == "bad \ud800"  # noqa: B015


@given(st.text())
@settings(max_examples=300)
def test_hostile_strings_round_trip_through_the_literal(value: str) -> None:
    text = str(F.note.contains(value) & (F.name == value))
    literal = re.fullmatch(r"substringof\(('(?:[^']|'')*'),note\) and name eq (.*)", text, re.S)
    assert literal is not None
    assert _unquote(literal[1]) == value
    assert _unquote(literal[2]) == value
    assert parse(text) == (
        "and",
        (
            ("call", "substringof", (("str", value), ("path", "note"))),
            ("cmp", "eq", ("path", "name"), ("str", value)),
        ),
    )


def _through_yarl(text: str) -> str:
    url = URL("http://127.0.0.1/api/v1/timeentries").with_query({"filterby": text, "page": 1})
    wire = str(url)
    # The encoded value never leaks a separator of its own into the query string.
    raw_pairs = URL(wire).raw_query_string.split("&")
    assert len(raw_pairs) == 2
    assert "#" not in wire
    decoded = urllib.parse.parse_qs(URL(wire).raw_query_string, keep_blank_values=True)
    assert decoded["filterby"] == [text]  # one decoding gives the text back: no double encoding
    return URL(wire).query["filterby"]


@pytest.mark.parametrize(
    "value", ["awork & co", "100%", "a%26b", "#1", "a+b", "why?", "x=y", "ü€😀"]
)
def test_special_characters_survive_url_encoding_once(value: str) -> None:
    text = str(F.name == value)
    assert _through_yarl(text) == text
    encoded = URL("http://127.0.0.1/").with_query({"filterby": text}).raw_query_string
    if value == "awork & co":
        assert "%26" in encoded  # the docs' on-the-wire form
    if value == "a%26b":
        assert "%2526" in encoded  # a literal percent is encoded exactly once
    assert "%25" not in text  # the builder itself never percent-encodes


@given(st.text())
@settings(max_examples=200)
def test_hostile_strings_survive_url_encoding(value: str) -> None:
    text = str(F.name == value)
    assert _through_yarl(text) == text


# ------------------------------------------------------------------------------- precedence

Atom = tuple[Expr, Node]


def _atoms() -> list[Atom]:
    return [
        (F.a == 1, ("cmp", "eq", ("path", "a"), ("lit", "1"))),
        (F.b.startswith("x"), ("call", "startswith", (("path", "b"), ("str", "x")))),
        (
            F.c.any(lambda t: t.d == 2),
            ("lambda", "c", "any", "t", ("cmp", "eq", ("path", "t/d"), ("lit", "2"))),
        ),
        (
            raw("e eq 1 or f eq 2"),
            (
                "or",
                (
                    ("cmp", "eq", ("path", "e"), ("lit", "1")),
                    ("cmp", "eq", ("path", "f"), ("lit", "2")),
                ),
            ),
        ),
        (
            F.g.none(),
            ("cmp", "eq", ("lambda", "g", "any", None, None), ("lit", "false")),
        ),
    ]


def _and(x: Atom, y: Atom) -> Atom:
    return (x[0] & y[0], _junction("and", [x[1], y[1]]))


def _or(x: Atom, y: Atom) -> Atom:
    return (x[0] | y[0], _junction("or", [x[1], y[1]]))


def _not(x: Atom) -> Atom:
    node = x[1]
    return (~x[0], node[1] if node[0] == "not" else ("not", node))  # type: ignore[return-value]


def _trees(depth: int) -> Iterator[Atom]:
    if depth == 0:
        yield from _atoms()
        return
    smaller = list(_trees(depth - 1))
    yield from smaller
    for tree in smaller:
        yield _not(tree)
    for left, right in itertools.product(smaller, repeat=2):
        yield _and(left, right)
        yield _or(left, right)


def _assert_minimal_parentheses(text: str, expected: Node) -> None:
    parser = RefParser(text)
    assert parser.parse() == expected
    for start, end in parser.groups:
        stripped = text[:start] + " " + text[start + 1 : end] + " " + text[end + 1 :]
        try:
            reparsed: Node | None = parse(stripped)
        except ParseError:
            reparsed = None
        assert reparsed != expected, f"redundant parentheses at {start} in {text!r}"


def test_every_small_tree_renders_with_minimal_correct_parentheses() -> None:
    count = 0
    for expr, expected in _trees(2):
        text = str(expr)
        assert parse(text) == expected, text
        assert parse(text, not_binds_tightest=False) == expected, text
        _assert_minimal_parentheses(text, expected)
        count += 1
    assert count > 5000


def _tree_strategy() -> st.SearchStrategy[Atom]:
    leaves = st.sampled_from(_atoms())
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda pair: _and(*pair)),
            st.tuples(inner, inner).map(lambda pair: _or(*pair)),
            inner.map(_not),
        ),
        max_leaves=12,
    )


@given(_tree_strategy())
@settings(max_examples=300)
def test_deep_trees_parse_back_to_the_same_tree(tree: Atom) -> None:
    expr, expected = tree
    text = str(expr)
    assert parse(text, not_binds_tightest=False) == expected
    _assert_minimal_parentheses(text, expected)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (and_(F.a == 1, or_(F.b == 2, F.c == 3)), "a eq 1 and (b eq 2 or c eq 3)"),
        (or_(and_(F.a == 1, F.b == 2), F.c == 3), "a eq 1 and b eq 2 or c eq 3"),
        (not_(F.a == 1), "not (a eq 1)"),
        (not_(F.a.startswith("x")), "not startswith(a,'x')"),
        (not_(and_(F.a == 1, F.b == 2)), "not (a eq 1 and b eq 2)"),
        (not_(not_(F.a == 1)), "a eq 1"),
        (and_(not_(F.a == 1), F.b == 2), "not (a eq 1) and b eq 2"),
        (and_(F.a == 1, and_(F.b == 2, F.c == 3)), "a eq 1 and b eq 2 and c eq 3"),
        (or_(F.a == 1, or_(F.b == 2, F.c == 3)), "a eq 1 or b eq 2 or c eq 3"),
        (and_(F.a == 1, "b eq 2 or c eq 3"), "a eq 1 and (b eq 2 or c eq 3)"),
        ((F.a == 1) | "b eq 2", "a eq 1 or b eq 2"),
        ("b eq 2" & (F.a == 1), "(b eq 2) and a eq 1"),
        ("b eq 2" | (F.a == 1), "b eq 2 or a eq 1"),
        (and_(F.a == 1), "a eq 1"),
        (F.c.any(lambda t: (t.x == 1) | (t.y == 2)), "c/any(t: t/x eq 1 or t/y eq 2)"),
    ],
)
def test_precedence_cases(expr: Expr, text: str) -> None:
    assert str(expr) == text


def test_junctions_need_operands_of_the_right_type() -> None:
    with pytest.raises(ValueError, match="at least one"):
        and_()
    with pytest.raises(ValueError, match="at least one"):
        or_()
    with pytest.raises(TypeError, match="compare the field"):
        and_(F.a == 1, F.b)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        (F.a == 1) & True  # type: ignore[operator]
    with pytest.raises(TypeError):
        F.a & (F.b == 1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        not_(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- truth values


def test_expressions_have_no_truth_value() -> None:
    expr = F.a == 1
    with pytest.raises(TypeError, match="no truth value"):
        bool(expr)
    with pytest.raises(TypeError, match="no truth value"):
        _ = (F.a == 1) and (F.b == 2)
    with pytest.raises(TypeError, match="no truth value"):
        _ = not expr
    with pytest.raises(TypeError, match="no truth value"):
        _ = 1 < F.a < 3  # chained comparison calls bool() on the first part
    with pytest.raises(TypeError, match="no truth value"):
        bool(F.a)
    with pytest.raises(TypeError, match="no truth value"):
        _ = [x for x in (1, 2) if F.a == x]


def test_expressions_compare_and_hash_by_text() -> None:
    assert (F.a == 1) == (F.a == 1)
    assert (F.a == 1) != (F.a == 2)
    assert len({F.a == 1, F.a == 1, F.b == 1}) == 2
    assert repr(F.a == 1) == "Comparison('a eq 1')"
    assert repr(F.project.id) == "Field('project/id')"
    with pytest.raises(TypeError, match="unhashable"):
        hash(F.a)  # == builds expressions, so fields cannot be set members


def test_fields_and_expressions_are_immutable() -> None:
    field = F.a
    with pytest.raises(AttributeError):
        field._segments = ("b",)
    with pytest.raises(AttributeError):
        del field._segments
    expr = F.a == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        expr.op = "ne"  # type: ignore[attr-defined]
    assert str(F.a) == "a"  # deriving fields never changes the root
    _ = F.a.b.c
    assert str(F.a) == "a"


# ----------------------------------------------------------------------------- literals


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (0, "0"),
        (-42, "-42"),
        (2**63 - 1, "9223372036854775807"),
        (2.5, "2.5"),
        (2.0, "2.0"),
        (-0.125, "-0.125"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000.0"),
        (Decimal("2.345"), "2.345"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.50"), "-0.50"),
        (UID, "guid'12345678-aaaa-bbbb-cccc-ddddeeeeffff'"),
        (uuid.UUID("12345678-AAAA-BBBB-CCCC-DDDDEEEEFFFF"), f"guid'{UID}'"),
        (dt.date(2024, 2, 29), "datetime'2024-02-29T00:00:00'"),
        (dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "datetime'2024-05-01T12:30:00'"),
        (
            dt.datetime(2024, 5, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "datetime'2024-04-30T22:30:00'",
        ),
        (
            dt.datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC),
            "datetime'2024-05-01T08:00:00.250000'",
        ),
        (dt.datetime(1, 1, 1, tzinfo=UTC), "datetime'0001-01-01T00:00:00'"),
        (Color.RED, "'red'"),
        (Level.HIGH, "3"),
        ("text", "'text'"),
    ],
)
def test_literal_formats(value: object, literal: str) -> None:
    assert str(F.value == value) == f"value eq {literal}"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        (Decimal("NaN"), ValueError),
        (Decimal("Infinity"), ValueError),
        (2**63, ValueError),
        (-(2**63) - 1, ValueError),
        (b"bytes", TypeError),
        (dt.time(10, 0), TypeError),
        (dt.timedelta(days=1), TypeError),
        ([1, 2], TypeError),
        (object(), TypeError),
        (me, TypeError),
    ],
)
def test_unsupported_literals_are_rejected(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        F.value == value  # noqa: B015


def test_booleans_and_null_only_with_equality() -> None:
    for value in (None, True, False):
        with pytest.raises(ValueError, match="== or !="):
            F.a > value  # noqa: B015
        with pytest.raises(ValueError, match="== or !="):
            F.a.le(value)
    assert str(F.a != False) == "a ne false"  # noqa: E712


def test_cannot_compare_with_a_boolean_expression() -> None:
    with pytest.raises(TypeError, match="boolean expression"):
        F.a == (F.b == 1)  # noqa: B015


def test_naive_datetime_is_rejected_for_utc_fields() -> None:
    naive = dt.datetime(2024, 5, 1)
    with pytest.raises(ValueError, match=r"naive datetime.*start_date_utc is compared in UTC"):
        F.start_date_utc >= naive  # noqa: B015
    with pytest.raises(ValueError, match="naive datetime"):
        F.note.lower() == naive  # noqa: B015
    with pytest.raises(ValueError, match="naive datetime"):
        F.created_on.in_([naive])


def test_local_fields_take_naive_datetimes_only() -> None:
    naive = dt.datetime(2024, 5, 1, 9, 15)
    assert str(F.start_date_local >= naive) == "startDateLocal ge datetime'2024-05-01T09:15:00'"
    assert str(F.startDateLocal < naive) == "startDateLocal lt datetime'2024-05-01T09:15:00'"
    assert str(F.end_date_local == dt.date(2024, 5, 1)) == (
        "endDateLocal eq datetime'2024-05-01T00:00:00'"
    )
    with pytest.raises(ValueError, match="wall-clock"):
        F.start_date_local >= naive.replace(tzinfo=UTC)  # noqa: B015


# ------------------------------------------------------------------------------- tokens


def test_tokens() -> None:
    assert str(F.user_id == me.id) == "userId eq me.id"
    assert str(F.created_on < now) == "createdOn lt now"
    assert str(F.due_on == today) == "dueOn eq today"
    assert [str(F.d > token) for token in (sow, eow, som, eom)] == [
        "d gt sow",
        "d gt eow",
        "d gt som",
        "d gt eom",
    ]
    assert repr(me) == "me"


def test_relative_days() -> None:
    assert str(today.minus(days=30)) == "today-30d"
    assert str(today.plus(days=5)) == "today+5d"
    assert str(today - 30) == "today-30d"
    assert str(today + dt.timedelta(days=5)) == "today+5d"
    assert str(today.minus(days=-2)) == "today+2d"
    assert today.plus(days=0) is today
    assert str(F.due_on > today.minus(days=30)) == "dueOn gt today-30d"
    with pytest.raises(ValueError, match="whole days"):
        today - dt.timedelta(hours=5)
    with pytest.raises(TypeError, match="int number of days"):
        today.minus(days=True)
    with pytest.raises(TypeError, match="int number of days"):
        today.minus(days=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        today - "30"  # type: ignore[operator]


def test_raw() -> None:
    assert str(raw("duration gt 2.0f")) == "duration gt 2.0f"
    assert str(F.duration > raw("2.0f")) == "duration gt 2.0f"
    assert str(F.note.startswith(raw("'x'"))) == "startswith(note,'x')"
    with pytest.raises(ValueError, match="empty"):
        raw("  ")
    with pytest.raises(TypeError):
        raw(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ paths, functions


def test_nested_paths_and_names() -> None:
    assert str(F.project.project_status.type) == "project/projectStatus/type"
    assert str(F.startDateUtc) == "startDateUtc"
    assert str(F["count"] > 1) == "count gt 1"
    assert str(F.project["any"] == 1) == "project/any eq 1"
    with pytest.raises(ValueError, match="invalid field name"):
        F["a/b"]
    with pytest.raises(TypeError):
        F[0]  # type: ignore[index]
    with pytest.raises(AttributeError):
        F._private  # noqa: B018
    with pytest.raises(ValueError, match="select a field"):
        F == 1  # noqa: B015
    assert not hasattr(F.a, "__deepcopy__x")


def test_string_functions_take_strings() -> None:
    with pytest.raises(TypeError, match="startswith"):
        F.note.startswith(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="contains"):
        F.note.contains(None)  # type: ignore[arg-type]
    assert str(F.note.lower().startswith("abc")) == "startswith(tolower(note),'abc')"
    assert str(F.note.lower().contains("b")) == "substringof('b',tolower(note))"


def test_in() -> None:
    assert str(F.t.name.in_(["Draft", "In Progress"])) == "t/name in ('Draft','In Progress')"
    assert str(F.id.in_((UID,))) == f"id in (guid'{UID}')"
    assert str(F.n.in_(range(3))) == "n in (0,1,2)"
    with pytest.raises(ValueError, match="at least one"):
        F.n.in_([])
    with pytest.raises(TypeError):
        F.n.in_("abc")
    with pytest.raises(TypeError):
        F.n.in_(5)  # type: ignore[arg-type]


def test_collections() -> None:
    assert str(F.project.tags.any(lambda t: t.name == "x")) == "project/tags/any(t: t/name eq 'x')"
    assert str(F.tags.any()) == "tags/any()"
    assert str(F.members.count() < 10) == "members/count() lt 10"
    assert str(F.members.count(lambda m: m.first_name == "Neil") > 0) == (
        "members/count(m: m/firstName eq 'Neil') gt 0"
    )
    assert str(F.lists.none(lambda li: li.name == "Draft")) == (
        "lists/any(li: li/name eq 'Draft') eq false"
    )
    assert str(F.tags.any(lambda t: t == "x")) == "tags/any(t: t eq 'x')"
    assert str(F.tags.any(lambda t: t.name.in_(["a", "b"]))) == "tags/any(t: t/name in ('a','b'))"


def test_nested_lambdas_get_distinct_variables() -> None:
    expr = F.tasks.any(lambda t: t.tags.any(lambda t: t.name == "x") & (t.id == 1))
    assert str(expr) == "tasks/any(t: t/tags/any(t1: t1/name eq 'x') and t/id eq 1)"
    outer = F.tasks.any(lambda t: t.members.any(lambda m: m.id == t.owner_id))
    assert str(outer) == "tasks/any(t: t/members/any(m: m/id eq t/ownerId))"


def test_lambda_variable_fallbacks() -> None:
    def predicate(*items: Field) -> Expr:
        return items[0].a == 1

    assert str(F.c.any(predicate)) == "c/any(x: x/a eq 1)"
    assert str(F.c.any(lambda _item: _item.a == 1)) == "c/any(x: x/a eq 1)"


def test_lambda_must_return_an_expression() -> None:
    with pytest.raises(TypeError, match="must return a filter expression"):
        F.tags.any(lambda t: t.is_billable)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="takes a function"):
        F.tags.any("t: t eq 1")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ model validation


@attrs.frozen
class Company:
    id: uuid.UUID | None = None
    name: str | None = None


@attrs.frozen
class Tag:
    id: uuid.UUID | None = None
    name: str | None = None


@attrs.frozen
class Project:
    id: uuid.UUID | None = None
    company: Company | None = None
    tags: tuple[Tag, ...] | None = None
    labels: Union[tuple[str, ...], None] = None  # noqa: UP007 - the typing.Union spelling
    count: int | None = None


@attrs.frozen
class Entry:
    id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    note: str | None = None
    start_date_utc: dt.datetime | None = None
    start_date_local: dt.datetime | None = None
    project: Project | None = None
    mixed: int | str | None = None


@attrs.frozen
class Unresolvable:
    ref: MissingType | None = None  # type: ignore[name-defined]  # noqa: F821


E = Fields(Entry)


def test_bound_fields_render_like_free_ones() -> None:
    assert str(E.project.company.id == UID) == f"project/company/id eq guid'{UID}'"
    assert str(E.start_date_utc >= dt.date(2024, 1, 1)) == (
        "startDateUtc ge datetime'2024-01-01T00:00:00'"
    )
    assert str(E.project.tags.any(lambda t: t.name == "x")) == "project/tags/any(t: t/name eq 'x')"
    assert str(E.project.labels.any(lambda s: s == "x")) == "project/labels/any(s: s eq 'x')"
    assert str(E.project["count"] > 2) == "project/count gt 2"
    assert repr(E.project) == "Field('project', model=Project)"
    assert str(E.mixed.anything == 1) == "mixed/anything eq 1"  # unions of types: unchecked


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(
        AttributeError, match=r"Entry has no field 'user_idd'; did you mean 'user_id'"
    ):
        E.user_idd  # noqa: B018
    with pytest.raises(AttributeError, match=r"did you mean 'start_date_utc'"):
        E.startDateUtc  # noqa: B018
    with pytest.raises(AttributeError, match=r"Company has no field 'nam'; did you mean 'name'"):
        E.project.company.nam  # noqa: B018
    with pytest.raises(AttributeError, match=r"^Entry has no field 'zzz'$"):
        E.zzz  # noqa: B018


def test_scalars_and_collections_cannot_be_walked_into() -> None:
    with pytest.raises(AttributeError, match=r"'note' is a str, it has no field 'length'"):
        E.note.length  # noqa: B018
    with pytest.raises(AttributeError, match=r"'project/tags' is a collection"):
        E.project.tags.name  # noqa: B018
    with pytest.raises(TypeError, match="not a collection"):
        E.project.any()
    with pytest.raises(TypeError, match="not a collection"):
        E.note.count()
    with pytest.raises(AttributeError, match=r"Tag has no field 'nme'"):
        E.project.tags.any(lambda t: t.nme == "x")


def test_fields_needs_an_attrs_class() -> None:
    with pytest.raises(TypeError, match="attrs class"):
        Fields(dict)
    with pytest.raises(TypeError, match="attrs class"):
        Fields(Entry())  # type: ignore[arg-type]


def test_unresolvable_annotations_still_check_names() -> None:
    root = Fields(Unresolvable)
    assert str(root.ref.anything == 1) == "ref/anything eq 1"
    with pytest.raises(AttributeError, match="did you mean 'ref'"):
        root.reff  # noqa: B018


def test_against_the_real_time_entry_model() -> None:
    models = pytest.importorskip("awork_async.models")
    entry = Fields(models.TimeEntry)
    expr = (entry.project.company.id == UID) & (entry.start_date_local < dt.datetime(2024, 1, 2))
    assert str(expr) == (
        f"project/company/id eq guid'{UID}' and startDateLocal lt datetime'2024-01-02T00:00:00'"
    )
    assert str(entry.breaks.any(lambda b: b.duration > 60)) == "breaks/any(b: b/duration gt 60)"
    assert str(entry.task.task_status.type == "done") == "task/taskStatus/type eq 'done'"
    with pytest.raises(AttributeError, match="did you mean 'user_id'"):
        entry.userid  # noqa: B018


# -------------------------------------------------------------------------------- orderby


def test_order_by() -> None:
    assert str(order_by(desc(F.start_date_utc), F.id)) == "startDateUtc desc,id"
    assert str(order_by(asc(F.project.project_status.type), desc("LastName"))) == (
        "project/projectStatus/type asc,LastName desc"
    )
    assert str(order_by(order_by(F.a, F.b), desc(F.c))) == "a,b,c desc"
    assert str(order_by(E.project.company.name)) == "project/company/name"
    assert str(order_by(" name desc ")) == "name desc"
    assert order_by(F.a, F.b) == OrderBy(("a", "b"))


def test_order_by_rejects_bad_keys() -> None:
    with pytest.raises(ValueError, match="at least one"):
        order_by()
    with pytest.raises(ValueError, match="empty"):
        order_by(" ")
    with pytest.raises(ValueError, match="select a field"):
        order_by(F)
    with pytest.raises(TypeError):
        order_by(F.a == 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        desc(5)  # type: ignore[arg-type]
    with pytest.raises(AttributeError, match="did you mean"):
        order_by(E.start_date_ut)
    items: list[Field] = []

    def capture(item: Field) -> Expr:
        items.append(item)
        return item.name == 1

    F.tags.any(capture)
    with pytest.raises(ValueError, match="lambda variables"):
        order_by(items[0].name)


# ---------------------------------------------------------------------------- integration


def test_to_filter_string() -> None:
    assert to_filter_string(None) is None
    assert to_filter_string("") is None
    assert to_filter_string("   ") is None
    assert to_filter_string("isBilled eq false") == "isBilled eq false"
    assert to_filter_string((F.a == 1) | (F.b == 2)) == "a eq 1 or b eq 2"
    with pytest.raises(TypeError, match="compare the field"):
        to_filter_string(F.is_billable)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_filter_string(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [None, "", "   ", " x eq 1 ", "isBilled eq false", F.a == 1, raw("  a eq 1")]
)
def test_the_resources_render_filters_with_the_one_renderer(value: str | Expr | None) -> None:
    from awork_async._validation import filter_string

    assert filter_string(value) == to_filter_string(value)


@pytest.mark.parametrize("value", [None, "", "  ", "name desc", F.a, desc(F.a), [F.a, "b desc"]])
def test_the_resources_render_orders_with_the_one_renderer(value: object) -> None:
    from awork_async._validation import order_string

    assert order_string(value) == to_order_string(value)  # type: ignore[arg-type]


def test_to_order_string() -> None:
    assert to_order_string(None) is None
    assert to_order_string("") is None
    assert to_order_string([]) is None
    assert to_order_string("name desc") == "name desc"
    assert to_order_string(F.start_date_utc) == "startDateUtc"
    assert to_order_string(desc(F.a)) == "a desc"
    assert to_order_string([desc(F.a), F.b, "c asc"]) == "a desc,b,c asc"
    with pytest.raises(TypeError):
        to_order_string(5)  # type: ignore[arg-type]


def test_output_parses_in_the_sandbox_server() -> None:
    """The builder's text means the same tree to the sandbox's parser (not just "no error")."""
    from awork_async.sandbox.filtering import (
        Call,
        Compare,
        InList,
        Logical,
        Not,
        Path,
        Token,
        Value,
        parse_filter,
    )

    def path(*segments: str) -> Path:
        return Path(segments=segments)

    cases: list[tuple[Expr, object]] = [
        (
            (F.is_billable == True) & (F.user_id == me.id),  # noqa: E712
            Logical(
                "and",
                (
                    Compare("eq", path("isBillable"), Value("bool", True)),
                    Compare("eq", path("userId"), Token("me.id", 0)),
                ),
            ),
        ),
        (
            ~(F.task_id == None) | F.note.contains("O'Brien & co"),  # noqa: E711
            Logical(
                "or",
                (
                    Not(Compare("eq", path("taskId"), Value("null", None))),
                    Call("substringof", (Value("string", "O'Brien & co"), path("note"))),
                ),
            ),
        ),
        (
            (F.start_date_utc >= dt.datetime(2024, 5, 1, tzinfo=UTC)) & (F.due_on > today - 30),
            Logical(
                "and",
                (
                    Compare("ge", path("startDateUtc"), Value("datetime", dt.datetime(2024, 5, 1))),
                    Compare("gt", path("dueOn"), Token("today", -30)),
                ),
            ),
        ),
        (
            F.project.company.id.in_([UID, uuid.UUID(int=1)]),
            InList(
                path("project", "company", "id"),
                (Value("guid", str(UID)), Value("guid", str(uuid.UUID(int=1)))),
            ),
        ),
        (
            not_(F.note.lower().startswith("x")) & or_(F.duration > 1.5, F.duration < Decimal(2)),
            Logical(
                "and",
                (
                    Not(
                        Call("startswith", (Call("tolower", (path("note"),)), Value("string", "x")))
                    ),
                    Logical(
                        "or",
                        (
                            Compare("gt", path("duration"), Value("number", 1.5)),
                            Compare("lt", path("duration"), Value("number", 2)),
                        ),
                    ),
                ),
            ),
        ),
    ]
    for expr, tree in cases:
        assert parse_filter(str(expr)) == tree, str(expr)
