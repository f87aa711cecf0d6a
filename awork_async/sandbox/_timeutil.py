"""Date and time helpers of the sandbox: split date/time strings, .NET ticks, zones (pure)."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "RANGE_TEXT",
    "UTC",
    "TimeRangeError",
    "checked_instant",
    "date_local",
    "date_utc",
    "iso_utc",
    "load_zone",
    "parse_date",
    "parse_datetime",
    "parse_time",
    "shift",
    "split_local",
    "split_utc",
    "time_str",
    "to_naive_utc",
    "to_ticks",
    "to_utc",
]

UTC = timezone.utc

#: .NET ticks (100 ns) between 0001-01-01 and the Unix epoch.
_TICKS_AT_EPOCH = 621_355_968_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The instants an entry may start or end at: a day inside ``datetime``'s years 1..9999, so that
#: the wall-clock time in every zone (offsets stay under a day) can be written too.
MIN_INSTANT: Final = datetime(1, 1, 2, tzinfo=UTC)
MAX_INSTANT: Final = datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)


class TimeRangeError(ValueError):
    """A date-time, or the result of arithmetic on one, lies outside what the sandbox stores.

    The one guard against ``OverflowError`` at the edges of years 1 and 9999: the routes turn it
    into 400 ``validation-failed`` (bodies) or ``invalid-filter-or-order`` (filters).
    """


#: ``0001-01-02 and 9999-12-30 (UTC)``: the range in messages.
RANGE_TEXT: Final = f"{MIN_INSTANT.isoformat()[:10]} and {MAX_INSTANT.isoformat()[:10]} (UTC)"


def to_utc(value: datetime, zone: tzinfo | None = None) -> datetime:
    """``value`` as an aware UTC datetime; a naive ``value`` is read in ``zone`` (or UTC).

    Raises :class:`TimeRangeError` when the instant is not representable (``0001-01-01T00:00
    +05:00`` is in year 0).
    """
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone or UTC)
        return aware.astimezone(UTC)
    except OverflowError:
        raise TimeRangeError(f"{value.isoformat()} is outside years 1 to 9999") from None


def checked_instant(moment: datetime) -> datetime:
    """``moment`` (aware) if it lies in :data:`MIN_INSTANT`..:data:`MAX_INSTANT`, else raise
    :class:`TimeRangeError`."""
    if not MIN_INSTANT <= moment <= MAX_INSTANT:
        raise TimeRangeError(f"times must lie between {RANGE_TEXT}")
    return moment


def shift(moment: datetime, seconds: int) -> datetime:
    """``moment`` plus ``seconds``, within :data:`MIN_INSTANT`..:data:`MAX_INSTANT` (else
    :class:`TimeRangeError`)."""
    try:
        return checked_instant(moment + timedelta(seconds=seconds))
    except OverflowError:
        raise TimeRangeError(f"times must lie between {RANGE_TEXT}") from None


_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$")


def to_ticks(moment: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01 UTC) of an aware datetime (``resourceVersion``)."""
    delta = moment - _EPOCH
    return (
        _TICKS_AT_EPOCH
        + (delta.days * 86_400 + delta.seconds) * 10_000_000
        + (delta.microseconds * 10)
    )


def iso_utc(moment: datetime) -> str:
    """``2024-05-14T10:00:00Z`` (milliseconds added when present) for an aware datetime."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    return moment.isoformat(timespec="seconds")[:-6] + "Z"


def date_utc(day: date) -> str:
    """awork's UTC date field: ``YYYY-MM-DDT00:00:00Z``."""
    return day.isoformat()[:10] + "T00:00:00Z"


def date_local(day: date) -> str:
    """awork's local date field: ``YYYY-MM-DDT00:00:00`` (no offset)."""
    return day.isoformat()[:10] + "T00:00:00"


def split_utc(moment: datetime) -> tuple[str, str]:
    """(``YYYY-MM-DDT00:00:00Z``, ``HH:MM:SS``) of an aware or naive-UTC datetime."""
    text = moment.isoformat(timespec="seconds")
    return text[:10] + "T00:00:00Z", text[11:19]


def split_local(moment: datetime) -> tuple[str, str]:
    """(``YYYY-MM-DDT00:00:00``, ``HH:MM:SS``): the wall-clock date and time, no offset."""
    text = moment.isoformat(timespec="seconds")
    return text[:10] + "T00:00:00", text[11:19]


def time_str(moment: datetime | time) -> str:
    """``HH:MM:SS`` of a datetime or time."""
    return (
        moment.isoformat(timespec="seconds")[-8:]
        if isinstance(moment, time)
        else (moment.isoformat(timespec="seconds")[11:19])
    )


def _fraction(text: str | None) -> int:
    return int((text or "0").ljust(6, "0")[:6])


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO date or date-time (optional seconds, fraction up to 7 digits, ``Z``/offset).

    Returns an aware datetime when the text has an offset, a naive one otherwise, ``None`` when
    the text is not such a value.
    """
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, offset = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            _fraction(frac),
        )
    except ValueError:
        return None
    if offset is None:
        return value
    if offset in ("Z", "z"):
        return value.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    return value.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def _canonical_utc(text: str) -> datetime | None:
    """Fast path of :func:`to_naive_utc` for ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (what awork sends).

    ``None`` when ``text`` does not have exactly that shape (the slow path decides then).
    """
    size = len(text)
    if (
        (size == 20 or (size == 24 and text[19] == "."))
        and text[-1] == "Z"
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and text.isascii()
    ):
        try:
            value = datetime.fromisoformat(text[:-1])
        except ValueError:
            return None
        return value if value.tzinfo is None else None
    return None


@functools.lru_cache(maxsize=65_536)
def _to_naive_utc(text: str) -> datetime | None:
    value = parse_datetime(text)
    if value is None or value.tzinfo is None:
        return value
    try:
        return to_utc(value).replace(tzinfo=None)
    except TimeRangeError:
        return None


def to_naive_utc(text: str) -> datetime | None:
    """Parse like :func:`parse_datetime` and normalise to a naive UTC datetime (cached);
    ``None`` also when the instant is outside years 1 to 9999."""
    return _canonical_utc(text) or _to_naive_utc(text)


def parse_time(text: str) -> time | None:
    """Parse a time of day ``HH:MM[:SS[.fffffff]]``; ``None`` when invalid."""
    match = _TIME_RE.match(text)
    if match is None:
        return None
    hour, minute, second, frac = match.groups()
    try:
        return time(int(hour), int(minute), int(second or 0), _fraction(frac))
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``; ``None`` when invalid."""
    match = _DATE_RE.match(text)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


@functools.lru_cache(maxsize=512)
def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called ``name``, or ``None`` when it is not a valid zone name."""
    if not name or len(name) > 64 or not _ZONE_RE.match(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


# ---- fast paths on epoch seconds (used to generate 100k entries in about a second) ----------

_EPOCH_DATE = date(1970, 1, 1)


@functools.cache
def _time_of_day(second: int) -> str:
    hours, rest = divmod(second, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@functools.cache
def _day_text(day_number: int) -> str:
    return (_EPOCH_DATE + timedelta(days=day_number)).isoformat()


@functools.lru_cache(maxsize=200_000)
def zone_offset(zone_name: str, epoch_hour: int) -> int:
    """UTC offset in seconds of zone ``zone_name`` during the UTC hour ``epoch_hour`` (cached)."""
    zone = load_zone(zone_name)
    if zone is None:
        return 0
    offset = datetime.fromtimestamp(epoch_hour * 3600, tz=zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def epoch_split_utc(epoch: int) -> tuple[str, str]:
    """Like :func:`split_utc` for Unix seconds."""
    day, second = divmod(epoch, 86_400)
    return _day_text(day) + "T00:00:00Z", _time_of_day(second)


def epoch_split_local(epoch: int, zone_name: str) -> tuple[str, str]:
    """Like :func:`split_local` for Unix seconds shown in ``zone_name``."""
    day, second = divmod(epoch + zone_offset(zone_name, epoch // 3600), 86_400)
    return _day_text(day) + "T00:00:00", _time_of_day(second)


def epoch_iso_utc(epoch: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for Unix seconds."""
    day, second = divmod(epoch, 86_400)
    return f"{_day_text(day)}T{_time_of_day(second)}Z"


def epoch_ticks(epoch: int) -> int:
    """.NET ticks of Unix seconds."""
    return _TICKS_AT_EPOCH + epoch * 10_000_000


def local_wall_to_epoch(wall: int, zone_name: str) -> int:
    """Unix seconds of a wall-clock time given as "seconds since 1970-01-01 local"."""
    utc = wall - zone_offset(zone_name, wall // 3600)
    second_try = wall - zone_offset(zone_name, utc // 3600)
    return second_try
