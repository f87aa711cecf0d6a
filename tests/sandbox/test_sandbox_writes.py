"""Sandbox writes: validated whole and applied at once (or not at all), through ``Store.apply``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest

from awork_async.sandbox import Sandbox, SandboxConfig, routes_entries
from awork_async.sandbox.store import Change, Write

#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=200, seed=11)


def finished_entry(sb: Sandbox) -> dict[str, Any]:
    me = sb.store.me_id
    return next(
        e
        for e in sb.store.ordered_entries()
        if e["userId"] == me and e["endTimeUtc"] is not None and not e["isBilled"]
    )


async def raw_entry(sb: Sandbox, http: aiohttp.ClientSession, entry_id: str) -> bytes:
    async with http.get(f"{sb.base_url}/timeentries/{entry_id}") as r:
        assert r.status == 200
        return await r.read()


def update_form(entry: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"typeOfWorkId": entry["typeOfWorkId"], "timezone": "Asia/Tokyo", **fields}


async def test_a_put_failing_midway_saves_nothing(
    sb: Sandbox, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unexpected failure after the links, zone and note were worked out: nothing may stick.
    entry = finished_entry(sb)
    before = await raw_entry(sb, http, entry["id"])
    version = sb.store.version

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("failure while building the update")

    monkeypatch.setattr(routes_entries, "set_times", explode)
    form = update_form(entry, note="changed", startDateUtc="2024-01-02T08:00:00Z", duration=60)
    async with http.put(f"{sb.base_url}/timeentries/{entry['id']}", json=form) as r:
        assert r.status == 500
    assert await raw_entry(sb, http, entry["id"]) == before
    assert sb.store.version == version


@pytest.mark.parametrize(
    "fields",
    [
        # the start's local time in Kiritimati (UTC+14) is in year 10000: failed half-way
        {"timezone": "Pacific/Kiritimati", "startDateUtc": "9999-12-31T20:00:00Z", "duration": 60},
        {"startDateUtc": "9999-12-31T23:00:00Z", "duration": 7200},
    ],
)
async def test_a_failed_put_leaves_the_entry_byte_identical(
    sb: Sandbox, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    entry = finished_entry(sb)
    before = await raw_entry(sb, http, entry["id"])
    form = update_form(entry, note="changed", **fields)
    async with http.put(f"{sb.base_url}/timeentries/{entry['id']}", json=form) as r:
        assert r.status == 400
    assert await raw_entry(sb, http, entry["id"]) == before


async def test_a_failed_booking_update_saves_nothing(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    booking = next(iter(sb.store.time_bookings.values()))
    before = dict(booking)
    form = {"startDate": "2999-01-01"}  # after the booking's end: rejected
    async with http.put(f"{sb.base_url}/timebookings/{booking['id']}", json=form) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "validation-failed"
    assert sb.store.time_bookings[booking["id"]] == before


async def test_every_write_route_goes_through_apply(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    seen: list[Sequence[Change]] = []
    sb.store.listeners.append(seen.append)
    entry = finished_entry(sb)
    tow = entry["typeOfWorkId"]
    me = sb.store.me_id
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PUT", f"/timeentries/{entry['id']}", update_form(entry, note="x")),
        ("POST", "/me/timetracking/start", {"typeOfWorkId": tow, "timezone": "UTC"}),
        ("POST", "/me/timetracking/pause", None),
        ("POST", "/me/timetracking/resume", None),
        ("POST", "/me/timetracking/stop", None),
        (
            "POST",
            "/timeentries/batch/setIsBillable",
            {"timeEntryIds": [entry["id"]], "isBillable": True},
        ),
        ("POST", "/timeentries/setbillable", {"ids": [entry["id"]]}),
        ("POST", f"/timeentries/{entry['id']}/removebreaks", None),
        (
            "POST",
            "/timebookings",
            {"userId": me, "startDate": "2024-01-01", "endDate": "2024-01-02", "duration": 60},
        ),
        ("POST", "/typeofwork", {"name": "Listening"}),
        ("DELETE", f"/timeentries/{entry['id']}", None),
    ]
    for method, path, body in calls:
        before = len(seen)
        async with http.request(method, sb.base_url + path, json=body) as r:
            assert r.status < 300, (path, await r.text())
        assert len(seen) == before + 1, path
    assert [c.action for c in seen[-1]] == ["deleted"]
    assert seen[0][0].old is not None and seen[0][0].new is not None
    assert seen[0][0].new["note"] == "x"


def test_apply_keeps_the_running_index_and_nested_types() -> None:
    from awork_async.sandbox import Store

    store = Store.generate(SandboxConfig(entries=20, seed=3))
    entry = dict(next(iter(store.entries.values())))
    entry.update(endDateUtc=None, endTimeUtc=None, endDateLocal=None, endTimeLocal=None)
    changes = store.apply([Write("entries", entry["id"], entry)])
    assert store.running[entry["userId"]] == entry["id"]
    assert [c.action for c in changes] == ["updated"]
    store.apply([Write("entries", entry["id"], None)])
    assert entry["id"] not in store.running.values()
    type_id = next(iter(store.types_of_work))
    nested = store.ws.nested_types[type_id]
    store.apply([Write("types_of_work", type_id, {**store.types_of_work[type_id], "name": "N"})])
    assert nested["name"] == "N"  # the dict entries share is updated in place
    assert store.apply([Write("entries", "missing", None)]) == []


# ------------------------------------------------------------------- POST /tasks/changetypeofwork


def task_with_entries(sb: Sandbox) -> str:
    counts: dict[str, int] = {}
    for entry in sb.store.entries.values():
        if entry["taskId"]:
            counts[entry["taskId"]] = counts.get(entry["taskId"], 0) + 1
    return max(counts, key=counts.__getitem__)


def other_type(sb: Sandbox, task_id: str) -> str:
    current = sb.store.tasks[task_id]["typeOfWorkId"]
    return next(
        t["id"]
        for t in sb.store.types_of_work.values()
        if not t["isArchived"] and t["id"] != current
    )


@pytest.mark.parametrize("change_entries", [True, False])
async def test_client_changes_the_type_of_work_of_tasks(sb: Sandbox, change_entries: bool) -> None:
    from awork_async import AworkClient, NoRateLimiter

    task_id = task_with_entries(sb)
    new_type = other_type(sb, task_id)
    entry_ids = [e["id"] for e in sb.store.entries.values() if e["taskId"] == task_id]
    old_types = {i: sb.store.entries[i]["typeOfWorkId"] for i in entry_ids}
    async with AworkClient(
        token=sb.token, base_url=sb.base_url, rate_limiter=NoRateLimiter()
    ) as client:
        result = await client.types_of_work.change_for_tasks(
            [task_id], new_type, change_time_entries=change_entries
        )
    assert result is None
    assert sb.store.tasks[task_id]["typeOfWorkId"] == new_type
    for entry_id in entry_ids:
        entry = sb.store.entries[entry_id]
        expected = new_type if change_entries else old_types[entry_id]
        assert entry["typeOfWorkId"] == expected
        assert entry["typeOfWork"]["id"] == expected
        assert entry["task"]["typeOfWorkId"] == new_type  # the nested task is the shared record


async def test_change_type_of_work_with_unknown_tasks_is_207(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    task_id = task_with_entries(sb)
    new_type = other_type(sb, task_id)
    unknown = "00000000-0000-4000-8000-000000000000"
    form = {"typeOfWorkId": new_type, "taskIds": [task_id, unknown], "changeTimeEntries": True}
    async with http.post(f"{sb.base_url}/tasks/changetypeofwork", json=form) as r:
        assert r.status == 207
        body = await r.json()
    assert body["ok"]["ids"] == [task_id]
    assert body["notFound"]["ids"] == [unknown]
    assert sb.store.tasks[task_id]["typeOfWorkId"] == new_type


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({}, "validation-failed"),
        ({"taskIds": []}, "validation-failed"),
        (
            {"typeOfWorkId": "00000000-0000-4000-8000-000000000000", "taskIds": []},
            "validation-failed",
        ),
        ({"typeOfWorkId": "archived", "taskIds": ["task"]}, "entity-archived"),
        ({"typeOfWorkId": "type", "taskIds": "task"}, "validation-failed"),
    ],
)
async def test_change_type_of_work_rejects_bad_forms_and_changes_nothing(
    sb: Sandbox, http: aiohttp.ClientSession, form: dict[str, Any], code: str
) -> None:
    task_id = task_with_entries(sb)
    archived = next(t["id"] for t in sb.store.types_of_work.values() if t["isArchived"])
    replace = {"archived": archived, "type": other_type(sb, task_id), "task": task_id}
    body = {
        k: ([replace.get(i, i) for i in v] if isinstance(v, list) else replace.get(v, v))
        for k, v in form.items()
    }
    version = sb.store.version
    async with http.post(f"{sb.base_url}/tasks/changetypeofwork", json=body) as r:
        assert r.status == 400
        assert (await r.json())["code"] == code
    assert sb.store.version == version
