"""Turning option values into typed values and filters (pure; no I/O, no typer).

Every function raises :class:`CliUsageError` with a message naming the option.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from ._errors import CliUsageError

__all__ = [
    "DateRange",
    "entry_filter",
    "parse_date",
    "parse_date_range",
    "parse_rate_limit",
    "parse_uuid",
]

DateRange = tuple[dt.date | None, dt.date | None]


_RELATIVE_DAY = re.compile(r"(today|yesterday)(?:-(\d{1,5}))?")


def utc_today() -> dt.date:
    """Today's date in UTC (the day ``today`` means in date options)."""
    return dt.datetime.now(dt.timezone.utc).date()


def parse_date(text: str | None, option: str, *, today: dt.date | None = None) -> dt.date | None:
    """``YYYY-MM-DD``, ``today``, ``yesterday`` or ``today-N`` (N days ago) -> ``date``.

    ``today`` is the UTC date (the date options filter on UTC days). ``None`` stays ``None``.
    """
    if text is None:
        return None
    relative = _RELATIVE_DAY.fullmatch(text.strip().lower())
    if relative is not None:
        day = today if today is not None else utc_today()
        back = int(relative.group(2) or 0) + (1 if relative.group(1) == "yesterday" else 0)
        return day - dt.timedelta(days=back)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CliUsageError(
            f"{option}: {text!r} is not a date (expected YYYY-MM-DD, today, yesterday "
            "or today-N for N days ago)"
        ) from None


def parse_date_range(
    start: str | None, end: str | None, *, today: dt.date | None = None
) -> DateRange:
    """``--from``/``--to`` as dates; ``--to`` must not be before ``--from``."""
    first = parse_date(start, "--from", today=today)
    last = parse_date(end, "--to", today=today)
    if first is not None and last is not None and last < first:
        raise CliUsageError(f"--to {last} is before --from {first}")
    return first, last


def parse_uuid(text: str, option: str) -> uuid.UUID:
    """An id option (a UUID)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise CliUsageError(f"{option}: {text!r} is not an id (expected a UUID)") from None


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def entry_filter(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    user: uuid.UUID | None = None,
    project: uuid.UUID | None = None,
    billable: bool | None = None,
    raw_filter: str | None = None,
) -> str | None:
    """The ``filterby`` for the export options, or ``None`` when no option narrows the list.

    Dates compare ``startDateUtc``: ``--from D`` is ``ge D 00:00 UTC`` and ``--to D`` is
    ``lt D+1 00:00 UTC`` (the whole day is included). ``raw_filter`` is and-ed as written.
    """
    from ..filters import Expr, F, and_, raw, to_filter_string

    parts: list[Expr] = []
    if date_from is not None:
        parts.append(F.start_date_utc.ge(_utc_midnight(date_from)))
    if date_to is not None:
        parts.append(F.start_date_utc.lt(_utc_midnight(date_to + dt.timedelta(days=1))))
    if user is not None:
        parts.append(F.user_id.eq(user))
    if project is not None:
        parts.append(F.project_id.eq(project))
    if billable is not None:
        parts.append(F.is_billable.eq(billable))
    if raw_filter is not None:
        if not raw_filter.strip():
            raise CliUsageError("--filterby must not be empty")
        parts.append(raw(raw_filter))
    return to_filter_string(and_(*parts)) if parts else None


def parse_rate_limit(text: str | None) -> tuple[int, int] | None:
    """``"50/1000"`` -> ``(50, 1000)`` requests per second / per minute; ``None`` stays off."""
    if text is None:
        return None
    second, sep, minute = text.partition("/")
    try:
        if not sep:
            raise ValueError(text)
        values = int(second), int(minute)
    except ValueError:
        raise CliUsageError(
            f"--rate-limit: {text!r} is not PER_SECOND/PER_MINUTE (e.g. 50/1000)"
        ) from None
    if min(values) < 1:
        raise CliUsageError("--rate-limit: both limits must be at least 1")
    return values
