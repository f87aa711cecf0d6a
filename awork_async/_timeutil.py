"""Pure date/time helpers: tolerant parsing of awork's ISO strings and the exact formats it expects.

awork sends date-times with ``Z``, with ``+00:00``, with 0 to 7 fractional digits
(``.100Z``, ``.5966465+00:00``) and, for the ``*DateLocal`` fields, without any offset
(API notes §7.1, §9.2). Time-of-day fields are separate ``HH:MM:SS[.fffffff]`` strings.

Everything here works on Python 3.10, whose ``datetime.fromisoformat`` knows neither ``Z`` nor odd
fraction lengths: the fast standard parser is tried first, and a regular expression covering
RFC 3339 (plus the lenient forms above) takes over when it refuses.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, timedelta, timezone

__all__ = [
    "TIME_OF_DAY_PATTERN",
    "UTC",
    "WALL_CLOCK",
    "format_date",
    "format_datetime",
    "format_time_of_day",
    "is_aware",
    "parse_date",
    "parse_datetime",
    "parse_local_datetime",
    "parse_time_of_day",
    "parse_utc_datetime",
    "utc_midnight",
]

#: The UTC zone used for every aware value this package produces.
UTC = timezone.utc

#: attrs field-metadata key marking a naive wall-clock date-time field (the ``*DateLocal`` fields):
#: the converter decodes such a field without an offset instead of as an aware UTC value.
WALL_CLOCK = "awork_async.wall_clock"

_DATETIME = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:[Tt\ ]
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
    )?
    \s*
    (?:(?P<zulu>[Zz])|(?P<sign>[+-])(?P<off_h>\d{2}):?(?P<off_m>\d{2}))?
    """,
    re.VERBOSE,
)

#: What a time-of-day string must look like: ``HH:MM``, ``HH:MM:SS`` or ``HH:MM:SS.f+``.
TIME_OF_DAY_PATTERN = re.compile(
    r"(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d)(?:\.(?P<fraction>\d+))?)?"
)

_fromisoformat = datetime.fromisoformat

_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})")


def _microseconds(fraction: str | None) -> int:
    """``"5966465"`` -> ``596646``: any number of fractional digits, truncated to microseconds."""
    if not fraction:
        return 0
    return int(fraction[:6].ljust(6, "0"))


@functools.lru_cache(maxsize=256)
def _offset(sign: str, hours: int, minutes: int) -> timezone:
    """A cached fixed-offset zone (``timezone.utc`` for a zero offset)."""
    delta = timedelta(hours=hours, minutes=minutes)
    if not delta:
        return UTC
    return timezone(-delta if sign == "-" else delta)


def _parse_with_regex(value: str) -> datetime:
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 / RFC 3339 date-time: {value!r}")
    parts = match.groupdict()
    tzinfo: timezone | None = None
    if parts["zulu"]:
        tzinfo = UTC
    elif parts["sign"]:
        tzinfo = _offset(parts["sign"], int(parts["off_h"]), int(parts["off_m"]))
    second = int(parts["second"] or 0)
    # RFC 3339 allows a leap second (``23:59:60``); Python cannot hold it, so it becomes the
    # first instant of the following minute.
    leap = second == 60
    result = datetime(
        int(parts["year"]),
        int(parts["month"]),
        int(parts["day"]),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        59 if leap else second,
        _microseconds(parts["fraction"]),
        tzinfo=tzinfo,
    )
    if leap:
        result = result.replace(microsecond=0) + timedelta(seconds=1)
    return result


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 date-time, keeping whatever offset it carries.

    Accepts ``Z``/``z``, ``±HH:MM`` and ``±HHMM`` offsets, no offset at all (the result is then
    naive), ``T``/``t``/space separators, 0 to any number of fractional digits (truncated to
    microseconds), a leap second and a bare date (midnight). Raises ``ValueError`` otherwise.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date-time string, got {type(value).__name__}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _parse_with_regex(value)


def parse_utc_datetime(value: str) -> datetime:
    """Parse a date-time that must come out timezone-aware.

    The server normally sends UTC fields with ``Z`` or an offset; a value without one is taken as
    UTC, so both shapes decode to the same aware ``datetime``.
    """
    if value.__class__ is str:  # the common case, inlined: this runs for every date-time field
        try:
            result = _fromisoformat(value)
        except ValueError:
            result = _parse_with_regex(value)
    else:
        result = parse_datetime(value)
    if result.tzinfo is None:
        return result.replace(tzinfo=UTC)
    return result


def parse_local_datetime(value: str) -> datetime:
    """Parse a wall-clock date-time that must come out naive (the ``*DateLocal`` fields).

    Should the server ever attach an offset, the wall-clock reading is kept and the offset dropped.
    """
    result = parse_datetime(value)
    if result.tzinfo is not None:
        return result.replace(tzinfo=None)
    return result


def parse_date(value: str) -> date:
    """Parse ``YYYY-MM-DD``; a full date-time string is accepted and its date part returned."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    match = _DATE.fullmatch(value.strip())
    if match is not None:
        return date(int(match["year"]), int(match["month"]), int(match["day"]))
    return parse_datetime(value).date()


def parse_time_of_day(value: str) -> time:
    """Parse an awork time of day (``HH:MM``, ``HH:MM:SS`` or ``HH:MM:SS.f`` with 1-7+ digits)."""
    match = TIME_OF_DAY_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a time of day HH:MM[:SS[.fffffff]]: {value!r}")
    return time(
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"] or 0),
        _microseconds(match["fraction"]),
    )


def is_aware(value: datetime) -> bool:
    """True when ``value`` carries a usable UTC offset."""
    return value.tzinfo is not None and value.utcoffset() is not None


def _timespec(value: datetime) -> str:
    """Seconds, milliseconds (awork's own ``.100Z`` style) or microseconds: the shortest exact."""
    if not value.microsecond:
        return "seconds"
    return "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"


def format_datetime(value: datetime) -> str:
    """The wire form: aware values in UTC with ``Z``; naive values (wall clock) without offset.

    Fractions are written as milliseconds when that is exact (``.100Z``), else as microseconds.

    An aware value too close to ``datetime.min``/``max`` to be moved to UTC keeps its own offset.
    """
    spec = _timespec(value)
    if not is_aware(value):
        return value.replace(tzinfo=None).isoformat(timespec=spec)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return value.isoformat(timespec=spec)
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def format_date(value: date) -> str:
    """``YYYY-MM-DD``."""
    return value.isoformat()


def format_time_of_day(value: time | datetime) -> str:
    """``HH:MM:SS`` (whole seconds, as awork stores them)."""
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def utc_midnight(value: date) -> datetime:
    """The aware UTC midnight that starts ``value`` (what the ``*DateUtc`` fields carry)."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
