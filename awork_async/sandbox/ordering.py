"""The ``orderby`` parameter: ``key [asc|desc],key2 desc`` with nested ``a/b`` paths (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .filtering import FilterSyntaxError, Row

__all__ = ["OrderKey", "parse_orderby", "sort_rows"]

_SEGMENT_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_KEYS: Final = 16


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


def _sort_value(row: Row, path: tuple[str, ...]) -> tuple[int, object]:
    cur: object = row
    for key in path:
        if not isinstance(cur, Mapping):
            return (0, 0)
        cur = cur.get(key)
    if cur is None or isinstance(cur, (Mapping, list)):
        return (0, 0)
    if isinstance(cur, str):
        return (2, cur.lower())
    if isinstance(cur, bool):
        return (1, int(cur))
    return (1, cur)


def sort_rows(rows: Sequence[Row], keys: Sequence[OrderKey]) -> list[Row]:
    """Stable multi-key sort. Nulls sort first ascending and last descending (SQL Server style)."""
    result = list(rows)
    for key in reversed(keys):
        path = key.path
        try:
            result.sort(key=lambda row: _sort_value(row, path), reverse=key.descending)
        except TypeError:  # mixed value types in one column: fall back to text
            result.sort(key=lambda row: str(_sort_value(row, path)), reverse=key.descending)
    return result
