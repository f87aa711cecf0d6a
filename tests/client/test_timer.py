"""Timer state derived from the last entry (pure), and the status call end to end (mocked)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from _helpers import BASE
from aioresponses import aioresponses

from awork_async import AworkClient, TimerState
from awork_async._converter import structure
from awork_async.models import TimeEntry
from awork_async.resources.timer import timer_status

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
BASE_ENTRY = {
    "id": "0d7a9e1c-5f6b-4c2a-9e8d-7b6a5c4d3e2f",
    "timezone": "Europe/Berlin",
    "typeOfWorkId": "2f9c1a3e-7b8d-4e4c-9a0f-9d8c7e6f5a41",
    "startDateUtc": "2024-05-14T00:00:00Z",
    "startTimeUtc": "10:00:00",
    "duration": 0,
}


def _entry(**fields: object) -> TimeEntry:
    return structure({**BASE_ENTRY, **fields}, TimeEntry)


def test_no_entry_is_stopped() -> None:
    status = timer_status(None, NOW)
    assert (status.state, status.entry, status.elapsed) == (
        TimerState.STOPPED,
        None,
        dt.timedelta(0),
    )


def test_running_elapsed_net_of_closed_breaks() -> None:
    entry = _entry(
        breaks=[
            {
                "startDate": "2024-05-14T10:30:00Z",
                "endDate": "2024-05-14T10:45:00Z",
                "duration": 900,
            }
        ]
    )
    status = timer_status(entry, NOW)
    assert status.state is TimerState.RUNNING and status.running
    assert status.elapsed == dt.timedelta(hours=2) - dt.timedelta(minutes=15)


def test_paused_elapsed_stops_at_open_break() -> None:
    entry = _entry(
        breaks=[
            {
                "startDate": "2024-05-14T10:30:00Z",
                "endDate": "2024-05-14T10:45:00Z",
                "duration": 900,
            },
            {"startDate": "2024-05-14T11:15:00Z"},
        ]
    )
    status = timer_status(entry, NOW)
    assert status.state is TimerState.PAUSED and status.paused
    assert status.elapsed == dt.timedelta(minutes=60)


def test_finished_entry_is_stopped_with_duration() -> None:
    entry = _entry(endDateUtc="2024-05-14T00:00:00Z", endTimeUtc="11:00:00", duration=3600)
    status = timer_status(entry, NOW)
    assert status.state is TimerState.STOPPED
    assert status.elapsed == dt.timedelta(hours=1)


async def test_status_calls_last_and_accepts_204(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    mocked.get(re.compile(re.escape(f"{BASE}/me/timeentries/last")), status=204, body="")
    status = await mocked_client.timer.status(now=lambda: NOW)
    assert status.state is TimerState.STOPPED


async def test_status_for_user_running(mocked_client: AworkClient, mocked: aioresponses) -> None:
    user = "3a0d2b4f-8c9e-4f5d-8b1a-ae9d8f7a6b52"
    mocked.get(f"{BASE}/users/{user}/timeentries/last", payload=BASE_ENTRY)
    status = await mocked_client.timer.status(user_id=user, now=lambda: NOW)
    assert status.state is TimerState.RUNNING
    assert status.elapsed == dt.timedelta(hours=2)


async def test_start_rejects_unknown_timezone_before_sending(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await mocked_client.timer.start(BASE_ENTRY["typeOfWorkId"], timezone="Mars/Olympus")
    assert not mocked.requests


async def test_start_defaults_to_local_zone(
    mocked_client: AworkClient, mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    seen: list[bytes] = []

    def cb(url: object, **kw: object) -> object:
        from aioresponses import CallbackResult

        seen.append(kw["data"])  # type: ignore[arg-type]
        return CallbackResult(payload=BASE_ENTRY)

    mocked.post(f"{BASE}/me/timetracking/start", callback=cb)
    await mocked_client.timer.start(BASE_ENTRY["typeOfWorkId"])
    assert b'"timezone":"America/New_York"' in seen[0]
