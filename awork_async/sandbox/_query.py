"""Query planning over sorted rows (pure): a range on the leading sort key by binary search.

A filter such as ``(isBillable eq true) and createdOn ge datetime'…'`` with
``orderby=createdOn,id`` (what the consistent export sends for every window) splits into

* the *key range* on the leading date-time key (``createdOn ge …``), answered by bisecting the
  sorted rows (:class:`~.ordering.LeadIndex`), and
* the *rest* (``isBillable eq true``), whose result over the sorted rows does not depend on the
  window and can be cached.

The answer is exactly that of applying the whole filter to the sorted rows: a conjunct
``path op datetime`` holds for a row iff the row's parsed date-time lies in the range, rows
without a date-time there never match, and ``and`` does not depend on the order of its parts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .filtering import (
    Compare,
    FilterContext,
    Logical,
    Node,
    Path,
    Row,
    Token,
    Value,
    resolve_token,
)
from .ordering import LeadIndex, SortedRows

__all__ = ["KeyRange", "QueryPlan", "filter_sorted", "plan_filter"]

#: ``op`` seen from the other side (``X le path`` is ``path ge X``).
_FLIPPED: Final = {"eq": "eq", "ge": "le", "gt": "lt", "le": "ge", "lt": "gt"}


@dataclass(frozen=True)
class KeyRange:
    """Bounds on the leading key; ``None`` leaves a side open."""

    lower: datetime | None = None
    lower_inclusive: bool = True
    upper: datetime | None = None
    upper_inclusive: bool = True

    def narrow(self, op: str, value: datetime) -> KeyRange:
        """This range intersected with ``key op value`` (``op`` one of eq, ge, gt, le, lt)."""
        result = self
        if op in ("eq", "ge", "gt"):
            inclusive = op != "gt"
            low = result.lower
            if low is None or value > low:
                result = _replace_lower(result, value, inclusive)
            elif value == low:
                result = _replace_lower(result, value, inclusive and result.lower_inclusive)
        if op in ("eq", "le", "lt"):
            inclusive = op != "lt"
            high = result.upper
            if high is None or value < high:
                result = _replace_upper(result, value, inclusive)
            elif value == high:
                result = _replace_upper(result, value, inclusive and result.upper_inclusive)
        return result

    def select(self, rows: list[Row], lead: LeadIndex) -> list[Row]:
        """The rows (a contiguous slice of ``rows``) whose leading key lies in the range."""
        values = lead.values
        lo, hi = 0, len(values)
        if self.lower is not None:
            bisect = bisect_left if self.lower_inclusive else bisect_right
            lo = bisect(values, self.lower)
        if self.upper is not None:
            bisect = bisect_right if self.upper_inclusive else bisect_left
            hi = bisect(values, self.upper, lo)
        hi = max(lo, hi)
        return rows[lead.start + lo : lead.start + hi]


def _replace_lower(r: KeyRange, value: datetime, inclusive: bool) -> KeyRange:
    return KeyRange(value, inclusive, r.upper, r.upper_inclusive)


def _replace_upper(r: KeyRange, value: datetime, inclusive: bool) -> KeyRange:
    return KeyRange(r.lower, r.lower_inclusive, value, inclusive)


@dataclass(frozen=True)
class QueryPlan:
    """``key_range`` (``None``: no range found) and the rest of the filter (``None``: nothing)."""

    key_range: KeyRange | None
    rest: Node | None


def _conjuncts(node: Node) -> Iterator[Node]:
    if isinstance(node, Logical) and node.op == "and":
        for operand in node.operands:
            yield from _conjuncts(operand)
    else:
        yield node


def _canonical(path: Path, names: Mapping[str, str] | None) -> tuple[str, ...] | None:
    if names is None:
        return path.segments
    out: list[str] = []
    for seg in path.segments:
        canonical = names.get(seg.lower())
        if canonical is None:
            return None
        out.append(canonical)
    return tuple(out)


def _datetime_of(node: Node, ctx: FilterContext) -> datetime | None:
    if isinstance(node, Token) and node.name != "me.id":
        node = resolve_token(node, ctx)
    if isinstance(node, Value) and node.kind == "datetime" and isinstance(node.value, datetime):
        return node.value
    return None


def _as_range_term(
    node: Node, lead: tuple[str, ...], ctx: FilterContext
) -> tuple[str, datetime] | None:
    """``(op, value)`` when ``node`` is ``lead op datetime`` (either side), else ``None``."""
    if not isinstance(node, Compare) or node.op == "ne":
        return None
    op: str = node.op
    if isinstance(node.left, Path):
        path, other = node.left, node.right
    elif isinstance(node.right, Path):
        path, other, op = node.right, node.left, _FLIPPED[op]
    else:
        return None
    if _canonical(path, ctx.names) != lead:
        return None
    value = _datetime_of(other, ctx)
    return None if value is None else (op, value)


def plan_filter(node: Node | None, lead: tuple[str, ...] | None, ctx: FilterContext) -> QueryPlan:
    """Split ``node`` into comparisons of the ``lead`` key with date-times, and the rest.

    ``lead`` is the canonical path of the leading ascending date-time sort key, ``None`` when
    the order has none (then everything is rest).
    """
    if node is None or lead is None:
        return QueryPlan(None, node)
    key_range: KeyRange | None = None
    rest: list[Node] = []
    for part in _conjuncts(node):
        term = _as_range_term(part, lead, ctx)
        if term is None:
            rest.append(part)
        else:
            key_range = (key_range or KeyRange()).narrow(*term)
    if not rest:
        return QueryPlan(key_range, None)
    if key_range is None:
        return QueryPlan(None, node)
    return QueryPlan(key_range, rest[0] if len(rest) == 1 else Logical("and", tuple(rest)))


def filter_sorted(view: SortedRows, predicate: Callable[[Row], bool]) -> SortedRows:
    """The rows of ``view`` that satisfy ``predicate``, in order, keeping the lead index aligned."""
    rows = view.rows
    # Positions rather than (row, key) pairs: ints are not tracked by the garbage collector,
    # so a large result does not set off full collections over the whole store.
    keep = [i for i, row in enumerate(rows) if predicate(row)]
    kept = [rows[i] for i in keep]
    lead = view.lead
    if lead is None:
        return SortedRows(kept)
    start, values = lead.start, lead.values
    head = bisect_left(keep, start)
    return SortedRows(kept, LeadIndex(head, [values[i - start] for i in keep[head:]]))
