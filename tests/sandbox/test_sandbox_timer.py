"""Timer semantics of the sandbox, driven by a fake clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from _helpers import SandboxClock

from awork_async.sandbox import Sandbox


@pytest.fixture
def clock() -> SandboxClock:
    """This module's timer scenarios start on 2026-03-02, 08:00 UTC."""
    return SandboxClock(datetime(2026, 3, 2, 8, 0, 0, tzinfo=timezone.utc))


pytestmark = [pytest.mark.awork_sandbox(entries=50, seed=2), pytest.mark.sandbox_clock]


async def call(http: aiohttp.ClientSession, url: str, body: Any = None) -> tuple[int, Any]:
    async with http.post(url, json=body) as r:
        raw = await r.read()
        return r.status, (await r.json() if raw else None)


def start_form(sb: Sandbox) -> dict[str, str]:
    tow = next(t for t in sb.store.types_of_work.values() if not t["isArchived"])
    return {"typeOfWorkId": tow["id"], "timezone": "Europe/Berlin"}


async def test_full_cycle(sb: Sandbox, http: aiohttp.ClientSession, clock: SandboxClock) -> None:
    base = f"{sb.base_url}/me/timetracking"
    status, entry = await call(http, f"{base}/start", start_form(sb))
    assert status == 200
    assert entry["duration"] == 0
    assert entry["endDateUtc"] is None
    assert entry["endTimeLocal"] is None
    assert (entry["startDateUtc"], entry["startTimeUtc"]) == ("2026-03-02T00:00:00Z", "08:00:00")
    assert entry["startTimeLocal"] == "09:00:00"
    assert entry["userId"] == sb.store.me_id

    clock.tick(600)
    status, entry = await call(http, f"{base}/pause")
    assert status == 200
    assert entry["breaks"] == [
        {"startDate": "2026-03-02T08:10:00Z", "duration": None, "endDate": None}
    ]
    clock.tick(60)
    status, again = await call(http, f"{base}/pause")
    assert status == 200
    assert len(again["breaks"]) == 1

    clock.tick(240)
    status, entry = await call(http, f"{base}/resume")
    assert entry["breaks"][0] == {
        "startDate": "2026-03-02T08:10:00Z",
        "duration": 300,
        "endDate": "2026-03-02T08:15:00Z",
    }
    assert entry["breakDuration"] == 300
    status, same = await call(http, f"{base}/resume")
    assert status == 200
    assert same["breakDuration"] == 300

    clock.tick(3300)
    status, entry = await call(http, f"{base}/stop")
    assert status == 200
    assert (entry["endDateUtc"], entry["endTimeUtc"]) == ("2026-03-02T00:00:00Z", "09:10:00")
    assert entry["endTimeLocal"] == "10:10:00"
    assert entry["duration"] == 4200 - 300

    for op in ("stop", "pause", "resume"):
        status, body = await call(http, f"{base}/{op}")
        assert (status, body) == (204, None)

    async with http.get(f"{sb.base_url}/me/timeentries/last") as r:
        assert (await r.json())["id"] == entry["id"]


async def test_stop_closes_an_open_break(
    sb: Sandbox, http: aiohttp.ClientSession, clock: SandboxClock
) -> None:
    base = f"{sb.base_url}/me/timetracking"
    await call(http, f"{base}/start", start_form(sb))
    clock.tick(100)
    await call(http, f"{base}/pause")
    clock.tick(50)
    _, entry = await call(http, f"{base}/stop")
    assert entry["breakDuration"] == 50
    assert entry["breaks"][0]["endDate"] == "2026-03-02T08:02:30Z"
    assert entry["duration"] == 100


async def test_start_stops_the_previous_timer(
    sb: Sandbox, http: aiohttp.ClientSession, clock: SandboxClock
) -> None:
    base = f"{sb.base_url}/me/timetracking"
    _, first = await call(http, f"{base}/start", start_form(sb))
    clock.tick(120)
    await call(http, f"{base}/pause")
    clock.tick(30)
    _, second = await call(http, f"{base}/start", {**start_form(sb), "note": "next"})
    assert second["id"] != first["id"]
    old = sb.store.entries[first["id"]]
    assert old["duration"] == 120
    assert old["breakDuration"] == 30
    assert old["endTimeUtc"] == "08:02:30"
    assert sb.store.running == {sb.store.me_id: second["id"]}


async def test_start_validation(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    base = f"{sb.base_url}/me/timetracking"
    status, body = await call(http, f"{base}/start", {})
    assert status == 400
    assert {v["property"] for v in body["validationErrors"]} == {"TypeOfWorkId", "Timezone"}
    status, body = await call(
        http, f"{base}/start", {**start_form(sb), "timezone": "Europe/Nowhere"}
    )
    assert status == 400
    assert body["validationErrors"][0]["property"] == "Timezone"
    archived = next(t for t in sb.store.types_of_work.values() if t["isArchived"])
    status, body = await call(
        http, f"{base}/start", {**start_form(sb), "typeOfWorkId": archived["id"]}
    )
    assert (status, body["code"]) == (400, "entity-archived")
    assert not sb.store.running


async def test_other_users_timer(
    sb: Sandbox, http: aiohttp.ClientSession, clock: SandboxClock
) -> None:
    other = next(u for u in sb.store.users if u != sb.store.me_id)
    base = f"{sb.base_url}/users/{other}/timetracking"
    status, entry = await call(http, f"{base}/start", start_form(sb))
    assert status == 200
    assert entry["userId"] == other
    status, body = await call(http, f"{base}/pause")
    assert (status, body["code"]) == (400, "invalid-operation")
    status, body = await call(http, f"{sb.base_url}/me/timetracking/pause?userId={other}")
    assert status == 400
    clock.tick(60)
    status, stopped = await call(http, f"{sb.base_url}/me/timetracking/stop?userId={other}")
    assert (status, stopped["duration"]) == (200, 60)
    status, _ = await call(
        http, f"{sb.base_url}/users/00000000-0000-4000-8000-000000000000/timetracking/stop"
    )
    assert status == 404


async def test_remove_breaks_resumes_a_paused_timer(
    sb: Sandbox, http: aiohttp.ClientSession, clock: SandboxClock
) -> None:
    base = f"{sb.base_url}/me/timetracking"
    _, entry = await call(http, f"{base}/start", start_form(sb))
    await call(http, f"{base}/pause")
    _, cleared = await call(http, f"{sb.base_url}/timeentries/{entry['id']}/removebreaks")
    assert cleared["breaks"] == []
    clock.tick(10)
    _, paused = await call(http, f"{base}/pause")
    assert len(paused["breaks"]) == 1
