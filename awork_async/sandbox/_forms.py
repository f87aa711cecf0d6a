"""Validation of request bodies, collecting awork-style ``validationErrors`` (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

import attrs

from ._http import is_uuid
from ._timeutil import (
    RANGE_TEXT,
    TimeRangeError,
    checked_instant,
    load_zone,
    parse_date,
    parse_datetime,
    parse_time,
    shift,
    to_utc,
)
from .errors import SandboxError, validation_failed

__all__ = ["FormReader", "TimeFields", "resolve_times"]


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


class FormReader:
    """Reads typed fields from a JSON object, remembering every problem for one 400 answer."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.errors: list[tuple[str, str]] = []

    def has(self, name: str) -> bool:
        """Whether the key is present (even when null)."""
        return name in self.body

    def fail(self, name: str, message: str) -> None:
        """Record a problem with ``name``."""
        self.errors.append((_pascal(name), message))

    def _missing(self, name: str, required: bool) -> bool:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, f"'{_pascal(name)}' must not be empty.")
            return True
        return False

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        """A uuid (lower-cased), or ``None``."""
        if self._missing(name, required):
            return None
        value = self.body[name]
        if not is_uuid(value):
            self.fail(name, f"'{_pascal(name)}' is not a valid guid.")
            return None
        return str(value).lower()

    def uuid_list(self, name: str, *, required: bool = False) -> list[str]:
        """A list of uuids (lower-cased)."""
        if self._missing(name, required):
            return []
        value = self.body[name]
        if not isinstance(value, list) or not all(is_uuid(v) for v in value):
            self.fail(name, f"'{_pascal(name)}' must be a list of guids.")
            return []
        if required and not value:
            self.fail(name, f"'{_pascal(name)}' must not be empty.")
        return [str(v).lower() for v in value]

    def string(
        self, name: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        """A string; ``required`` also rejects the empty string."""
        if self._missing(name, required):
            return None
        value = self.body[name]
        if not isinstance(value, str):
            self.fail(name, f"'{_pascal(name)}' must be a string.")
            return None
        if required and not value.strip():
            self.fail(name, f"'{_pascal(name)}' must not be empty.")
            return None
        if max_length is not None and len(value) > max_length:
            self.fail(name, f"'{_pascal(name)}' must be {max_length} characters or fewer.")
            return None
        return value

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A boolean, or ``None`` when absent."""
        if self._missing(name, required):
            return None
        value = self.body[name]
        if not isinstance(value, bool):
            self.fail(name, f"'{_pascal(name)}' must be a boolean.")
            return None
        return value

    def integer(self, name: str, *, required: bool = False, minimum: int | None = 0) -> int | None:
        """An int32, or ``None`` when absent."""
        if self._missing(name, required):
            return None
        value = self.body[name]
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
            self.fail(name, f"'{_pascal(name)}' must be an integer.")
            return None
        if minimum is not None and value < minimum:
            self.fail(name, f"'{_pascal(name)}' must be greater than or equal to {minimum}.")
            return None
        return value

    def datetime(self, name: str) -> datetime | None:
        """An ISO date or date-time (naive when it has no offset)."""
        if self._missing(name, False):
            return None
        value = self.body[name]
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(name, f"'{_pascal(name)}' is not a valid date-time.")
        return parsed

    def time_of_day(self, name: str) -> time | None:
        """A time of day ``HH:MM[:SS[.f]]``."""
        if self._missing(name, False):
            return None
        value = self.body[name]
        parsed = parse_time(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(name, f"'{_pascal(name)}' is not a valid time of day.")
        return parsed

    def date(self, name: str, *, required: bool = False) -> date | None:
        """A date ``YYYY-MM-DD`` (a date-time's date part is accepted too)."""
        if self._missing(name, required):
            return None
        value = self.body[name]
        parsed = parse_date(value[:10]) if isinstance(value, str) else None
        if parsed is None:
            self.fail(name, f"'{_pascal(name)}' is not a valid date.")
        return parsed

    def timezone(self, name: str = "timezone", *, required: bool = True) -> str | None:
        """A valid IANA zone name."""
        value = self.string(name, required=required)
        if value is None:
            return None
        if load_zone(value) is None:
            self.fail(name, f"'{value}' is not a valid IANA time zone.")
            return None
        return value

    def raise_if_errors(self) -> None:
        """Raise 400 ``validation-failed`` with everything recorded so far."""
        if self.errors:
            raise validation_failed(self.errors)


@attrs.frozen
class TimeFields:
    """The resolved times of an entry: aware UTC start/end, net duration, date-only flag."""

    start: datetime
    end: datetime | None
    duration: int
    date_only: bool = False


_GROUPS = {
    "utc": ("startDateUtc", "startTimeUtc", "endDateUtc", "endTimeUtc"),
    "local": ("startDateLocal", "startTimeLocal", "endDateLocal", "endTimeLocal"),
}


def _as_utc(value: datetime, zone_name: str, local: bool) -> datetime:
    return to_utc(value, load_zone(zone_name) if local else None)


def _is_midnight(value: datetime) -> bool:
    return value.hour == value.minute == value.second == value.microsecond == 0


def resolve_times(
    form: FormReader,
    zone_name: str,
    *,
    break_duration: int = 0,
    existing: TimeFields | None = None,
    running: bool = False,
) -> TimeFields | None:
    """Work out start, end and duration from a POST/PUT form (notes §6.3.3, §6.3.4, §9.2).

    One group only: UTC *or* local fields. ``start + end`` wins over ``duration``; otherwise
    ``start + duration`` or ``end + duration``. A start without a time of day is a date-only
    entry (needs ``duration``). ``existing`` is kept when the form carries no time fields.
    Records problems on ``form`` and returns ``None`` when the times are unusable, including
    times outside :data:`~._timeutil.MIN_INSTANT`..:data:`~._timeutil.MAX_INSTANT`.
    """
    try:
        times = _resolve_times(
            form,
            zone_name,
            break_duration=break_duration,
            existing=existing,
            running=running,
        )
        if times is not None:
            checked_instant(times.start)
            if times.end is not None:
                checked_instant(times.end)
    except TimeRangeError:
        local = any(form.body.get(k) is not None for k in _GROUPS["local"])
        key = "startDateLocal" if local else "startDateUtc"
        form.fail(key, f"The start and end of a time entry must lie between {RANGE_TEXT}.")
        return None
    return times


def _resolve_times(
    form: FormReader,
    zone_name: str,
    *,
    break_duration: int = 0,
    existing: TimeFields | None = None,
    running: bool = False,
) -> TimeFields | None:
    """:func:`resolve_times` without the range guard (raises :class:`TimeRangeError`)."""
    present = {g: any(form.body.get(k) is not None for k in keys) for g, keys in _GROUPS.items()}
    duration = form.integer("duration")
    if present["utc"] and present["local"]:
        form.fail("startDateUtc", "Do not mix the UTC and local field groups in one request.")
        return None
    if not present["utc"] and not present["local"]:
        if existing is None:
            form.fail("startDateUtc", "'StartDateUtc' or 'StartDateLocal' must be set.")
            return None
        if duration is None or existing.end is None:
            return existing
        moved = shift(existing.start, duration + break_duration)
        return TimeFields(existing.start, moved, duration, existing.date_only)
    local = present["local"]
    start_key, start_time_key, end_key, end_time_key = _GROUPS["local" if local else "utc"]
    start_date = form.datetime(start_key)
    start_time = form.time_of_day(start_time_key)
    end_date = form.datetime(end_key)
    end_time = form.time_of_day(end_time_key)
    if form.errors:
        return None
    date_only = False
    start: datetime | None = None
    if start_date is not None:
        if start_time is not None:
            start = datetime.combine(start_date.date(), start_time, tzinfo=start_date.tzinfo)
        else:
            start = start_date
            date_only = (
                _is_midnight(start_date)
                and end_time is None
                and (end_date is None or _is_midnight(end_date))
            )
        start = _as_utc(start, zone_name, local)
    end: datetime | None = None
    if end_time is not None:
        base = end_date or start_date
        if base is None:
            form.fail(end_key, f"'{_pascal(end_key)}' must be set together with the end time.")
            return None
        end = _as_utc(datetime.combine(base.date(), end_time, tzinfo=base.tzinfo), zone_name, local)
        if end_date is None and start is not None and end < start:
            end = shift(end, 86_400)
    elif end_date is not None and not date_only:
        end = _as_utc(end_date, zone_name, local)
    if running:
        if start is None:
            form.fail(start_key, f"'{_pascal(start_key)}' must be set.")
            return None
        return TimeFields(start.replace(microsecond=0), None, 0)
    if date_only:
        if duration is None:
            form.fail("duration", "'Duration' must be set for an entry without start time.")
            return None
        assert start is not None
        return TimeFields(start, None, duration, date_only=True)
    if start is not None and end is not None:
        start, end = start.replace(microsecond=0), end.replace(microsecond=0)
        net = int((end - start).total_seconds()) - break_duration
        if net < 0:
            raise SandboxError(
                400,
                "date-dependency",
                "The end of the time entry must not be before its start (plus breaks).",
            )
        return TimeFields(start, end, net)
    if duration is None:
        form.fail("duration", "Either an end time or a duration must be set.")
        return None
    if start is not None:
        start = start.replace(microsecond=0)
        return TimeFields(start, shift(start, duration + break_duration), duration)
    assert end is not None
    end = end.replace(microsecond=0)
    return TimeFields(shift(end, -(duration + break_duration)), end, duration)
