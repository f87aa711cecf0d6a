"""Keyset windows: where a walk stands (:class:`KeysetCursor`) and the query of the next window.

Pure. See :mod:`awork_async.export` for the walk they serve (which re-exports the public names).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeAlias
from uuid import UUID

import attrs

from ._converter import JSONValue
from ._timeutil import parse_utc_datetime
from .filters import Expr, F, Field, and_, to_filter_string

if TYPE_CHECKING:
    from ._validation import FilterLike

#: A time entry exactly as the API sent it (camelCase keys).
Row: TypeAlias = dict[str, JSONValue]


#: The finest step of a Python datetime: the width of a tie group's window.
_ONE_MICROSECOND: Final = timedelta(microseconds=1)


@attrs.frozen
class KeysetCursor:
    """Where a keyset walk stands (pure data).

    Attributes:
        key: the sort key (e.g. ``createdOn``) of the last entry delivered; ``None`` before any.
        boundary_ids: ids delivered whose key equals ``key``; the inclusive window re-reads them
            and they are skipped.
        in_group: walking a tie group (more entries share ``key`` than fit in one page) in the
            server's id order.
        group_after: inside a tie group, the last id done (``None`` at the group's start).
    """

    key: datetime | None = None
    boundary_ids: tuple[UUID, ...] = ()
    in_group: bool = False
    group_after: UUID | None = None


def window_query(
    field: str,
    cursor: KeysetCursor,
    filterby: FilterLike = None,
    upper: datetime | None = None,
) -> tuple[str | None, str]:
    """The ``filterby`` and ``orderby`` of the window after ``cursor`` (pure).

    ``field`` is the camelCase sort key (``createdOn``, ``updatedOn``). The caller's filter is
    combined by ``and`` (parenthesised as needed). ``upper`` is the exclusive upper bound of a
    partition (not needed inside a tie group, which lies within one).
    """
    user = to_filter_string(filterby)
    term: Field = getattr(F, field)
    parts: list[Expr | str] = [] if user is None else [user]
    if cursor.in_group:
        if cursor.key is None:
            raise ValueError("a tie group needs a key")
        parts += [term >= cursor.key, term < cursor.key + _ONE_MICROSECOND]
        if cursor.group_after is not None:
            parts.append(F.id > cursor.group_after)
        order = "id"
    else:
        if cursor.key is not None:
            parts.append(term >= cursor.key)
        if upper is not None:
            parts.append(term < upper)
        order = f"{field},id"
    if not parts:
        return None, order
    return str(and_(*parts)), order


def _row_key(row: Row, field: str) -> tuple[datetime, UUID]:
    """(``field`` as an aware datetime, ``id``) of a raw entry; ``ValueError`` when missing.

    The error quotes no value of the answer (which may echo a secret) and chains nothing.
    """
    raw_id, value = row.get("id"), row.get(field)
    entry_id: UUID | None = None
    key: datetime | None = None
    with contextlib.suppress(ValueError, TypeError):
        entry_id = UUID(raw_id) if isinstance(raw_id, str) else None
    if entry_id is None:
        raise ValueError("a time entry has no valid id")
    if not isinstance(value, str):
        raise ValueError(f"time entry {entry_id} has no {field}; it cannot be walked by {field}")
    with contextlib.suppress(ValueError, TypeError):
        key = parse_utc_datetime(value)
    if key is None:
        raise ValueError(f"time entry {entry_id} has an invalid {field}")
    return key, entry_id


def _leave_group(cursor: KeysetCursor) -> KeysetCursor:
    """The cursor just after a finished tie group."""
    assert cursor.key is not None
    return KeysetCursor(cursor.key + _ONE_MICROSECOND)
