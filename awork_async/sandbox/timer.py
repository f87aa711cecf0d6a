"""Timer semantics (start/stop/pause/resume) on the store, without HTTP (notes §6.1).

Each operation builds the new records and stores them with one :meth:`Store.apply`.
"""

from __future__ import annotations

from datetime import datetime

from ._entries import Entry, copy_entry, entry_start, new_entry, set_links, set_times, stamp
from ._links import Links
from ._timeutil import iso_utc
from .store import Store, Write

__all__ = ["is_paused", "pause", "resume", "running_entry", "start", "stop"]


def _now(store: Store) -> datetime:
    return store.now().replace(microsecond=0)


def running_entry(store: Store, user_id: str) -> Entry | None:
    """The user's running or paused entry."""
    entry_id = store.running.get(user_id)
    entry = store.entries.get(entry_id) if entry_id else None
    if entry is None or entry["endDateUtc"] is not None:
        store.running.pop(user_id, None)
        return None
    return entry


def is_paused(entry: Entry) -> bool:
    """Whether the last break is still open."""
    breaks = entry.get("breaks") or []
    return bool(breaks) and breaks[-1].get("endDate") is None


def _close_break(entry: Entry, now: datetime) -> None:
    """Close the open break of ``entry`` (a copy being built: its break dicts are its own)."""
    last = entry["breaks"][-1]
    begun = datetime.fromisoformat(last["startDate"].replace("Z", "+00:00"))
    last["endDate"] = iso_utc(now)
    last["duration"] = max(0, int((now - begun).total_seconds()))
    entry["breakDuration"] = sum(int(b["duration"] or 0) for b in entry["breaks"])


def _stopped(store: Store, entry: Entry) -> Entry:
    """A stopped copy of the running ``entry`` (closing an open break)."""
    now = _now(store)
    stopped = copy_entry(entry)
    if is_paused(stopped):
        _close_break(stopped, now)
    start = entry_start(stopped)
    assert start is not None
    if now < start:
        now = start
    breaks = int(stopped.get("breakDuration") or 0)
    duration = max(0, int((now - start).total_seconds()) - breaks)
    set_times(stopped, start, now, duration, stopped["timezone"])
    stamp(stopped, now, store.me_id)
    return stopped


def stop(store: Store, user_id: str) -> Entry | None:
    """Stop the user's timer (closing an open break); ``None`` when nothing runs."""
    entry = running_entry(store, user_id)
    if entry is None:
        return None
    stopped = _stopped(store, entry)
    store.apply([Write("entries", stopped["id"], stopped)])
    return stopped


def start(
    store: Store,
    user_id: str,
    links: Links,
    *,
    timezone: str,
    is_billable: bool,
    is_billed: bool,
    note: str | None,
) -> Entry:
    """Start a new timer for the user; a running or paused one is stopped first (one write)."""
    writes: list[Write] = []
    current = running_entry(store, user_id)
    if current is not None:
        stopped = _stopped(store, current)
        writes.append(Write("entries", stopped["id"], stopped))
    now = _now(store)
    entry = new_entry(
        store.new_id(), timezone=timezone, is_billable=is_billable, is_billed=is_billed, note=note
    )
    set_links(
        entry,
        user=links.user,
        type_of_work=links.type_of_work,
        project=links.project,
        task=links.task,
    )
    set_times(entry, now, None, 0, timezone)
    stamp(entry, now, store.me_id, created=True)
    writes.append(Write("entries", entry["id"], entry))
    store.apply(writes)
    return entry


def pause(store: Store, user_id: str) -> Entry | None:
    """Open a break; unchanged when already paused; ``None`` when nothing runs."""
    entry = running_entry(store, user_id)
    if entry is None:
        return None
    if is_paused(entry):
        return entry
    now = _now(store)
    paused = copy_entry(entry)
    paused["breaks"].append({"startDate": iso_utc(now), "duration": None, "endDate": None})
    stamp(paused, now, store.me_id)
    store.apply([Write("entries", paused["id"], paused)])
    return paused


def resume(store: Store, user_id: str) -> Entry | None:
    """Close the open break; unchanged when running; ``None`` when nothing runs."""
    entry = running_entry(store, user_id)
    if entry is None:
        return None
    if not is_paused(entry):
        return entry
    now = _now(store)
    resumed = copy_entry(entry)
    _close_break(resumed, now)
    stamp(resumed, now, store.me_id)
    store.apply([Write("entries", resumed["id"], resumed)])
    return resumed
