"""Rendering results: short human lines, rich tables and JSON (formatting is pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import TimeBooking, TimeEntry, TypeOfWork
    from ..resources import TimerStatus

__all__ = [
    "bookings_rows",
    "format_elapsed",
    "print_json",
    "print_table",
    "timer_action_line",
    "timer_status_line",
    "types_of_work_rows",
]

BOOKING_HEADERS = ("id", "user", "project", "start", "end", "duration", "description")
TYPE_OF_WORK_HEADERS = ("id", "name", "archived", "description")
#: Table width when stdout is not a terminal (ids are not folded in files and pipes).
_PIPE_WIDTH = 240


def format_elapsed(value: dt.timedelta | int | None) -> str:
    """``H:MM:SS`` (``None`` as ``-``); days are folded into the hours."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds()) if isinstance(value, dt.timedelta) else int(value)
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


def _time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "?"


def timer_status_line(status: TimerStatus) -> str:
    """``running for 0:12:03 (since …, entry …)``, ``paused after …`` or ``stopped …``."""
    entry = status.entry
    elapsed = format_elapsed(status.elapsed)
    if entry is None:
        return "stopped (no time entries yet)"
    since = _time(entry.start)
    if status.state.value == "running":
        return f"running for {elapsed} (since {since}, entry {entry.id})"
    if status.state.value == "paused":
        return f"paused after {elapsed} (started {since}, entry {entry.id})"
    return f"stopped (last entry {entry.id}: {elapsed} tracked, started {since})"


def timer_action_line(action: str, entry: TimeEntry | None) -> str:
    """The line printed after ``timer start|stop|pause|resume``."""
    if entry is None:
        return f"no timer to {action}: nothing is running"
    if action == "start":
        return f"timer started at {_time(entry.start)} (entry {entry.id})"
    if action == "stop":
        return f"timer stopped: {format_elapsed(entry.duration)} tracked (entry {entry.id})"
    if action == "pause":
        return f"timer paused (entry {entry.id})"
    return f"timer resumed (entry {entry.id})"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def bookings_rows(bookings: Sequence[TimeBooking]) -> list[tuple[str, ...]]:
    """Table rows for time bookings, in :data:`BOOKING_HEADERS` order."""
    return [
        (
            _text(b.id),
            _text(b.user_id),
            _text(b.project_id),
            _text(b.start_date),
            _text(b.end_date),
            format_elapsed(b.duration) if b.duration is not None else "",
            _text(b.description),
        )
        for b in bookings
    ]


def types_of_work_rows(types: Sequence[TypeOfWork]) -> list[tuple[str, ...]]:
    """Table rows for types of work, in :data:`TYPE_OF_WORK_HEADERS` order."""
    return [
        (_text(t.id), _text(t.name), "yes" if t.is_archived else "no", _text(t.description))
        for t in types
    ]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a rich table on stdout (plain text when stdout is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    import sys

    wide = None if sys.stdout.isatty() else _PIPE_WIDTH
    Console(soft_wrap=False, width=wide).print(table)


def print_json(models: Sequence[object]) -> None:
    """Print models as one indented JSON array (camelCase keys, as the API writes them)."""
    import sys

    import orjson

    from .._converter import unstructure

    data = [unstructure(m) for m in models]
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()
