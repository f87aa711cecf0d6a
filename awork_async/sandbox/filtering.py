"""The ``filterby`` language of awork (an OData v2 subset): tokenizer, parser and compiler (pure).

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | comparison
    comparison := operand [(eq|ne|gt|ge|lt|le) operand | "in" "(" literal ("," literal)* ")"]
    operand    := "(" expr ")" | literal | token | function "(" args ")" | path

Literals: ``'text'`` (``''`` escapes a quote), ``guid'…'``, ``datetime'…'``, ``true``/``false``,
``null``, integers and decimals (optional ``M``/``L``/``f``/``d`` suffix), ``0x1F``. Tokens:
``me.id``, ``now``, ``today``, ``sow``, ``eow``, ``som``, ``eom``, each date token with an
optional ``+Nd``/``-Nd``. Functions: ``startswith``, ``endswith``, ``substringof``, ``tolower``,
``toupper``. Paths: ``project/company/id``, matched case-insensitively.

String comparisons are case-insensitive (like awork's database collation), guids are compared
case-insensitively and datetimes as datetimes (naive values count as UTC).
"""

from __future__ import annotations

import calendar
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeAlias

from ._timeutil import UTC, TimeRangeError, parse_datetime, to_naive_utc, to_utc

__all__ = [
    "Call",
    "Compare",
    "FilterContext",
    "FilterSyntaxError",
    "InList",
    "Logical",
    "Node",
    "Not",
    "Path",
    "Row",
    "Token",
    "Value",
    "compile_filter",
    "node_count",
    "parse_filter",
    "resolve_token",
    "uses_clock",
]

#: Longest filter expression accepted.
MAX_FILTER_LENGTH: Final = 8192
#: Deepest nesting of parentheses / ``not`` accepted.
MAX_DEPTH: Final = 64
#: Most nodes a filter may have, like OData's ``MaxNodeCount`` (see :func:`node_count`): bounds
#: the work per row, so that no filter can hold the event loop for long.
MAX_FILTER_NODES: Final = 100

Row: TypeAlias = Mapping[str, object]
Kind: TypeAlias = Literal["string", "guid", "datetime", "number", "bool", "null"]
CompareOp: TypeAlias = Literal["eq", "ne", "gt", "ge", "lt", "le"]

_COMPARE_OPS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_DATE_TOKENS: Final = frozenset({"now", "today", "sow", "eow", "som", "eom"})
_BOOL_FUNCTIONS: Final = {"startswith": 2, "endswith": 2, "substringof": 2}
_STRING_FUNCTIONS: Final = {"tolower": 1, "toupper": 1}
_GUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_NUMBER_RE: Final = re.compile(r"-?(?:\d+\.\d+|\d+)(?:[eE][+-]?\d+)?[mMlLfFdD]?")
_HEX_RE: Final = re.compile(r"0[xX][0-9a-fA-F]+")
_IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OFFSET_RE: Final = re.compile(r"([+-])(\d{1,5})[dD]")


class FilterSyntaxError(ValueError):
    """The ``filterby`` (or ``orderby``) text is not valid; ``position`` is a character index."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at position {position})")
        self.message = message
        self.position = position


# --------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Value:
    """A literal: ``kind`` says how it compares."""

    kind: Kind
    value: str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Path:
    """A property path such as ``project/company/id`` (segments as written)."""

    segments: tuple[str, ...]


@dataclass(frozen=True)
class Token:
    """``me.id`` or a date token (``today`` etc.) with a day offset."""

    name: str
    days: int = 0


@dataclass(frozen=True)
class Call:
    """A function call, e.g. ``startswith(name,'x')``."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: CompareOp
    left: Node
    right: Node


@dataclass(frozen=True)
class InList:
    """``operand in (v1, v2, …)``."""

    operand: Node
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Node


@dataclass(frozen=True)
class Logical:
    """``a and b and …`` or ``a or b or …``."""

    op: Literal["and", "or"]
    operands: tuple[Node, ...]


Node: TypeAlias = Value | Path | Token | Call | Compare | InList | Not | Logical


# --------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class _Tok:
    kind: Literal["ident", "path", "string", "literal", "number", "token", "punct", "end"]
    text: str
    pos: int
    value: Value | Token | None = None


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a ``'…'`` literal starting at the opening quote; return (content, index after)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise FilterSyntaxError("unterminated string literal", start)


def _prefixed_literal(prefix: str, body: str, pos: int) -> Value:
    if prefix == "guid":
        if not _GUID_RE.match(body):
            raise FilterSyntaxError(f"invalid guid literal {body!r}", pos)
        return Value("guid", body.lower())
    if prefix in ("datetime", "datetimeoffset"):
        parsed = parse_datetime(body.strip())
        if parsed is None:
            raise FilterSyntaxError(f"invalid datetime literal {body!r}", pos)
        if parsed.tzinfo is not None:
            try:
                parsed = to_utc(parsed).replace(tzinfo=None)
            except TimeRangeError as exc:
                raise FilterSyntaxError(f"datetime literal {body!r}: {exc}", pos) from None
        return Value("datetime", parsed)
    raise FilterSyntaxError(f"unknown literal prefix {prefix!r}", pos)


def _number(text: str, pos: int) -> Value:
    body = text.rstrip("mMlLfFdD")
    try:
        if any(c in body for c in ".eE"):
            return Value("number", float(body))
        return Value("number", int(body))
    except ValueError:  # pragma: no cover - the regex only lets numbers through
        raise FilterSyntaxError(f"invalid number {text!r}", pos) from None


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch in "(),":
            tokens.append(_Tok("punct", ch, i))
            i += 1
            continue
        if ch == "'":
            content, end = _read_quoted(text, i)
            tokens.append(_Tok("string", content, i, Value("string", content)))
            i = end
            continue
        hex_match = _HEX_RE.match(text, i)
        if hex_match:
            tokens.append(_Tok("number", hex_match[0], i, Value("number", int(hex_match[0], 16))))
            i = hex_match.end()
            continue
        if ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            num = _NUMBER_RE.match(text, i)
            if num is None:  # pragma: no cover - guarded by the condition above
                raise FilterSyntaxError("invalid number", i)
            tokens.append(_Tok("number", num[0], i, _number(num[0], i)))
            i = num.end()
            if i < n and (text[i].isalnum() or text[i] in "_'."):
                raise FilterSyntaxError("invalid number", i)
            continue
        ident = _IDENT_RE.match(text, i)
        if ident is None:
            raise FilterSyntaxError(f"unexpected character {ch!r}", i)
        word = ident[0]
        lower = word.lower()
        end = ident.end()
        if end < n and text[end] == "'":
            body, after = _read_quoted(text, end)
            tokens.append(_Tok("literal", word, i, _prefixed_literal(lower, body, i)))
            i = after
            continue
        if lower == "me" and text[end : end + 3].lower() == ".id":
            after = end + 3
            if after < n and (text[after].isalnum() or text[after] in "_./"):
                raise FilterSyntaxError("unknown token", i)
            tokens.append(_Tok("token", "me.id", i, Token("me.id")))
            i = after
            continue
        if lower in _DATE_TOKENS:
            offset = _OFFSET_RE.match(text, end)
            days = 0
            if offset is not None:
                days = int(offset[2]) * (1 if offset[1] == "+" else -1)
                end = offset.end()
            if end < n and (text[end].isalnum() or text[end] in "_./'"):
                raise FilterSyntaxError(f"invalid token {word!r}", i)
            tokens.append(_Tok("token", lower, i, Token(lower, days)))
            i = end
            continue
        segments = [word]
        while end < n and text[end] == "/":
            seg = _IDENT_RE.match(text, end + 1)
            if seg is None:
                raise FilterSyntaxError("invalid property path", end)
            segments.append(seg[0])
            end = seg.end()
        if end < n and text[end] in ".'":
            raise FilterSyntaxError(f"unexpected character {text[end]!r}", end)
        kind: Literal["ident", "path"] = "ident" if len(segments) == 1 else "path"
        tokens.append(_Tok(kind, "/".join(segments), i))
        i = end
    tokens.append(_Tok("end", "", n))
    return tokens


# ------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def _is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() == word

    def _expect_punct(self, ch: str) -> None:
        if self.tok.kind != "punct" or self.tok.text != ch:
            found = self.tok.text or "end of input"
            raise FilterSyntaxError(f"expected {ch!r}, found {found!r}", self.tok.pos)
        self.i += 1

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError("expression nested too deeply", self.tok.pos)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FilterSyntaxError("empty filter", 0)
        node = self.expr()
        rest = self.tokens[self.i]
        if rest.kind != "end":
            raise FilterSyntaxError(f"unexpected {rest.text!r}", rest.pos)
        return node

    def expr(self) -> Node:
        operands = [self.and_expr()]
        while self._is_word("or"):
            self.i += 1
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Logical("or", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.unary()]
        while self._is_word("and"):
            self.i += 1
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else Logical("and", tuple(operands))

    def unary(self) -> Node:
        if self._is_word("not"):
            self.i += 1
            self._enter()
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.tok.kind == "ident":
            word = self.tok.text.lower()
            if word in _COMPARE_OPS:
                self.i += 1
                right = self.operand()
                return Compare(word, left, right)  # type: ignore[arg-type]
            if word == "in":
                self.i += 1
                return InList(left, self._literal_list())
        return left

    def _literal_list(self) -> tuple[Value, ...]:
        self._expect_punct("(")
        values: list[Value] = []
        while True:
            tok = self.tok
            if tok.kind in ("string", "literal", "number") and isinstance(tok.value, Value):
                values.append(tok.value)
            elif tok.kind == "ident" and tok.text.lower() in ("true", "false", "null"):
                values.append(self._keyword_literal(tok.text.lower()))
            else:
                raise FilterSyntaxError("expected a literal in the 'in' list", tok.pos)
            self.i += 1
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                continue
            self._expect_punct(")")
            return tuple(values)

    @staticmethod
    def _keyword_literal(word: str) -> Value:
        if word == "null":
            return Value("null", None)
        return Value("bool", word == "true")

    def operand(self) -> Node:
        tok = self.tok
        if tok.kind == "punct" and tok.text == "(":
            self.i += 1
            self._enter()
            node = self.expr()
            self.depth -= 1
            self._expect_punct(")")
            return node
        if tok.kind in ("string", "literal", "number", "token"):
            self.i += 1
            assert tok.value is not None
            return tok.value
        if tok.kind == "path":
            self.i += 1
            return Path(tuple(tok.text.split("/")))
        if tok.kind == "ident":
            word = tok.text.lower()
            if word in ("true", "false", "null"):
                self.i += 1
                return self._keyword_literal(word)
            if word in _COMPARE_OPS or word in ("and", "or", "not", "in"):
                raise FilterSyntaxError(f"unexpected operator {tok.text!r}", tok.pos)
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "punct" and nxt.text == "(":
                return self._call(word, tok.pos)
            self.i += 1
            return Path((tok.text,))
        found = tok.text or "end of input"
        raise FilterSyntaxError(f"unexpected {found!r}", tok.pos)

    def _call(self, name: str, pos: int) -> Node:
        arity = _BOOL_FUNCTIONS.get(name) or _STRING_FUNCTIONS.get(name)
        if arity is None:
            raise FilterSyntaxError(f"unsupported function {name!r}", pos)
        self.i += 2
        self._enter()
        args: list[Node] = []
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            args.append(self.expr())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                args.append(self.expr())
        self._expect_punct(")")
        self.depth -= 1
        if len(args) != arity:
            raise FilterSyntaxError(f"{name}() takes {arity} argument(s), got {len(args)}", pos)
        return Call(name, tuple(args))


def parse_filter(text: str) -> Node:
    """Parse a ``filterby`` expression into an AST; raise :class:`FilterSyntaxError` if invalid."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterSyntaxError(f"filter longer than {MAX_FILTER_LENGTH} characters")
    node = _Parser(_tokenize(text)).parse()
    count = node_count(node)
    if count > MAX_FILTER_NODES:
        raise FilterSyntaxError(
            f"the filter has {count} nodes, more than the {MAX_FILTER_NODES} allowed (each "
            "comparison, function call, literal, property, 'not', 'and' and 'or' counts one; an "
            "'in (…)' list counts one): split the query, or use 'in (…)' for many values"
        )
    if not _is_boolean(node):
        raise FilterSyntaxError("the filter is not a boolean expression", 0)
    return node


def node_count(node: Node) -> int:
    """The size of ``node`` as OData's ``MaxNodeCount`` measures it: one per comparison,
    function call, literal, token, property, ``not``, and each ``and``/``or`` operator; an
    ``in (…)`` list counts one, as it is answered by one set lookup."""
    if isinstance(node, Compare):
        return 1 + node_count(node.left) + node_count(node.right)
    if isinstance(node, Logical):
        return len(node.operands) - 1 + sum(node_count(o) for o in node.operands)
    if isinstance(node, Not):
        return 1 + node_count(node.operand)
    if isinstance(node, InList):
        return 2 + node_count(node.operand)
    if isinstance(node, Call):
        return 1 + sum(node_count(a) for a in node.args)
    return 1


def _is_boolean(node: Node) -> bool:
    if isinstance(node, (Compare, InList, Logical, Path)):
        return True
    if isinstance(node, Not):
        return _is_boolean(node.operand)
    if isinstance(node, Call):
        return node.name in _BOOL_FUNCTIONS
    return isinstance(node, Value) and node.kind == "bool"


# ---------------------------------------------------------------------------------- compiler


@dataclass(frozen=True)
class FilterContext:
    """What a filter needs besides the row: the caller's id, "now", the known property names."""

    me_id: str
    now: datetime
    #: Lower-case segment -> canonical key. ``None`` accepts every name as written.
    names: Mapping[str, str] | None = None
    #: Row text -> parsed date-time, shared by the comparisons compiled with this context (one
    #: query): each row's value is parsed once, however many comparisons read it.
    parsed: dict[str, object] = field(default_factory=dict, repr=False, compare=False)


Getter: TypeAlias = Callable[[Row], object]
Predicate: TypeAlias = Callable[[Row], bool]
_INCOMPARABLE: Final = object()


def _token_value(token: Token, ctx: FilterContext) -> Value:
    if token.name == "me.id":
        return Value("guid", ctx.me_id.lower())
    now = ctx.now.astimezone(UTC).replace(tzinfo=None) if ctx.now.tzinfo else ctx.now
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if token.name == "now":
        base = now
    elif token.name == "today":
        base = today
    elif token.name == "sow":
        base = today - timedelta(days=today.weekday())
    elif token.name == "eow":
        base = today + timedelta(days=6 - today.weekday(), hours=23, minutes=59, seconds=59)
    elif token.name == "som":
        base = today.replace(day=1)
    else:  # eom
        last = calendar.monthrange(today.year, today.month)[1]
        base = today.replace(day=last, hour=23, minute=59, second=59)
    return Value("datetime", base + timedelta(days=token.days))


def resolve_token(token: Token, ctx: FilterContext) -> Value:
    """The literal a token stands for: ``me.id`` a guid, the date tokens a naive UTC datetime."""
    return _token_value(token, ctx)


def uses_clock(node: Node) -> bool:
    """Whether ``node`` contains a date token (``now``, ``today``…), whose value changes."""
    if isinstance(node, Token):
        return node.name != "me.id"
    if isinstance(node, Compare):
        return uses_clock(node.left) or uses_clock(node.right)
    if isinstance(node, InList):
        return uses_clock(node.operand)
    if isinstance(node, Not):
        return uses_clock(node.operand)
    if isinstance(node, (Logical, Call)):
        children = node.operands if isinstance(node, Logical) else node.args
        return any(uses_clock(child) for child in children)
    return False


def _path_keys(path: Path, ctx: FilterContext) -> tuple[str, ...]:
    """The canonical keys of ``path``; unknown properties raise :class:`FilterSyntaxError`."""
    keys: list[str] = []
    for seg in path.segments:
        if ctx.names is None:
            keys.append(seg)
            continue
        canonical = ctx.names.get(seg.lower())
        if canonical is None:
            raise FilterSyntaxError(f"unknown property {seg!r}")
        keys.append(canonical)
    return tuple(keys)


def _path_getter(path: Path, ctx: FilterContext) -> Getter:
    return key_path_getter(_path_keys(path, ctx))


def key_path_getter(keys: Sequence[str]) -> Getter:
    """Read a nested value (``("project", "company", "id")``) from a row; ``None`` if absent."""
    if len(keys) == 1:
        key = keys[0]
        return lambda row: row.get(key)

    def get(row: Row) -> object:
        cur: object = row
        for k in keys:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(k)
        return cur

    return get


def _coerce(kind: Kind | None, value: object) -> object:
    """Bring a row value into the comparison domain of ``kind`` (or ``_INCOMPARABLE``)."""
    if value is None:
        return None
    if kind in ("string", "guid"):
        return value.lower() if isinstance(value, str) else _INCOMPARABLE
    if kind == "datetime":
        if isinstance(value, datetime):
            return value
        parsed = to_naive_utc(value) if isinstance(value, str) else None
        return _INCOMPARABLE if parsed is None else parsed
    if kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if ok else _INCOMPARABLE
    if kind == "bool":
        return value if isinstance(value, bool) else _INCOMPARABLE
    if kind == "null":
        return _INCOMPARABLE
    if isinstance(value, str):  # unknown kind (path vs path): dates as dates, text ignoring case
        parsed = to_naive_utc(value)
        return value.lower() if parsed is None else parsed
    return value


def _operand(node: Node, ctx: FilterContext) -> tuple[Getter, Kind | None]:
    if isinstance(node, Token):
        node = _token_value(node, ctx)
    if isinstance(node, Value):
        const: object = node.value.lower() if isinstance(node.value, str) else node.value
        return (lambda _row: const), node.kind
    if isinstance(node, Path):
        return _path_getter(node, ctx), None
    if isinstance(node, Call) and node.name in _STRING_FUNCTIONS:
        inner, _ = _operand(node.args[0], ctx)
        upper = node.name == "toupper"

        def fold(row: Row) -> object:
            value = inner(row)
            if not isinstance(value, str):
                return None
            return value.upper() if upper else value.lower()

        return fold, "string"
    predicate = _predicate(node, ctx)
    return predicate, "bool"


def _constant(node: Node, ctx: FilterContext) -> Value | None:
    """The literal ``node`` stands for (tokens resolved), or ``None`` when it is not one."""
    if isinstance(node, Token):
        return _token_value(node, ctx)
    return node if isinstance(node, Value) else None


def _coercer(kind: Kind, ctx: FilterContext) -> Callable[[object], object]:
    """:func:`_coerce` for one ``kind``, as a one-argument function (date-times parsed once per
    context, see :attr:`FilterContext.parsed`)."""
    if kind in ("string", "guid"):
        return lambda v: v.lower() if isinstance(v, str) else (None if v is None else _INCOMPARABLE)
    if kind == "datetime":
        memo = ctx.parsed

        def coerce_datetime(value: object) -> object:
            if not isinstance(value, str):
                return _coerce(kind, value)
            found = memo.get(value)
            if found is None:
                found = memo[value] = _coerce(kind, value)
            return found

        return coerce_datetime
    return lambda v: _coerce(kind, v)


_NEGATED: Final[dict[str, CompareOp]] = {"eq": "ne", "ne": "eq"}

#: ``op`` seen from the other side (``5 lt duration`` is ``duration gt 5``).
_FLIP: Final = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def _path_vs_constant(node: Compare, ctx: FilterContext) -> Predicate | None:
    """The fast form of ``path op literal`` (either side); ``None`` for other comparisons.

    The literal is coerced once, the row's value once per row: the same answers as the
    general form of :func:`_compare`.
    """
    op: str = node.op
    if isinstance(node.left, Path):
        path, const = node.left, _constant(node.right, ctx)
    elif isinstance(node.right, Path):
        path, const, op = node.right, _constant(node.left, ctx), _FLIP[node.op]
    else:
        return None
    if const is None or const.kind == "null":
        return None
    keys = _path_keys(path, ctx)
    get = key_path_getter(keys)
    coerce = _coercer(const.kind, ctx)
    want = _coerce(const.kind, const.value)
    if op in ("eq", "ne"):
        if len(keys) == 1 and const.kind in ("string", "guid"):  # the most common: one call
            key = keys[0]
            if op == "eq":
                return lambda row: isinstance(v := row.get(key), str) and v.lower() == want
            return lambda row: not (isinstance(v := row.get(key), str) and v.lower() == want)
        if op == "eq":
            return lambda row: coerce(get(row)) == want
        return lambda row: coerce(get(row)) != want
    compare = _ORDERED[op]

    def ordered(row: Row) -> bool:
        value = coerce(get(row))
        if value is None or value is _INCOMPARABLE:
            return False
        try:
            return compare(value, want)
        except TypeError:
            return False

    return ordered


_ORDERED: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _compare(node: Compare, ctx: FilterContext) -> Predicate:
    left, lkind = _operand(node.left, ctx)
    right, rkind = _operand(node.right, ctx)
    if lkind is not None and rkind is not None and lkind != rkind and "null" not in (lkind, rkind):
        compatible = {lkind, rkind} <= {"string", "guid"}
        if not compatible:
            raise FilterSyntaxError(f"cannot compare {lkind} with {rkind}")
    kind = rkind if rkind is not None else lkind
    op = node.op
    if kind == "null":
        other = left if rkind == "null" else right
        if op == "eq":
            return lambda row: other(row) is None
        if op == "ne":
            return lambda row: other(row) is not None
        raise FilterSyntaxError(f"'{op}' cannot be used with null")
    fast = _path_vs_constant(node, ctx) if lkind is None or rkind is None else None
    if fast is not None:
        return fast

    def values(row: Row) -> tuple[object, object]:
        return _coerce(kind, left(row)), _coerce(kind, right(row))

    if op in ("eq", "ne"):
        want = op == "eq"

        def equality(row: Row) -> bool:
            a, b = values(row)
            if a is _INCOMPARABLE or b is _INCOMPARABLE:
                return not want
            return (a == b) is want

        return equality

    compare = _ORDERED[op]

    def ordered(row: Row) -> bool:
        a, b = values(row)
        if a is None or b is None or a is _INCOMPARABLE or b is _INCOMPARABLE:
            return False
        try:
            return compare(a, b)
        except TypeError:
            return False

    return ordered


def _membership(get: Getter, values: Sequence[Value], ctx: FilterContext) -> Predicate:
    """``get(row)`` equals one of ``values``: one set lookup per kind of value."""
    sets: dict[Kind, set[object]] = {}
    for value in values:
        sets.setdefault(value.kind, set()).add(_coerce(value.kind, value.value))
    null = sets.pop("null", None) is not None
    checks = [(_coercer(kind, ctx), frozenset(members)) for kind, members in sets.items()]
    if not null and len(checks) == 1:
        coerce, members = checks[0]
        return lambda row: coerce(get(row)) in members

    def contained(row: Row) -> bool:
        raw = get(row)
        if raw is None:
            return null
        return any(coerce(raw) in members for coerce, members in checks)

    return contained


def _equality_key(node: Node, ctx: FilterContext) -> tuple[tuple[str, ...], Value] | None:
    """``(canonical path, literal)`` of ``path eq literal`` (either side), else ``None``."""
    if not isinstance(node, Compare) or node.op != "eq":
        return None
    if isinstance(node.left, Path):
        path, const = node.left, _constant(node.right, ctx)
    elif isinstance(node.right, Path):
        path, const = node.right, _constant(node.left, ctx)
    else:
        return None
    if const is None or const.kind == "null":
        return None
    _path_getter(path, ctx)  # unknown properties fail as they would alone
    keys = tuple(seg if ctx.names is None else ctx.names[seg.lower()] for seg in path.segments)
    return keys, const


def _any_of(operands: Sequence[Node], ctx: FilterContext) -> Predicate:
    """``a or b or …``: equalities of one property with literals become one set lookup, text
    searches of one property one search over all their texts."""
    groups: dict[tuple[str, ...], list[Value]] = {}
    searches: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    rest: list[Node] = []
    for operand in operands:
        key = _equality_key(operand, ctx)
        search = _text_search_key(operand, ctx) if key is None else None
        if key is not None:
            groups.setdefault(key[0], []).append(key[1])
        elif search is not None:
            searches.setdefault(search[:2], []).append(search[2])
        else:
            rest.append(operand)
    parts = [_membership(key_path_getter(keys), values, ctx) for keys, values in groups.items()]
    parts += [
        _text_search(mode, key_path_getter(keys), tuple(pins))
        for (mode, keys), pins in searches.items()
    ]
    parts += [_predicate(p, ctx) for p in rest]
    if len(parts) == 1:
        return parts[0]

    def any_part(row: Row) -> bool:
        for part in parts:  # noqa: SIM110 - a loop: any() over a generator is slower per row
            if part(row):
                return True
        return False

    return any_part


def _all_of(operands: Sequence[Node], ctx: FilterContext) -> Predicate:
    parts = [_predicate(p, ctx) for p in operands]

    def all_parts(row: Row) -> bool:
        for part in parts:  # noqa: SIM110 - a loop: all() over a generator is slower per row
            if not part(row):
                return False
        return True

    return all_parts


def _text_search_key(node: Node, ctx: FilterContext) -> tuple[str, tuple[str, ...], str] | None:
    """``(function, canonical path, lower-case text)`` of ``startswith(path,'text')``,
    ``endswith(path,'text')`` or ``substringof('text',path)``, else ``None``."""
    if not isinstance(node, Call) or node.name not in _BOOL_FUNCTIONS:
        return None
    hay, pin = node.args if node.name != "substringof" else node.args[::-1]
    if isinstance(hay, Call) and hay.name == "tolower":  # the search ignores case anyway
        hay = hay.args[0]
    if not isinstance(hay, Path) or not (isinstance(pin, Value) and pin.kind == "string"):
        return None
    return node.name, _path_keys(hay, ctx), str(pin.value).lower()


def _text_search(mode: str, get: Getter, pins: tuple[str, ...]) -> Predicate:
    """Any of ``pins`` starts / ends / occurs in ``get(row)`` (ignoring case): one ``lower()``."""
    if mode == "startswith":
        return lambda row: isinstance(h := get(row), str) and h.lower().startswith(pins)
    if mode == "endswith":
        return lambda row: isinstance(h := get(row), str) and h.lower().endswith(pins)

    def contains(row: Row) -> bool:
        hay = get(row)
        if not isinstance(hay, str):
            return False
        hay = hay.lower()
        for pin in pins:  # noqa: SIM110 - a loop: any() over a generator is slower per row
            if pin in hay:
                return True
        return False

    return contains


def _string_call(node: Call, ctx: FilterContext) -> Predicate:
    search = _text_search_key(node, ctx)
    if search is not None:
        return _text_search(search[0], key_path_getter(search[1]), (search[2],))
    first, _ = _operand(node.args[0], ctx)
    second, _ = _operand(node.args[1], ctx)
    if node.name == "substringof":
        needle, haystack = first, second
    else:
        haystack, needle = first, second
    mode = node.name

    def call(row: Row) -> bool:
        hay, pin = haystack(row), needle(row)
        if not isinstance(hay, str) or not isinstance(pin, str):
            return False
        hay, pin = hay.lower(), pin.lower()
        if mode == "startswith":
            return hay.startswith(pin)
        if mode == "endswith":
            return hay.endswith(pin)
        return pin in hay

    return call


def _predicate(node: Node, ctx: FilterContext) -> Predicate:
    if isinstance(node, Compare):
        return _compare(node, ctx)
    if isinstance(node, Logical):
        if node.op == "and":
            return _all_of(node.operands, ctx)
        return _any_of(node.operands, ctx)
    if isinstance(node, Not):
        operand = node.operand
        if isinstance(operand, Compare) and operand.op in _NEGATED:  # complementary
            return _compare(Compare(_NEGATED[operand.op], operand.left, operand.right), ctx)
        inner = _predicate(operand, ctx)
        return lambda row: not inner(row)
    if isinstance(node, InList):
        getter, _ = _operand(node.operand, ctx)
        return _membership(getter, node.values, ctx)
    if isinstance(node, Call):
        if node.name not in _BOOL_FUNCTIONS:
            raise FilterSyntaxError(f"{node.name}() does not return a boolean")
        return _string_call(node, ctx)
    if isinstance(node, Path):
        getter = _path_getter(node, ctx)
        return lambda row: getter(row) is True
    if isinstance(node, Value) and node.kind == "bool":
        constant = bool(node.value)
        return lambda _row: constant
    raise FilterSyntaxError("the filter is not a boolean expression")


def compile_filter(node: Node | str, ctx: FilterContext) -> Predicate:
    """Turn a parsed filter (or its text) into a fast predicate over JSON-like rows."""
    if isinstance(node, str):
        node = parse_filter(node)
    return _predicate(node, ctx)


def collect_names(objects: Sequence[object]) -> dict[str, str]:
    """Lower-case -> canonical map of every key found (recursively) in ``objects``."""
    names: dict[str, str] = {}
    stack: list[object] = list(objects)
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                names.setdefault(str(key).lower(), str(key))
                stack.append(value)
        elif isinstance(obj, list):
            stack.extend(obj)
    return names
