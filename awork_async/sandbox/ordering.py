"""The ``orderby`` parameter: ``key [asc|desc],key2 desc`` with nested ``a/b`` paths (pure).

Sorting is stable and multi-key. Each key's column is computed once per sort: nulls (and
objects or lists) first ascending and last descending (SQL Server style), then numbers and
booleans, then strings. A column whose strings are all date-times (``createdOn``, ``startDateUtc``
…) is ordered by the parsed instant, not by the text, so ``…:05Z`` sorts before ``…:05.123Z``
(the text would put it after); other strings sort ignoring case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Final

from ._timeutil import to_naive_utc
from .filtering import FilterSyntaxError, Row, key_path_getter

__all__ = ["LeadIndex", "OrderKey", "SortedRows", "order_rows", "parse_orderby", "sort_rows"]

_SEGMENT_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_KEYS: Final = 16
#: Rank of nulls, objects and lists / of numbers and booleans / of strings and date-times.
_NULL, _NUMBER, _TEXT = 0, 1, 2


@dataclass(frozen=True)
class OrderKey:
    """One sort key: canonical path segments and direction."""

    path: tuple[str, ...]
    descending: bool = False


def parse_orderby(text: str, names: Mapping[str, str] | None = None) -> list[OrderKey]:
    """Parse ``orderby``; raise :class:`FilterSyntaxError` on bad syntax or unknown properties."""
    parts = text.split(",")
    if len(parts) > _MAX_KEYS:
        raise FilterSyntaxError(f"at most {_MAX_KEYS} order keys are supported")
    keys: list[OrderKey] = []
    for part in parts:
        words = part.split()
        if not words or len(words) > 2:
            raise FilterSyntaxError(f"invalid order key {part.strip()!r}")
        descending = False
        if len(words) == 2:
            direction = words[1].lower()
            if direction not in ("asc", "desc"):
                raise FilterSyntaxError(f"invalid sort direction {words[1]!r}")
            descending = direction == "desc"
        segments: list[str] = []
        for seg in words[0].split("/"):
            if not _SEGMENT_RE.match(seg):
                raise FilterSyntaxError(f"invalid property path {words[0]!r}")
            if names is not None:
                canonical = names.get(seg.lower())
                if canonical is None:
                    raise FilterSyntaxError(f"unknown property {seg!r}")
                seg = canonical
            segments.append(seg)
        keys.append(OrderKey(tuple(segments), descending))
    return keys


@dataclass(frozen=True)
class LeadIndex:
    """Parsed values of an ascending date-time leading sort key, for binary search.

    ``values[i]`` is the (naive UTC) key of ``rows[start + i]``; the ``start`` rows before them
    have no date-time there (null), so no range condition on the key matches them.
    """

    start: int
    values: list[datetime]


@dataclass(frozen=True)
class SortedRows:
    """Rows in order, with a :class:`LeadIndex` when the first key allows range look-ups."""

    rows: list[Row]
    lead: LeadIndex | None = None


@dataclass(frozen=True)
class _Column:
    """One key's sort values for every row (index-aligned with the input)."""

    ranks: list[int]
    values: list[object]
    #: Every value is null-like or a date-time string (so ``values`` holds datetimes).
    dates: bool

    @property
    def keys(self) -> Sequence[Any]:
        """Per-row sort keys: the bare values when all ranks are equal, else (rank, value).

        (``Any``: the values are of whatever comparable types the column holds.)
        """
        if len(set(self.ranks)) == 1:
            return self.values
        return list(zip(self.ranks, self.values, strict=True))

    def ranked(self) -> list[tuple[int, object]]:
        """(rank, value) for every row."""
        return list(zip(self.ranks, self.values, strict=True))


def _is_null(value: object) -> bool:
    return value is None or isinstance(value, (dict, list, Mapping))


def _date_column(raw: list[object]) -> _Column | None:
    """The column as parsed date-times, or ``None`` when a value is neither null nor one."""
    ranks: list[int] = []
    values: list[object] = []
    for value in raw:
        if isinstance(value, str):
            parsed = to_naive_utc(value)
            if parsed is None:
                return None
            ranks.append(_TEXT)
            values.append(parsed)
        elif _is_null(value):
            ranks.append(_NULL)
            values.append(0)
        else:
            return None
    return _Column(ranks, values, True)


def _column(rows: Sequence[Row], path: tuple[str, ...]) -> _Column:
    if len(path) == 1:
        name = path[0]
        raw = [row.get(name) for row in rows]
    else:
        raw = list(map(key_path_getter(path), rows))
    if raw and set(map(type, raw)) == {str}:  # the common case, done in bulk
        texts: list[str] = raw  # type: ignore[assignment]
        uniform = [_TEXT] * len(texts)
        if to_naive_utc(texts[0]) is not None:
            parsed = list(map(to_naive_utc, texts))
            if all(parsed):  # datetimes are always true: this looks for a None, fast
                return _Column(uniform, parsed, True)  # type: ignore[arg-type]
        return _Column(uniform, list(map(str.lower, texts)), False)
    dated = _date_column(raw)
    if dated is not None:
        return dated
    ranks: list[int] = []
    values: list[object] = []
    for value in raw:
        if isinstance(value, str):
            ranks.append(_TEXT)
            values.append(value.lower())
        elif _is_null(value):
            ranks.append(_NULL)
            values.append(0)
        elif isinstance(value, bool):
            ranks.append(_NUMBER)
            values.append(int(value))
        else:
            ranks.append(_NUMBER)
            values.append(value)
    return _Column(ranks, values, False)


def _sorted_indexes(order: list[int], columns: list[_Column], descending: bool) -> list[int]:
    """``order`` stably sorted by ``columns`` (all in one direction)."""
    if len(columns) == 1:
        keys: Sequence[Any] = columns[0].keys
    else:
        keys = list(zip(*(c.keys for c in columns), strict=True))
    try:
        return sorted(order, key=keys.__getitem__, reverse=descending)
    except TypeError:  # values that do not compare: sort key by key, each as text
        for column in reversed(columns):
            texts = [str(v) for v in column.ranked()]
            order = sorted(order, key=texts.__getitem__, reverse=descending)
        return order


def order_rows(rows: Sequence[Row], keys: Sequence[OrderKey]) -> SortedRows:
    """Stable multi-key sort of ``rows``, with a :class:`LeadIndex` when one is possible.

    The index exists when the first key is ascending and its column holds only date-times
    (and nulls): a range condition on that key then selects a contiguous slice.
    """
    if not keys:
        return SortedRows(list(rows))
    columns = [_column(rows, key.path) for key in keys]
    order = list(range(len(rows)))
    runs = [
        (descending, [columns[i] for i, _ in group])
        for descending, group in groupby(enumerate(keys), key=lambda item: item[1].descending)
    ]
    for descending, run in reversed(runs):
        order = _sorted_indexes(order, run, descending)
    result = [rows[i] for i in order]
    lead: LeadIndex | None = None
    first = columns[0]
    if first.dates and not keys[0].descending:
        start = first.ranks.count(_NULL)
        column = first.values
        values: list[datetime] = [column[i] for i in order[start:]]  # type: ignore[misc]
        lead = LeadIndex(start, values)
    return SortedRows(result, lead)


def sort_rows(rows: Sequence[Row], keys: Sequence[OrderKey]) -> list[Row]:
    """Stable multi-key sort. Nulls sort first ascending and last descending (SQL Server style).

    Date-time strings compare as instants (see the module docstring), other strings ignoring
    case.
    """
    return order_rows(rows, keys).rows
