"""``client.timer``: the running timer of the caller or of a user (API notes §6.1)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from .._validation import IdLike, local_timezone_name
from ..models import TimeEntry, TimerStart, TimeTrackingSetting
from ._base import APIResource, path_id
from .time_entries import TimeEntriesResource

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["TimerResource", "TimerState", "TimerStatus", "timer_status"]


class TimerState(str, enum.Enum):
    """What a user's timer is doing, derived from their last entry (the API has no field)."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@attrs.frozen(kw_only=True)
class TimerStatus:
    """A timer's state, its entry (``None`` when the user has none) and the elapsed work time.

    ``elapsed`` is net of breaks: for a running timer ``now - start - closed breaks``, for a
    paused one ``open break start - start - closed breaks``, for a stopped one its duration.
    """

    state: TimerState
    entry: TimeEntry | None
    elapsed: dt.timedelta

    @property
    def running(self) -> bool:
        return self.state is TimerState.RUNNING

    @property
    def paused(self) -> bool:
        return self.state is TimerState.PAUSED


def timer_status(entry: TimeEntry | None, now: dt.datetime) -> TimerStatus:
    """Derive the timer state from a user's last entry (pure; API notes §6.1)."""
    zero = dt.timedelta(0)
    if entry is None:
        return TimerStatus(state=TimerState.STOPPED, entry=None, elapsed=zero)
    start = entry.start
    closed = dt.timedelta(seconds=sum(b.duration or 0 for b in entry.breaks or () if not b.is_open))
    open_break = entry.open_break
    if start is not None and not entry.has_end:
        if open_break is not None and open_break.start_date is not None:
            elapsed = open_break.start_date - start - closed
            return TimerStatus(state=TimerState.PAUSED, entry=entry, elapsed=max(elapsed, zero))
        if entry.is_running:
            elapsed = now - start - closed
            return TimerStatus(state=TimerState.RUNNING, entry=entry, elapsed=max(elapsed, zero))
    return TimerStatus(
        state=TimerState.STOPPED, entry=entry, elapsed=entry.duration_timedelta or zero
    )


class TimerResource(APIResource):
    """Start, stop, pause and resume the timer: the caller's (``/me``) or a user's.

    Every method takes ``user_id``: ``None`` acts on the caller (``/me/timetracking/...``; with an
    API key that is the API user), an id acts on that user (``/users/{userId}/timetracking/...``).
    Pause and resume work only on one's own timer (awork answers 400 otherwise).
    """

    def _path(self, user_id: IdLike | None, action: str) -> str:
        if user_id is None:
            return f"/me/timetracking/{action}"
        return f"/users/{path_id(user_id, 'user_id')}/timetracking/{action}"

    async def start(
        self,
        type_of_work_id: IdLike,
        *,
        timezone: str | None = None,
        user_id: IdLike | None = None,
        project_id: IdLike | None = None,
        task_id: IdLike | None = None,
        note: str | None = None,
        is_billable: bool | None = None,
        is_billed: bool | None = None,
        timeout: float | Timeouts | None = None,
    ) -> TimeEntry:
        """Start a timer now; a running or paused one is stopped first (by the server).

        ``timezone`` defaults to this machine's IANA zone. Not retried once it may have reached
        the server: repeating a start stops the new entry and starts another.
        """
        form = TimerStart(
            type_of_work_id=type_of_work_id,
            timezone=timezone if timezone is not None else local_timezone_name(),
            project_id=project_id,
            task_id=task_id,
            note=note,
            is_billable=is_billable,
            is_billed=is_billed,
        )
        return await self._call(
            "POST", self._path(user_id, "start"), TimeEntry, body=form, timeout=timeout
        )

    async def stop(
        self, *, user_id: IdLike | None = None, timeout: float | Timeouts | None = None
    ) -> TimeEntry | None:
        """Stop the timer; returns the finished entry, or ``None`` when nothing was running.

        Sends no body: the description mentions a ``stopReason``, but ``StopTimeTrackingForm``
        has no properties and forbids extra ones (API notes §10 D7); awork sets the reason itself.
        """
        return await self._call_optional(
            "POST", self._path(user_id, "stop"), TimeEntry, timeout=timeout
        )

    async def pause(
        self, *, user_id: IdLike | None = None, timeout: float | Timeouts | None = None
    ) -> TimeEntry | None:
        """Pause the timer (opens a break); ``None`` when no timer is running.

        Retried like a read: pausing a paused timer changes nothing (API notes §9.3).
        """
        return await self._call_optional(
            "POST", self._path(user_id, "pause"), TimeEntry, timeout=timeout, idempotent=True
        )

    async def resume(
        self, *, user_id: IdLike | None = None, timeout: float | Timeouts | None = None
    ) -> TimeEntry | None:
        """Resume a paused timer (closes the break); ``None`` when there is no timer.

        Retried like a read: resuming a running timer changes nothing (API notes §9.3).
        """
        return await self._call_optional(
            "POST", self._path(user_id, "resume"), TimeEntry, timeout=timeout, idempotent=True
        )

    async def status(
        self,
        *,
        user_id: IdLike | None = None,
        now: Callable[[], dt.datetime] | None = None,
        timeout: float | Timeouts | None = None,
    ) -> TimerStatus:
        """Running, paused or stopped, with the elapsed time, from the last entry."""
        entry = await TimeEntriesResource(self._requester).last(user_id, timeout=timeout)
        current = now() if now is not None else dt.datetime.now(dt.timezone.utc)
        return timer_status(entry, current)

    async def settings(
        self, *, timeout: float | Timeouts | None = None
    ) -> list[TimeTrackingSetting]:
        """The workspace's time-tracking settings (``GET /timetracking/settings``)."""
        return await self._call_list(
            "GET", "/timetracking/settings", TimeTrackingSetting, timeout=timeout
        )
