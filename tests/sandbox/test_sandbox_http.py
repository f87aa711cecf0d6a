"""The sandbox over HTTP: auth, errors, pagination, filters, CRUD, batch, bookings, types."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from awork_async.sandbox import Sandbox, SandboxConfig

ZERO = "00000000-0000-4000-8000-000000000000"


#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=300, seed=7)


async def get_json(http: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with http.get(url, params={k: str(v) for k, v in params.items()}) as r:
        return r.status, await r.json()


def active_type(sb: Sandbox) -> str:
    return str(next(t["id"] for t in sb.store.types_of_work.values() if not t["isArchived"]))


# ------------------------------------------------------------------------ auth and errors


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer"])
async def test_bad_or_missing_token_gives_401(sb: Sandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with aiohttp.ClientSession() as s, s.get(f"{sb.base_url}/me", headers=headers) as r:
        body = await r.json()
        assert r.status == 401
        assert body["code"] == "workspaceid-missing"
        assert body["traceId"] == r.headers["trace-id"]
    assert sb.stats.by_status[401] == 1


async def test_every_response_has_a_trace_id(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    ids = set()
    for path in ("/me", "/timeentries", "/nope", f"/timeentries/{ZERO}"):
        async with http.get(sb.base_url + path) as r:
            ids.add(r.headers["trace-id"])
    assert len(ids) == 4


async def test_unknown_route_and_unknown_id_are_404(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, body = await get_json(http, f"{sb.base_url}/nothing/here")
    assert (status, body["code"]) == (404, "not-found")
    assert set(body) == {"code", "description", "link", "details", "validationErrors", "traceId"}
    status, body = await get_json(http, f"{sb.base_url}/timeentries/{ZERO}")
    assert (status, body["code"]) == (404, "not-found")
    assert ZERO in body["details"][0]


@pytest.mark.parametrize(("method", "path"), [("PATCH", "/timeentries"), ("DELETE", "/me")])
async def test_wrong_method_is_405_naming_it(
    sb: Sandbox, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    async with http.request(method, sb.base_url + path) as r:
        body = await r.json()
        assert r.status == 405
        allow = r.headers["Allow"]
    assert body["code"] == "method-not-allowed"
    assert body["description"] == f"The method {method} is not allowed here."
    assert "GET" in allow
    assert allow in body["details"][0]


async def test_malformed_uuid_is_400(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, f"{sb.base_url}/timeentries/not-a-guid")
    assert status == 400
    assert body["code"] == "validation-failed"
    assert body["validationErrors"][0]["property"] == "TimeEntryId"


async def test_invalid_json_body_is_400(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sb.base_url}/timeentries", data=b"{nope") as r:
        assert r.status == 400
        assert (await r.json())["code"] == "invalid-model"
    async with http.post(f"{sb.base_url}/timeentries", json=[1, 2]) as r:
        assert r.status == 400


# ----------------------------------------------------------------------------- pagination


async def test_paging_covers_every_entry_once(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    seen: list[str] = []
    page = 1
    while True:
        async with http.get(
            f"{sb.base_url}/timeentries", params={"page": page, "pageSize": 37}
        ) as r:
            assert r.status == 200
            items = await r.json()
            assert r.headers["aw-page"] == str(page)
            assert r.headers["aw-pagesize"] == "37"
            assert r.headers["aw-items"] == str(len(items))
            assert r.headers["aw-totalitems"] == "300"
        seen.extend(e["id"] for e in items)
        if len(items) < 37:
            break
        page += 1
    assert page == 9
    assert len(seen) == len(set(seen)) == 300
    assert set(seen) == set(sb.store.entries)


async def test_page_beyond_the_end_is_empty(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sb.base_url}/timeentries", params={"page": 99, "pageSize": 100}) as r:
        assert await r.json() == []
        assert r.headers["aw-items"] == "0"


async def test_default_page_size_is_the_specs(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, f"{sb.base_url}/timeentries")
    assert status == 200
    assert len(body) == 10


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, 1001), ("x", 10), (1, "ten")])
async def test_bad_paging_params_are_400(
    sb: Sandbox, http: aiohttp.ClientSession, page: object, size: object
) -> None:
    status, body = await get_json(http, f"{sb.base_url}/timeentries", page=page, pageSize=size)
    assert status == 400
    assert body["code"] == "validation-failed"


# ------------------------------------------------------------------------ filter and order


async def test_filter_matches_python_side_selection(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    me = sb.store.me_id
    expr = f"userId eq guid'{me.upper()}' and isBillable eq true and duration ge 3600"
    status, body = await get_json(http, f"{sb.base_url}/timeentries", filterby=expr, pageSize=1000)
    assert status == 200
    expected = {
        e["id"]
        for e in sb.store.entries.values()
        if e["userId"] == me and e["isBillable"] and e["duration"] >= 3600
    }
    assert expected
    assert {e["id"] for e in body} == expected


async def test_filter_with_reserved_url_characters(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    expr = "note eq 'Notes ?a=1&b=2' or substringof('O''Brien',note)"
    status, body = await get_json(http, f"{sb.base_url}/timeentries", filterby=expr, pageSize=1000)
    assert status == 200
    notes = {e["note"] for e in body}
    assert notes == {"Notes ?a=1&b=2", "O'Brien's proposal"}


async def test_nested_filter_and_order(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(
        http,
        f"{sb.base_url}/timeentries",
        filterby="project/company/id ne null",
        orderby="project/name desc,duration",
        pageSize=1000,
    )
    assert status == 200
    keys = [(e["project"]["name"].lower(), -e["duration"]) for e in body]
    assert keys == sorted(keys, reverse=True)
    assert len(body) == sum(1 for e in sb.store.entries.values() if e["project"])


@pytest.mark.parametrize(
    ("filterby", "orderby"),
    [("duration eq", None), ("nope eq 1", None), (None, "duration sideways"), (None, "nope")],
)
async def test_invalid_filter_or_order_is_400(
    sb: Sandbox, http: aiohttp.ClientSession, filterby: str | None, orderby: str | None
) -> None:
    params = {k: v for k, v in {"filterby": filterby, "orderby": orderby}.items() if v}
    status, body = await get_json(http, f"{sb.base_url}/timeentries", **params)
    assert status == 400
    assert body["code"] == "invalid-filter-or-order"
    assert body["details"]


async def test_project_and_task_lists(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    entry = next(e for e in sb.store.entries.values() if e["taskId"])
    status, body = await get_json(
        http, f"{sb.base_url}/tasks/{entry['taskId']}/timeentries", pageSize=1000
    )
    assert status == 200
    assert entry["id"] in {e["id"] for e in body}
    assert all(e["taskId"] == entry["taskId"] for e in body)
    status, body = await get_json(
        http, f"{sb.base_url}/projects/{entry['projectId']}/timeentries", pageSize=1000
    )
    assert {e["projectId"] for e in body} == {entry["projectId"]}
    status, _ = await get_json(http, f"{sb.base_url}/projects/{ZERO}/timeentries")
    assert status == 404


async def test_simplified_model(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(
        http, f"{sb.base_url}/timeentries/simplified", grouping="project", pageSize=5
    )
    assert status == 200
    assert len(body) == 5
    assert "endDateUtc" not in body[0]
    assert "breaks" not in body[0]
    assert {"id", "duration", "startDateUtc", "startTimeLocal", "typeOfWork"} <= set(body[0])


async def test_last_entry(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    me = sb.store.me_id
    async with http.get(f"{sb.base_url}/me/timeentries/last") as r:
        assert r.status == 200
        body = await r.json()
    mine = [e for e in sb.store.entries.values() if e["userId"] == me]
    newest = max(mine, key=lambda e: (e["startDateUtc"], e["startTimeUtc"]))
    assert body["id"] == newest["id"]
    async with http.get(f"{sb.base_url}/users/{ZERO}/timeentries/last") as r:
        assert r.status == 204
        assert await r.read() == b""


# ------------------------------------------------------------------------------- writes


async def test_create_requires_fields(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sb.base_url}/timeentries", json={"note": "x"}) as r:
        body = await r.json()
    assert r.status == 400
    assert body["code"] == "validation-failed"
    props = {v["property"] for v in body["validationErrors"]}
    assert {"TypeOfWorkId", "Timezone", "UserId"} <= props
    form = {"typeOfWorkId": "nope", "timezone": "Mars/Olympus", "userId": sb.store.me_id}
    async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
        props = {v["property"] for v in (await r.json())["validationErrors"]}
    assert props >= {"TypeOfWorkId", "Timezone"}
    assert sb.stats.writes_total == 0


async def test_create_read_update_delete(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    task = next(t for t in sb.store.tasks.values() if t["project"])
    form = {
        "typeOfWorkId": active_type(sb),
        "timezone": "Europe/Berlin",
        "userId": sb.store.me_id,
        "taskId": task["id"],
        "isBillable": True,
        "note": "created",
        "startDateUtc": "2024-05-14T00:00:00Z",
        "startTimeUtc": "22:30:00",
        "duration": 5400,
    }
    async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
        assert r.status == 200
        created = await r.json()
    assert created["projectId"] == task["projectId"]
    assert created["project"]["id"] == task["projectId"]
    assert (created["endDateUtc"], created["endTimeUtc"]) == ("2024-05-15T00:00:00Z", "00:00:00")
    assert (created["startDateLocal"], created["startTimeLocal"]) == (
        "2024-05-15T00:00:00",
        "00:30:00",
    )
    assert (created["endDateLocal"], created["endTimeLocal"]) == ("2024-05-15T00:00:00", "02:00:00")
    assert sb.stats.writes["POST /timeentries"] == 1
    entry_id = created["id"]
    status, fetched = await get_json(http, f"{sb.base_url}/timeentries/{entry_id}")
    assert (status, fetched) == (200, created)
    update = {
        "typeOfWorkId": active_type(sb),
        "timezone": "America/New_York",
        "startDateLocal": "2024-05-14T00:00:00",
        "startTimeLocal": "09:00:00",
        "endTimeLocal": "10:15:00",
    }
    async with http.put(f"{sb.base_url}/timeentries/{entry_id}", json=update) as r:
        assert r.status == 200
        updated = await r.json()
    assert updated["duration"] == 4500
    assert (updated["startTimeUtc"], updated["endTimeUtc"]) == ("13:00:00", "14:15:00")
    assert updated["note"] == "created"
    assert updated["resourceVersion"] >= created["resourceVersion"]
    async with http.delete(f"{sb.base_url}/timeentries/{entry_id}") as r:
        assert r.status == 204
    async with http.delete(f"{sb.base_url}/timeentries/{entry_id}") as r:
        assert r.status == 404
    assert entry_id not in sb.store.entries


async def test_mixing_utc_and_local_groups_is_rejected(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    form = {
        "typeOfWorkId": active_type(sb),
        "timezone": "UTC",
        "userId": sb.store.me_id,
        "startDateUtc": "2024-05-14T10:00:00Z",
        "startDateLocal": "2024-05-14T10:00:00",
        "duration": 60,
    }
    async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
        assert r.status == 400


async def test_create_from_instant_and_end_before_start(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    base = {"typeOfWorkId": active_type(sb), "timezone": "UTC", "userId": sb.store.me_id}
    async with http.post(
        f"{sb.base_url}/timeentries",
        json={**base, "startDateUtc": "2024-05-14T10:00:00Z", "duration": 3600},
    ) as r:
        body = await r.json()
    assert (body["startTimeUtc"], body["endTimeUtc"]) == ("10:00:00", "11:00:00")
    bad = {**base, "startDateUtc": "2024-05-14T10:00:00Z", "endDateUtc": "2024-05-14T09:00:00Z"}
    async with http.post(f"{sb.base_url}/timeentries", json=bad) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "date-dependency"


async def test_remove_breaks(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    entry = next(e for e in sb.store.entries.values() if e["breaks"])
    total = entry["duration"] + entry["breakDuration"]
    async with http.post(f"{sb.base_url}/timeentries/{entry['id']}/removebreaks") as r:
        body = await r.json()
    assert body["breaks"] == []
    assert body["breakDuration"] is None
    assert body["duration"] == total


async def test_batch_multi_status(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    unbillable = [e["id"] for e in sb.store.entries.values() if not e["isBillable"]][:2]
    billable = [
        e["id"] for e in sb.store.entries.values() if e["isBillable"] and not e["isBilled"]
    ][:2]
    form = {"timeEntryIds": billable + unbillable + [ZERO], "isBilled": True}
    async with http.post(f"{sb.base_url}/timeentries/batch/setIsBilled", json=form) as r:
        assert r.status == 207
        body = await r.json()
    assert body == {
        "ok": {"ids": billable},
        "notFound": {"ids": [ZERO]},
        "unauthorized": {"ids": []},
        "badRequest": {"ids": unbillable},
    }
    assert all(sb.store.entries[i]["isBilled"] for i in billable)


async def test_batch_require_all_changes_nothing_on_failure(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    ids = list(sb.store.entries)[:3]
    form = {"timeEntryIds": [*ids, ZERO], "requireAllTimeEntries": True}
    async with http.post(f"{sb.base_url}/timeentries/batch/delete", json=form) as r:
        body = await r.json()
    assert body["ok"]["ids"] == []
    assert body["notFound"]["ids"] == [ZERO]
    assert all(i in sb.store.entries for i in ids)
    async with http.post(
        f"{sb.base_url}/timeentries/batch/delete", json={"timeEntryIds": ids}
    ) as r:
        assert (await r.json())["ok"]["ids"] == ids
    assert not any(i in sb.store.entries for i in ids)


async def test_batch_set_project_clears_task(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    entry = next(e for e in sb.store.entries.values() if e["taskId"])
    project = next(p for p in sb.store.projects.values() if p["id"] != entry["projectId"])
    form = {"timeEntryIds": [entry["id"]], "newProjectId": project["id"]}
    async with http.post(f"{sb.base_url}/timeentries/batch/setProject", json=form) as r:
        assert r.status == 207
    entry = sb.store.entries[entry["id"]]  # writes store a new record
    assert entry["projectId"] == project["id"]
    assert entry["taskId"] is None
    assert entry["task"] is None


@pytest.mark.parametrize(
    ("op", "form", "status"),
    [
        ("explode", {"timeEntryIds": [ZERO]}, 404),
        ("setTypeOfWork", {"timeEntryIds": [ZERO]}, 400),
        ("setTypeOfWork", {"timeEntryIds": [ZERO], "newTypeOfWorkId": ZERO}, 400),
        ("setIsBillable", {"timeEntryIds": []}, 400),
        ("delete", {}, 400),
    ],
)
async def test_batch_errors(
    sb: Sandbox, http: aiohttp.ClientSession, op: str, form: dict[str, Any], status: int
) -> None:
    async with http.post(f"{sb.base_url}/timeentries/batch/{op}", json=form) as r:
        assert r.status == status
        assert "code" in await r.json()


async def test_non_admin_gets_unauthorized_bucket() -> None:
    async with Sandbox(SandboxConfig(entries=200, seed=3, admin=False)) as sb:
        others = [e["id"] for e in sb.store.entries.values() if e["userId"] != sb.store.me_id][:2]
        mine = [
            e["id"]
            for e in sb.store.entries.values()
            if e["userId"] == sb.store.me_id and not e["isBilled"]
        ][:1]
        async with aiohttp.ClientSession(headers=sb.auth_headers) as http:
            form = {"timeEntryIds": others + mine, "isBillable": True}
            async with http.post(f"{sb.base_url}/timeentries/batch/setIsBillable", json=form) as r:
                body = await r.json()
    assert body["unauthorized"]["ids"] == others
    assert body["ok"]["ids"] == mine


async def test_legacy_bulk_endpoints(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    ids = [e["id"] for e in sb.store.entries.values() if not e["isBilled"]][:3]
    async with http.post(f"{sb.base_url}/timeentries/setbillable", json={"ids": ids}) as r:
        assert r.status == 204
    async with http.post(f"{sb.base_url}/timeentries/setbilled", json={"ids": ids}) as r:
        assert r.status == 204
    assert all(sb.store.entries[i]["isBilled"] for i in ids)
    async with http.post(f"{sb.base_url}/timeentries/setunbillable", json={"ids": ids}) as r:
        assert r.status == 400
    async with http.post(f"{sb.base_url}/timeentries/settypeofwork", json={"ids": ids}) as r:
        assert r.status == 400
    async with http.post(f"{sb.base_url}/timeentries/delete", json={"ids": [*ids, ZERO]}) as r:
        assert r.status == 404
    assert all(i in sb.store.entries for i in ids)
    async with http.post(f"{sb.base_url}/timeentries/delete", json={"ids": ids}) as r:
        assert r.status == 204
    assert not any(i in sb.store.entries for i in ids)


# ------------------------------------------------------------ bookings, types and the rest


async def test_time_bookings_crud_and_user_lookup(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    me = sb.store.me_id
    form = {"userId": me, "startDate": "2030-01-10", "endDate": "2030-01-12", "duration": 7200}
    async with http.post(f"{sb.base_url}/projecttimebookings", json=form) as r:
        assert r.status == 200
        booking = await r.json()
    status, result = await get_json(
        http,
        f"{sb.base_url}/users/timebookings",
        userIds=f"{me},{ZERO}",
        intervalStart="2030-01-12",
        intervalEnd="2030-01-31",
    )
    assert status == 200
    assert result == [
        {"userId": me, "timeBookings": [booking]},
        {"userId": ZERO, "timeBookings": []},
    ]
    async with http.put(
        f"{sb.base_url}/timebookings/{booking['id']}",
        json={"description": "moved", "endDate": "2030-01-11"},
    ) as r:
        assert (await r.json())["endDate"] == "2030-01-11"
    async with http.delete(f"{sb.base_url}/timebookings/{booking['id']}") as r:
        assert r.status == 204
    status, page = await get_json(http, f"{sb.base_url}/timebookings", pageSize=1000)
    assert len(page) == len(sb.store.time_bookings) == 200


@pytest.mark.parametrize(
    "params",
    [
        {"intervalStart": "2024-01-01", "intervalEnd": "2024-02-01"},
        {"userIds": "nope", "intervalStart": "2024-01-01", "intervalEnd": "2024-02-01"},
        {"userIds": ZERO, "intervalStart": "01.01.2024", "intervalEnd": "2024-02-01"},
        {"userIds": ZERO, "intervalStart": "2024-03-01", "intervalEnd": "2024-02-01"},
    ],
)
async def test_user_bookings_validation(
    sb: Sandbox, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    status, body = await get_json(http, f"{sb.base_url}/users/projecttimebookings", **params)
    assert status == 400
    assert body["validationErrors"]


async def test_types_of_work(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    _, visible = await get_json(http, f"{sb.base_url}/typeofwork", pageSize=100)
    _, everything = await get_json(
        http, f"{sb.base_url}/typeofwork", pageSize=100, showArchived="true"
    )
    assert len(visible) == 9
    assert len(everything) == 10
    async with http.post(
        f"{sb.base_url}/typeofwork", json={"name": "Coffee", "icon": "local_cafe"}
    ) as r:
        created = await r.json()
    async with http.post(f"{sb.base_url}/typeofwork", json={"name": ""}) as r:
        assert r.status == 400
    target = next(e for e in sb.store.entries.values())
    old_type = target["typeOfWorkId"]
    async with http.put(f"{sb.base_url}/typeofwork/{old_type}", json={"name": "Renamed"}) as r:
        assert r.status == 200
    assert target["typeOfWork"]["name"] == "Renamed"
    async with http.post(f"{sb.base_url}/typeofwork/{old_type}/delete", json={}) as r:
        assert r.status == 400
    async with http.post(
        f"{sb.base_url}/typeofwork/{old_type}/delete", json={"typeOfWorkId": created["id"]}
    ) as r:
        assert r.status == 204
    target = sb.store.entries[target["id"]]  # writes store a new record
    assert target["typeOfWorkId"] == created["id"]
    async with http.post(
        f"{sb.base_url}/typeofwork/{created['id']}/setarchived", json={"isArchived": True}
    ) as r:
        assert (await r.json())["isArchived"] is True
    assert target["typeOfWork"]["isArchived"] is True
    status, icons = await get_json(http, f"{sb.base_url}/typeofwork/icons")
    assert "brush" in icons
    project = next(iter(sb.store.projects))
    status, types = await get_json(http, f"{sb.base_url}/projects/{project}/typeofwork")
    assert status == 200
    assert types


async def test_me_reports_and_settings(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    _, me = await get_json(http, f"{sb.base_url}/me")
    assert me["id"] == sb.store.me_id
    assert set(me["workspace"]) == {"id", "name", "url"}
    _, reports = await get_json(http, f"{sb.base_url}/timereports")
    assert reports
    assert reports[0]["filter"] == f"userId eq guid'{sb.store.me_id}'"
    _, settings = await get_json(http, f"{sb.base_url}/timetracking/settings")
    assert {s["type"] for s in settings} == {"prevent-on-done-projects", "allow-on-past-days"}


async def test_report_filter_can_be_replayed(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    _, reports = await get_json(http, f"{sb.base_url}/timereports")
    for report in reports:
        if report["filter"]:
            status, _ = await get_json(
                http, f"{sb.base_url}/timeentries", filterby=report["filter"], pageSize=1
            )
            assert status == 200


# ------------------------------------------------------------------------ binding a host


@pytest.mark.parametrize(
    ("host", "exposed"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("[::1]", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("", True),
        ("192.168.1.20", True),
        ("sandbox.example.org", True),
    ],
)
def test_exposure_warning(host: str, exposed: bool) -> None:
    from awork_async.sandbox.server import exposure_warning

    warning = exposure_warning(host)
    assert (warning is not None) is exposed
    if host in ("0.0.0.0", "::", ""):
        assert warning is not None
        assert "ALL network interfaces" in warning


def _no_serving(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace ``asyncio.run`` (the serving loop) by a stub that records the call."""
    import asyncio

    calls: list[str] = []

    def fake_run(coro: Any) -> None:
        coro.close()
        calls.append("run")

    monkeypatch.setattr(asyncio, "run", fake_run)
    return calls


def test_module_entry_point_warns_about_all_interfaces(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from awork_async.sandbox.__main__ import main

    calls = _no_serving(monkeypatch)
    main(["--host", "0.0.0.0", "--port", "0", "--entries", "1"])
    main(["--port", "0", "--entries", "1"])
    assert calls == ["run", "run"]
    err = capsys.readouterr().err
    assert err.count("WARNING: the sandbox listens on ALL network interfaces") == 1


def test_cli_sandbox_command_warns_about_all_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from awork_async.cli import app

    calls = _no_serving(monkeypatch)
    result = CliRunner().invoke(app, ["sandbox", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "WARNING: the sandbox listens on ALL network interfaces" in result.stderr
    quiet = CliRunner().invoke(app, ["sandbox", "--port", "0", "--entries", "1"])
    assert "WARNING" not in quiet.stderr
    assert calls == ["run", "run"]
