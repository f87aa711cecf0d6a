"""Typed, immutable builder for awork's ``filterby`` and ``orderby`` values (API notes §3).

Build expressions from fields instead of hand-quoting strings::

    from awork_async.filters import F, and_, asc, desc, me, order_by, today

    expr = (F.is_billable == True) & (F.user_id == me.id) & (F.start_date_utc >= today - 30)
    str(expr)  # "isBillable eq true and userId eq me.id and startDateUtc ge today-30d"
    str(order_by(desc(F.start_date_utc), F.id))  # "startDateUtc desc,id"

Fields
    ``F`` accepts any snake_case (or camelCase) name and writes it in camelCase; nested
    objects are walked with attributes (``F.project.company.id`` -> ``project/company/id``).
    ``Fields(Model)`` does the same but checks every name against an attrs model class
    (``AttributeError`` with a "did you mean" hint). A field whose name is also a method here
    (``count``, ``any``, ...) is reached with ``F["count"]``.

Operators
    ``== != > >= < <=`` (or ``.eq() .ne() .gt() .ge() .lt() .le()``, handy under linters that
    flag ``== True``) give ``eq ne gt ge lt le``. ``.startswith(s)``, ``.endswith(s)``,
    ``.contains(s)`` (``substringof(s,field)``), ``.lower()`` (``tolower``), ``.in_([...])``; on
    collections ``.any(lambda t: ...)``, ``.none(lambda t: ...)`` (``any(...) eq false``) and
    ``.count()``. Combine with ``&``, ``|``, ``~`` or ``and_``, ``or_``, ``not_``. Parentheses
    are written exactly where the server's precedence (``not`` > ``and`` > ``or``) needs them.
    Expressions have no truth value: ``a and b`` raises ``TypeError`` (use ``a & b``).

Literals
    ``UUID`` -> ``guid'…'``; aware ``datetime`` -> ``datetime'…'`` in UTC (the filter compares
    the ``*Utc`` fields); ``date`` -> ``datetime'YYYY-MM-DDT00:00:00'``; ``str`` -> ``'…'`` with
    ``'`` doubled; ``bool`` -> ``true``/``false``; ``None`` -> ``null``; ``int``/``float``/
    ``Decimal`` as plain numbers; enum members by value. Tokens: ``me.id``, ``now``, ``today``,
    ``today.minus(days=30)`` (``today-30d``), ``sow``, ``eow``, ``som``, ``eom``.
    ``raw("…")`` inserts text verbatim, as a whole expression or as a value.

Local fields
    ``*Local`` fields (``start_date_local``) hold wall-clock time in each entry's own time
    zone, so a UTC instant cannot be compared with them. They take a *naive* datetime (or a
    ``date``), and only they do: a naive datetime anywhere else raises ``ValueError``, as does
    an aware one on a local field.

URL encoding
    Nothing here percent-encodes. ``str(expr)`` is the plain expression; the HTTP layer
    encodes the query value exactly once (``params={"filterby": str(expr)}``), which turns
    ``&`` into ``%26`` and so on.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import decimal
import difflib
import enum
import functools
import inspect
import math
import re
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Final, Literal, NoReturn, Union

import attrs

from ._naming import to_camel, to_snake

__all__ = [
    "Expr",
    "F",
    "Field",
    "Fields",
    "OrderBy",
    "OrderKey",
    "Raw",
    "Term",
    "Token",
    "and_",
    "asc",
    "desc",
    "eom",
    "eow",
    "me",
    "not_",
    "now",
    "or_",
    "order_by",
    "raw",
    "som",
    "sow",
    "to_filter_string",
    "to_order_string",
    "today",
]

# Binding strength of each kind of node, weakest first. A child is parenthesised when it binds
# more weakly than its parent requires.
_OR: Final = 1
_AND: Final = 2
_COMPARISON: Final = 3
_NOT: Final = 4
_PRIMARY: Final = 5

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_LAMBDA_VAR_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")
#: A property path written as text (``a/b``), e.g. in ``asc("LastName")``.
_PATH_RE: Final = re.compile(r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*")
#: One ``orderby`` key written as text: a property path, optionally ``asc`` or ``desc``.
_ORDER_KEY_RE: Final = re.compile(
    r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*(?:\s+(?:asc|desc))?", re.IGNORECASE
)
_NO_TRUTH_VALUE: Final = (
    "filter expressions have no truth value: combine them with &, | and ~ "
    "(or and_, or_, not_) instead of and, or, not, and do not chain comparisons"
)

# --------------------------------------------------------------------------------- expressions


class Expr:
    """A boolean ``filterby`` expression. ``str(expr)`` is the text sent to the API.

    Immutable; equal when the rendered text is equal. Combine with ``&``, ``|`` and ``~``.
    """

    __slots__ = ()
    _precedence: ClassVar[int] = _PRIMARY

    def _render(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"

    def __bool__(self) -> NoReturn:
        raise TypeError(_NO_TRUTH_VALUE)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        return self._render() == other._render()

    def __hash__(self) -> int:
        return hash(self._render())

    def __and__(self, other: Expr | str) -> Expr:
        if not isinstance(other, (Expr, str)):
            return NotImplemented
        return and_(self, other)

    def __rand__(self, other: Expr | str) -> Expr:
        if not isinstance(other, (Expr, str)):
            return NotImplemented
        return and_(other, self)

    def __or__(self, other: Expr | str) -> Expr:
        if not isinstance(other, (Expr, str)):
            return NotImplemented
        return or_(self, other)

    def __ror__(self, other: Expr | str) -> Expr:
        if not isinstance(other, (Expr, str)):
            return NotImplemented
        return or_(other, self)

    def __invert__(self) -> Expr:
        return not_(self)


def _wrap(expr: Expr, required: int) -> str:
    """Render ``expr``, in parentheses if it binds more weakly than ``required``."""
    text = expr._render()
    return f"({text})" if expr._precedence < required else text


@attrs.frozen(eq=False, repr=False)
class Comparison(Expr):
    """``left op right`` (``op`` is ``eq``, ``ne``, ``gt``, ``ge``, ``lt``, ``le`` or ``in``)."""

    _precedence: ClassVar[int] = _COMPARISON
    left: str
    op: str
    right: str

    def _render(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@attrs.frozen(eq=False, repr=False)
class Predicate(Expr):
    """A self-contained boolean call such as ``startswith(note,'x')`` or ``tags/any(t: …)``."""

    text: str

    def _render(self) -> str:
        return self.text


@attrs.frozen(eq=False, repr=False)
class And(Expr):
    """``a and b and …`` (nested ``and`` nodes are flattened)."""

    _precedence: ClassVar[int] = _AND
    operands: tuple[Expr, ...]

    def _render(self) -> str:
        return " and ".join(_wrap(operand, _AND) for operand in self.operands)


@attrs.frozen(eq=False, repr=False)
class Or(Expr):
    """``a or b or …`` (nested ``or`` nodes are flattened)."""

    _precedence: ClassVar[int] = _OR
    operands: tuple[Expr, ...]

    def _render(self) -> str:
        return " or ".join(_wrap(operand, _OR) for operand in self.operands)


@attrs.frozen(eq=False, repr=False)
class Not(Expr):
    """``not operand``; anything but a function call or lambda is parenthesised."""

    _precedence: ClassVar[int] = _NOT
    operand: Expr

    def _render(self) -> str:
        return f"not {_wrap(self.operand, _NOT)}"


@attrs.frozen(eq=False, repr=False)
class Raw(Expr):
    """Text inserted verbatim: a whole expression, or a value on the right of a comparison.

    As an expression its structure is unknown, so it is parenthesised inside ``and`` and ``not``.
    """

    _precedence: ClassVar[int] = _OR
    text: str

    def _render(self) -> str:
        return self.text


def raw(text: str) -> Raw:
    """Escape hatch: ``text`` is used as written (no quoting, no checks beyond non-empty)."""
    if not isinstance(text, str):
        raise TypeError(f"raw() takes a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("raw() text must not be empty")
    return Raw(text)


def _as_expr(value: object, function: str) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return raw(value)
    hint = " (compare the field, e.g. F.x == value)" if isinstance(value, Term) else ""
    raise TypeError(f"{function}() takes expressions or str, got {type(value).__name__}{hint}")


def _junction(kind: type[And] | type[Or], operands: tuple[Expr | str, ...], name: str) -> Expr:
    flat: list[Expr] = []
    for operand in operands:
        expr = _as_expr(operand, name)
        flat.extend(expr.operands if isinstance(expr, kind) else (expr,))
    if not flat:
        raise ValueError(f"{name}() needs at least one expression")
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def and_(*operands: Expr | str) -> Expr:
    """All of ``operands`` (a ``str`` is taken as :func:`raw`); one operand is returned as is."""
    return _junction(And, operands, "and_")


def or_(*operands: Expr | str) -> Expr:
    """Any of ``operands`` (a ``str`` is taken as :func:`raw`); one operand is returned as is."""
    return _junction(Or, operands, "or_")


def not_(operand: Expr | str) -> Expr:
    """The negation of ``operand``; a double negation cancels out."""
    expr = _as_expr(operand, "not_")
    return expr.operand if isinstance(expr, Not) else Not(expr)


# ------------------------------------------------------------------------------------- tokens


@attrs.frozen
class Token:
    """A server-side token (``me.id``, ``now``, ``today``, ``sow`` …), used as a value."""

    text: str

    def __str__(self) -> str:
        return self.text


def _whole_days(value: object, what: str) -> int:
    if isinstance(value, dt.timedelta):
        if value.seconds or value.microseconds:
            raise ValueError(f"{what} must be whole days, got {value}")
        return value.days
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int number of days, got {type(value).__name__}")
    return value


@attrs.frozen
class _Today(Token):
    """``today``; ``today.minus(days=30)`` is ``today-30d``, ``today.plus(days=5)`` ``today+5d``."""

    def plus(self, *, days: int) -> Token:
        """``today+<days>d`` (negative ``days`` count backwards)."""
        count = _whole_days(days, "days")
        if count == 0:
            return self
        return Token(f"today{'+' if count > 0 else '-'}{abs(count)}d")

    def minus(self, *, days: int) -> Token:
        """``today-<days>d``."""
        return self.plus(days=-_whole_days(days, "days"))

    def __add__(self, other: int | dt.timedelta) -> Token:
        if isinstance(other, (int, dt.timedelta)):
            return self.plus(days=_whole_days(other, "today + offset"))
        return NotImplemented

    def __sub__(self, other: int | dt.timedelta) -> Token:
        if isinstance(other, (int, dt.timedelta)):
            return self.plus(days=-_whole_days(other, "today - offset"))
        return NotImplemented


class _Me:
    """The current user: ``me.id``."""

    __slots__ = ()

    @property
    def id(self) -> Token:
        """``me.id``, the id of the authenticated user."""
        return Token("me.id")

    def __repr__(self) -> str:
        return "me"


#: The authenticated user; use ``me.id``.
me: Final = _Me()
#: The current date and time.
now: Final = Token("now")
#: Today; ``today.minus(days=30)`` / ``today - 30`` give ``today-30d``.
today: Final = _Today("today")
#: Start / end of the current week.
sow: Final = Token("sow")
eow: Final = Token("eow")
#: Start / end of the current month.
som: Final = Token("som")
eom: Final = Token("eom")

# ------------------------------------------------------------------------------------ literals


def _is_local_name(name: str | None) -> bool:
    return name is not None and (name.endswith("_local") or name.endswith("Local"))


def _string_literal(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"string {text!r} cannot be encoded as UTF-8 (lone surrogate)") from None
    return "'" + text.replace("'", "''") + "'"


def _float_literal(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"a filter cannot compare with {value!r}")
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(decimal.Decimal(text), "f")
    return text if "." in text else f"{text}.0"


def _datetime_literal(value: dt.datetime, field: str | None) -> str:
    aware = value.tzinfo is not None and value.utcoffset() is not None
    if _is_local_name(field):
        if aware:
            raise ValueError(
                f"{field} holds wall-clock time in each entry's own time zone; compare it with "
                f"a naive datetime (or a date), not {value.isoformat()}"
            )
    elif not aware:
        where = f"{field} is compared in UTC" if field else "filters compare UTC values"
        raise ValueError(
            f"naive datetime {value.isoformat()}: {where}; pass an aware datetime "
            "(naive ones are accepted only for *_local fields)"
        )
    else:
        value = value.astimezone(dt.timezone.utc)
    timespec = "microseconds" if value.microsecond else "seconds"
    return f"datetime'{value.replace(tzinfo=None).isoformat(timespec=timespec)}'"


def _literal(value: object, field: str | None) -> str:
    """Render a Python value as a filter literal; ``field`` is the compared field's name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _literal(value.value, field)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} is outside the 64-bit range")
        return str(int(value))
    if isinstance(value, float):
        return _float_literal(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"a filter cannot compare with {value!r}")
        return format(value, "f")
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, uuid.UUID):
        return f"guid'{value}'"
    if isinstance(value, dt.datetime):
        return _datetime_literal(value, field)
    if isinstance(value, dt.date):
        return f"datetime'{value.isoformat()}T00:00:00'"
    raise TypeError(
        f"cannot use a {type(value).__name__} in a filter; supported: None, bool, int, float, "
        "Decimal, str, UUID, datetime, date, Enum, tokens (me.id, today, …), fields and raw()"
    )


def _value(value: object, field: str | None) -> str:
    """Render the right-hand side of a comparison."""
    if isinstance(value, Term):
        return value._render_term()
    if isinstance(value, (Raw, Token)):
        return value.text
    if isinstance(value, Expr):
        raise TypeError("cannot compare with a boolean expression; use & | ~ to combine them")
    if isinstance(value, _Me):
        raise TypeError("use me.id, not me")
    return _literal(value, field)


# -------------------------------------------------------------------------------------- terms


class Term:
    """Something a comparison can be made on: a field, ``tolower(field)``, ``count()``.

    Comparison operators return :class:`Expr` objects, not ``bool``.
    """

    __slots__ = ()

    def _render_term(self) -> str:
        raise NotImplementedError

    def _field_name(self) -> str | None:
        """Name of the compared field, for the local/UTC datetime check."""
        return None

    def _compare(self, op: str, other: object) -> Expr:
        if op not in ("eq", "ne") and (other is None or isinstance(other, bool)):
            raise ValueError(f"'{op}' cannot compare with {other!r}; use == or !=")
        return Comparison(self._render_term(), op, _value(other, self._field_name()))

    def __bool__(self) -> NoReturn:
        raise TypeError(_NO_TRUTH_VALUE)

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return self._compare("eq", other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return self._compare("ne", other)

    def __gt__(self, other: object) -> Expr:
        return self._compare("gt", other)

    def __ge__(self, other: object) -> Expr:
        return self._compare("ge", other)

    def __lt__(self, other: object) -> Expr:
        return self._compare("lt", other)

    def __le__(self, other: object) -> Expr:
        return self._compare("le", other)

    # ``==`` builds an expression, so terms cannot be set members or dict keys.
    __hash__ = None  # type: ignore[assignment]

    def eq(self, other: object) -> Expr:
        """``self eq other``."""
        return self._compare("eq", other)

    def ne(self, other: object) -> Expr:
        """``self ne other``."""
        return self._compare("ne", other)

    def gt(self, other: object) -> Expr:
        """``self gt other``."""
        return self._compare("gt", other)

    def ge(self, other: object) -> Expr:
        """``self ge other``."""
        return self._compare("ge", other)

    def lt(self, other: object) -> Expr:
        """``self lt other``."""
        return self._compare("lt", other)

    def le(self, other: object) -> Expr:
        """``self le other``."""
        return self._compare("le", other)

    def _text_argument(self, value: str | Term | Raw, function: str) -> str:
        if not isinstance(value, (str, Term, Raw)):
            raise TypeError(f"{function}() takes a str, got {type(value).__name__}")
        return _value(value, None)

    def startswith(self, prefix: str | Term | Raw) -> Expr:
        """``startswith(self,prefix)``."""
        argument = self._text_argument(prefix, "startswith")
        return Predicate(f"startswith({self._render_term()},{argument})")

    def endswith(self, suffix: str | Term | Raw) -> Expr:
        """``endswith(self,suffix)``."""
        argument = self._text_argument(suffix, "endswith")
        return Predicate(f"endswith({self._render_term()},{argument})")

    def contains(self, text: str | Term | Raw) -> Expr:
        """``substringof(text,self)`` (note the argument order of the API's function)."""
        argument = self._text_argument(text, "contains")
        return Predicate(f"substringof({argument},{self._render_term()})")

    def lower(self) -> Term:
        """``tolower(self)``, e.g. for case-insensitive comparisons."""
        return _TextTerm(f"tolower({self._render_term()})")

    def in_(self, values: Iterable[object]) -> Expr:
        """``self in (v1,v2,…)``."""
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(f"in_() takes an iterable of values, got {type(values).__name__}")
        rendered = [_value(value, self._field_name()) for value in values]
        if not rendered:
            raise ValueError("in_() needs at least one value")
        return Comparison(self._render_term(), "in", f"({','.join(rendered)})")


@attrs.frozen(eq=False)
class _TextTerm(Term):
    """A term that is already rendered (``tolower(x)``, ``tags/count()``)."""

    text: str

    def _render_term(self) -> str:
        return self.text


# ------------------------------------------------------------------------------ model binding


@attrs.frozen
class _Shape:
    """What is known about a field's type: a nested model, a scalar, or nothing (free)."""

    kind: Literal["free", "model", "leaf"]
    model: type | None = None
    collection: bool | None = None
    element: _Shape | None = None
    type_name: str = ""


_FREE: Final = _Shape("free")
_COLLECTION_ORIGINS: Final = frozenset(
    {
        tuple,
        list,
        set,
        frozenset,
        collections.abc.Sequence,
        collections.abc.MutableSequence,
        collections.abc.Set,
        collections.abc.MutableSet,
        collections.abc.Collection,
        collections.abc.Iterable,
    }
)


def _shape_of(annotation: object) -> _Shape:
    """Unwrap ``X | None``, ``Annotated[X, …]`` and ``tuple[X, ...]`` into a :class:`_Shape`."""
    if annotation is None or isinstance(annotation, (str, typing.ForwardRef)):
        return _FREE
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _shape_of(args[0])
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in args if arg is not type(None)]
        return _shape_of(members[0]) if len(members) == 1 else _FREE
    if origin in _COLLECTION_ORIGINS:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return _FREE
        element = _shape_of(args[0]) if args else _FREE
        return _Shape("leaf", collection=True, element=element, type_name="collection")
    if isinstance(annotation, type) and attrs.has(annotation):
        return _Shape("model", model=annotation, collection=False, type_name=annotation.__name__)
    name = getattr(annotation, "__name__", None) or repr(annotation)
    return _Shape("leaf", collection=False, type_name=name)


@functools.cache
def _model_shapes(model: type) -> dict[str, _Shape]:
    """Attribute name -> shape for an attrs class (hints resolved once per class)."""
    try:
        hints = typing.get_type_hints(model, include_extras=True)
    except Exception:  # unresolvable forward references: still check the names
        hints = {}
    shapes: dict[str, _Shape] = {}
    for field in attrs.fields(model):
        annotation = hints.get(field.name, field.type)
        shapes[field.name] = _shape_of(annotation)
    return shapes


def _unknown_name(model: type, name: str, known: Iterable[str]) -> AttributeError:
    candidates = list(known)
    matches = [to_snake(name)] if to_snake(name) in candidates else []
    matches += [m for m in difflib.get_close_matches(name, candidates, n=3) if m not in matches]
    hint = f"; did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""
    return AttributeError(f"{model.__name__} has no field {name!r}{hint}")


def _lambda_variable(function: Callable[..., object], scope: tuple[str, ...]) -> str:
    """The lambda's parameter name if usable (``lambda t: …`` -> ``t``), made unique in scope."""
    name = "x"
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    first = parameters[0] if parameters else None
    if first and first.kind in positional and _LAMBDA_VAR_RE.fullmatch(first.name):
        name = first.name
    unique, counter = name, 1
    while unique in scope:
        unique, counter = f"{name}{counter}", counter + 1
    return unique


# -------------------------------------------------------------------------------------- fields


class Field(Term):
    """A property path. Attribute access walks into nested objects: ``F.project.company.id``.

    Create roots with :data:`F` (any name) or :func:`Fields` (names checked against a model).
    """

    __slots__ = ("_name", "_scope", "_segments", "_shape", "_var")

    _segments: tuple[str, ...]
    _var: str | None
    _shape: _Shape
    _scope: tuple[str, ...]
    _name: str | None

    def __init__(
        self,
        segments: tuple[str, ...] = (),
        *,
        shape: _Shape = _FREE,
        var: str | None = None,
        scope: tuple[str, ...] = (),
        name: str | None = None,
    ) -> None:
        """Internal; start from :data:`F`, :func:`Fields` or a lambda's item instead."""
        for segment in segments:
            _check_field_name(segment)
        if var is not None and not _LAMBDA_VAR_RE.fullmatch(var):
            raise ValueError(f"invalid lambda variable {var!r}")
        object.__setattr__(self, "_segments", segments)
        object.__setattr__(self, "_shape", shape)
        object.__setattr__(self, "_var", var)
        object.__setattr__(self, "_scope", scope)
        object.__setattr__(self, "_name", name)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _path(self) -> str:
        parts = ((self._var,) if self._var else ()) + self._segments
        return "/".join(parts)

    def _render_term(self) -> str:
        path = self._path()
        if not path:
            raise ValueError("select a field first, e.g. F.id")
        return path

    def _field_name(self) -> str | None:
        return self._name

    def __str__(self) -> str:
        return self._render_term()

    def __repr__(self) -> str:
        path = self._path() or "<root>"
        model = self._shape.model
        bound = f", model={model.__name__}" if self._shape.kind == "model" and model else ""
        return f"Field({path!r}{bound})"

    def __getattr__(self, name: str) -> Field:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, name: str) -> Field:
        """``F["count"]``: a field whose name clashes with a method of this class."""
        return self._child(name)

    def _child(self, name: str) -> Field:
        """The one way to a child field (attributes, ``[...]``, model-bound roots): the name
        is checked first, so no filter text can be smuggled in as a field name."""
        _check_field_name(name)
        shape = self._shape
        if shape.collection:
            raise AttributeError(
                f"{self._path()!r} is a collection; filter its items with "
                f".any(lambda item: item.{name} == …)"
            )
        if shape.kind == "leaf":
            raise AttributeError(
                f"{self._path()!r} is a {shape.type_name}, it has no field {name!r}"
            )
        child = _FREE
        if shape.kind == "model" and shape.model is not None:
            shapes = _model_shapes(shape.model)
            if name not in shapes:
                raise _unknown_name(shape.model, name, shapes)
            child = shapes[name]
        return Field(
            (*self._segments, to_camel(name)),
            shape=child,
            var=self._var,
            scope=self._scope,
            name=name,
        )

    def _lambda(self, function: str, predicate: Callable[[Field], Expr] | None) -> str:
        """``path/function(var: body)`` or ``path/function()``."""
        if self._shape.collection is False:
            raise TypeError(f"{self._path()!r} is not a collection, {function}() needs one")
        path = self._render_term()
        if predicate is None:
            return f"{path}/{function}()"
        if not callable(predicate):
            raise TypeError(f"{function}() takes a function, got {type(predicate).__name__}")
        var = _lambda_variable(predicate, self._scope)
        item = Field(
            shape=self._shape.element or _FREE,
            var=var,
            scope=(*self._scope, var),
        )
        body = predicate(item)
        if not isinstance(body, Expr):
            raise TypeError(
                f"the {function}() predicate must return a filter expression, "
                f"got {type(body).__name__} (compare fields, e.g. {var}.name == 'x')"
            )
        return f"{path}/{function}({var}: {body})"

    def any(self, predicate: Callable[[Field], Expr] | None = None) -> Expr:
        """``path/any(t: …)``: some item matches (``path/any()``: the collection is not empty)."""
        return Predicate(self._lambda("any", predicate))

    def none(self, predicate: Callable[[Field], Expr] | None = None) -> Expr:
        """``path/any(t: …) eq false``: no item matches (the form the API docs recommend)."""
        return Comparison(self._lambda("any", predicate), "eq", "false")

    def count(self, predicate: Callable[[Field], Expr] | None = None) -> Term:
        """``path/count()`` or ``path/count(t: …)``, to compare with a number."""
        return _TextTerm(self._lambda("count", predicate))


def _check_field_name(name: object) -> None:
    """A field name is a Python identifier (``ValueError`` for ``"note eq 'a' or x"``)."""
    if not isinstance(name, str):
        raise TypeError(f"field names are str, got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(
            f"invalid field name {name!r}: a field name is an identifier such as "
            "'start_date_utc' (use raw() for hand-written filter text)"
        )


def Fields(model: type) -> Field:
    """A root whose names are checked against the attrs class ``model``, e.g. ``Fields(TimeEntry)``.

    Unknown names raise ``AttributeError`` with a suggestion; nested paths follow the attribute
    types (``X | None`` and ``tuple[X, ...]`` are unwrapped).
    """
    if not (isinstance(model, type) and attrs.has(model)):
        raise TypeError(f"Fields() takes an attrs class, got {model!r}")
    return Field(shape=_Shape("model", model=model, collection=False, type_name=model.__name__))


#: Root of field paths bound to no model: any name is accepted and written in camelCase.
F: Final = Field()

# ------------------------------------------------------------------------------------ ordering


@attrs.frozen
class OrderBy:
    """One or more ``orderby`` keys; ``str()`` joins them with commas (no spaces)."""

    keys: tuple[str, ...]

    def __str__(self) -> str:
        return ",".join(self.keys)


#: Alias kept for annotations written against the earlier name.
OrderKey = OrderBy


def _order_path(field: Field | str, *, direction: bool = False) -> str:
    """A key's text: a field's path, or a checked ``str`` (a property path ``a/b``, followed
    by ``asc`` or ``desc`` where ``direction``)."""
    if isinstance(field, Field):
        if field._var is not None:
            raise ValueError("lambda variables cannot be used in orderby")
        return field._render_term()
    if isinstance(field, str):
        text = " ".join(field.split())
        if not text:
            raise ValueError("an orderby key must not be empty")
        pattern = _ORDER_KEY_RE if direction else _PATH_RE
        if not pattern.fullmatch(text):
            expected = "a property path such as 'start_date_utc' or 'project/name'"
            if direction:
                expected += ", optionally followed by asc or desc"
            raise ValueError(f"invalid orderby key {text!r}: expected {expected}")
        return text
    raise TypeError(f"orderby keys are fields or str, got {type(field).__name__}")


def asc(field: Field | str) -> OrderBy:
    """``path asc``."""
    return OrderBy((f"{_order_path(field)} asc",))


def desc(field: Field | str) -> OrderBy:
    """``path desc``."""
    return OrderBy((f"{_order_path(field)} desc",))


def order_by(*keys: OrderBy | Field | str) -> OrderBy:
    """Several keys in priority order: ``order_by(desc(F.start_date_utc), F.id)``.

    A bare field sorts ascending (the API's default); a ``str`` key is a property path,
    optionally followed by ``asc`` or ``desc`` (``"LastName desc"``), used as written.
    Anything else raises ``ValueError``: :func:`to_order_string` takes a whole raw ``str``.
    """
    rendered: list[str] = []
    for key in keys:
        if isinstance(key, OrderBy):
            rendered.extend(key.keys)
        else:
            rendered.append(_order_path(key, direction=True))
    if not rendered:
        raise ValueError("order_by() needs at least one key")
    return OrderBy(tuple(rendered))


# -------------------------------------------------------------------------------- integration


def to_filter_string(value: str | Expr | None) -> str | None:
    """The ``filterby`` query value: rendered expression, raw ``str`` as is, ``None`` if empty."""
    given: object = value  # checked at run time too: callers may not use a type checker
    if given is None:
        return None
    if isinstance(given, str):
        return given if given.strip() else None
    if isinstance(given, Expr):
        return given._render()
    hint = "; compare the field, e.g. F.x == value" if isinstance(given, Term) else ""
    raise TypeError(
        f"filterby takes a str or a filter expression, got {type(given).__name__}{hint}"
    )


def to_order_string(
    value: str | OrderBy | Field | Sequence[OrderBy | Field | str] | None,
) -> str | None:
    """The ``orderby`` query value: keys joined by commas, raw ``str`` as is, ``None`` if empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (OrderBy, Field)):
        return str(order_by(value))
    if isinstance(value, Sequence):
        return str(order_by(*value)) if value else None
    raise TypeError(f"orderby takes a str, a field or order_by(...), got {type(value).__name__}")
