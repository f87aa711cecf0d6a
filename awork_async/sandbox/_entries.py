"""Building and updating ``TimeTracking`` dicts: time fields, links, version stamps (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeAlias

from ._timeutil import UTC, epoch_split_local, epoch_split_utc, iso_utc, to_ticks

__all__ = [
    "Entry",
    "break_total",
    "copy_entry",
    "entry_end",
    "entry_start",
    "new_entry",
    "set_links",
    "set_times",
    "set_times_epoch",
    "simplified",
    "stamp",
]

#: A time entry as served: a JSON-ready dict whose nested dicts are shared between entries.
Entry: TypeAlias = dict[str, Any]


def set_times(
    entry: Entry,
    start: datetime,
    end: datetime | None,
    duration: int,
    zone: str,
    *,
    date_only: bool = False,
) -> None:
    """Write the eight start/end date and time fields plus ``duration`` (whole seconds).

    ``start``/``end`` are aware; ``end=None`` means a running timer (end fields null). A
    date-only entry has null time fields and its dates on ``start``'s UTC day. ``zone`` is the
    IANA name of the entry's time zone.
    """
    end_epoch = None if end is None else int(end.timestamp())
    set_times_epoch(entry, int(start.timestamp()), end_epoch, duration, zone, date_only=date_only)


def set_times_epoch(
    entry: Entry,
    start: int,
    end: int | None,
    duration: int,
    zone: str,
    *,
    date_only: bool = False,
) -> None:
    """:func:`set_times` on Unix seconds (the fast path of the generator)."""
    entry["duration"] = duration
    if date_only:
        day_utc, _ = epoch_split_utc(start)
        day_local = day_utc[:-1]
        entry["startDateUtc"] = entry["endDateUtc"] = day_utc
        entry["startDateLocal"] = entry["endDateLocal"] = day_local
        entry["startTimeUtc"] = entry["endTimeUtc"] = None
        entry["startTimeLocal"] = entry["endTimeLocal"] = None
        return
    entry["startDateUtc"], entry["startTimeUtc"] = epoch_split_utc(start)
    entry["startDateLocal"], entry["startTimeLocal"] = epoch_split_local(start, zone)
    if end is None:
        entry["endDateUtc"] = entry["endTimeUtc"] = None
        entry["endDateLocal"] = entry["endTimeLocal"] = None
        return
    entry["endDateUtc"], entry["endTimeUtc"] = epoch_split_utc(end)
    entry["endDateLocal"], entry["endTimeLocal"] = epoch_split_local(end, zone)


def _combine(date_text: object, time_text: object) -> datetime | None:
    if not isinstance(date_text, str):
        return None
    day = date.fromisoformat(date_text[:10])
    if isinstance(time_text, str):
        hour, minute, second = (int(x) for x in time_text[:8].split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def entry_start(entry: Mapping[str, Any]) -> datetime | None:
    """The UTC start instant (midnight for a date-only entry)."""
    return _combine(entry.get("startDateUtc"), entry.get("startTimeUtc"))


def entry_end(entry: Mapping[str, Any]) -> datetime | None:
    """The UTC end instant, ``None`` while running."""
    if entry.get("endDateUtc") is None:
        return None
    return _combine(entry.get("endDateUtc"), entry.get("endTimeUtc"))


def stamp(entry: Entry, now: datetime, by: str, *, created: bool = False) -> None:
    """Set ``updatedOn``/``updatedBy``/``resourceVersion`` (and the created pair on creation)."""
    text = iso_utc(now)
    if created:
        entry["createdOn"] = text
        entry["createdBy"] = by
    entry["updatedOn"] = text
    entry["updatedBy"] = by
    entry["resourceVersion"] = to_ticks(now)


def set_links(
    entry: Entry,
    *,
    user: Mapping[str, Any] | None,
    type_of_work: Mapping[str, Any],
    project: Mapping[str, Any] | None,
    task: Mapping[str, Any] | None,
) -> None:
    """Point the entry at its user, type of work, project and task (ids and nested objects)."""
    entry["userId"] = user["id"] if user else None
    entry["user"] = user
    entry["typeOfWorkId"] = type_of_work["id"]
    entry["typeOfWork"] = type_of_work
    entry["taskId"] = task["id"] if task else None
    entry["task"] = task
    entry["projectId"] = project["id"] if project else None
    entry["project"] = project


def new_entry(
    entry_id: str,
    *,
    timezone: str,
    is_billable: bool = False,
    is_billed: bool = False,
    note: str | None = None,
) -> Entry:
    """An entry dict with every ``TimeTracking`` key in spec order (times and links unset)."""
    return {
        "timezone": timezone,
        "typeOfWorkId": None,
        "isBillable": is_billable,
        "isBilled": is_billed,
        "taskId": None,
        "projectId": None,
        "note": note,
        "startDateUtc": None,
        "startTimeUtc": None,
        "endDateUtc": None,
        "endTimeUtc": None,
        "startDateLocal": None,
        "startTimeLocal": None,
        "endDateLocal": None,
        "endTimeLocal": None,
        "duration": 0,
        "breakDuration": None,
        "userId": None,
        "id": entry_id,
        "createdBy": None,
        "createdOn": None,
        "updatedBy": None,
        "updatedOn": None,
        "typeOfWork": None,
        "user": None,
        "task": None,
        "project": None,
        "breaks": [],
        "resourceVersion": 0,
        "isExternal": False,
    }


def copy_entry(entry: Mapping[str, Any]) -> Entry:
    """A copy to build an update on: its own ``breaks`` list and break dicts (the nested user,
    type of work, project and task stay shared, as they are in every entry)."""
    copy = dict(entry)
    copy["breaks"] = [dict(b) for b in entry.get("breaks") or ()]
    return copy


def break_total(entry: Mapping[str, Any]) -> int:
    """Sum of the closed breaks' durations."""
    return sum(
        int(b["duration"]) for b in entry.get("breaks") or () if b.get("duration") is not None
    )


def simplified(
    entry: Mapping[str, Any],
    simple_tasks: Mapping[str, Any],
    simple_projects: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``SimplifiedTimeTracking`` view of an entry (notes §7.3)."""
    user = entry.get("user")
    tow = entry.get("typeOfWork")
    task_id = entry.get("taskId")
    project_id = entry.get("projectId")
    return {
        "id": entry["id"],
        "duration": entry.get("duration"),
        "startDateUtc": entry.get("startDateUtc"),
        "startDateLocal": entry.get("startDateLocal"),
        "isBillable": entry.get("isBillable"),
        "isBilled": entry.get("isBilled"),
        "createdBy": entry.get("createdBy"),
        "createdOn": entry.get("createdOn"),
        "task": simple_tasks.get(task_id) if task_id else None,
        "taskId": task_id,
        "project": simple_projects.get(project_id) if project_id else None,
        "projectId": project_id,
        "user": (
            {k: user.get(k) for k in ("id", "firstName", "lastName", "hasImage")} if user else None
        ),
        "userId": entry.get("userId"),
        "typeOfWork": (
            {"id": tow["id"], "name": tow.get("name"), "icon": tow.get("icon")} if tow else None
        ),
        "typeOfWorkId": entry.get("typeOfWorkId"),
        "startTimeLocal": entry.get("startTimeLocal"),
    }
