"""The sandbox at the edges of years 1 and 9999: 400 answers in awork's error shape, never a 500."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from _spec import validate_body

from awork_async.sandbox import Sandbox
from awork_async.sandbox._timeutil import (
    MAX_INSTANT,
    MIN_INSTANT,
    UTC,
    TimeRangeError,
    checked_instant,
    shift,
    to_naive_utc,
    to_utc,
)

EDGE_FILTER = "createdOn gt datetime'0001-01-01T00:00:00+14:00'"


#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=100, seed=5)


def entry_form(sb: Sandbox, **fields: Any) -> dict[str, Any]:
    tow = next(t["id"] for t in sb.store.types_of_work.values() if not t["isArchived"])
    return {"typeOfWorkId": tow, "userId": sb.store.me_id, "timezone": "Europe/Berlin", **fields}


EDGE_BODIES = [
    {"startDateUtc": "9999-12-31T23:00:00Z", "duration": 7200},
    {"endDateUtc": "0001-01-01T00:00:00Z", "endTimeUtc": "00:30", "duration": 3600},
    {"endDateUtc": "0001-01-01T00:00:00Z", "duration": 60},
    {"startDateUtc": "0001-01-01T00:00:00+05:00", "duration": 60},
    {"startDateUtc": "9999-12-31T20:00:00Z", "duration": 60, "timezone": "Pacific/Kiritimati"},
    {"startDateLocal": "9999-12-31T23:00:00", "duration": 60, "timezone": "Pacific/Kiritimati"},
    {"startDateLocal": "0001-01-01T00:00:00", "duration": 60, "timezone": "Pacific/Kiritimati"},
    {"startDateUtc": "0001-01-01T01:00:00Z", "duration": 60, "timezone": "America/New_York"},
    {"startDateUtc": "9999-12-31T00:00:00Z", "endTimeUtc": "23:00", "timezone": "Asia/Tokyo"},
    {"startDateUtc": "9990-01-01T00:00:00Z", "startTimeUtc": "08:00", "duration": 2**31 - 1},
]


@pytest.mark.parametrize("fields", EDGE_BODIES)
async def test_times_at_the_edges_are_400_not_500(
    sb: Sandbox, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    async with http.post(f"{sb.base_url}/timeentries", json=entry_form(sb, **fields)) as r:
        body = await r.json()
        assert r.status == 400, body
    validate_body("ErrorResponse", body)
    assert body["code"] == "validation-failed"
    assert "between 0001-01-02 and 9999-12-30" in str(body["validationErrors"])
    assert len(sb.store.entries) == 100


@pytest.mark.parametrize("fields", EDGE_BODIES[:5])
async def test_updates_at_the_edges_are_400(
    sb: Sandbox, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    entry = next(
        e for e in sb.store.entries.values() if e["userId"] == sb.store.me_id and e["endTimeUtc"]
    )
    form = entry_form(sb, **fields)
    async with http.put(f"{sb.base_url}/timeentries/{entry['id']}", json=form) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "validation-failed"


async def test_the_last_storable_times_are_accepted(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    cases = [
        ("Pacific/Kiritimati", {"startDateUtc": "9999-12-30T23:00:00Z", "duration": 3599}),
        ("Pacific/Kiritimati", {"startDateUtc": "0001-01-02T00:00:00Z", "duration": 60}),
        ("Pacific/Pago_Pago", {"startDateUtc": "0001-01-02T00:00:00Z", "duration": 60}),
    ]
    for zone, fields in cases:
        form = entry_form(sb, timezone=zone, startTimeUtc="00:00", **fields)
        if fields["startDateUtc"].startswith("9999"):
            form["startTimeUtc"] = "23:00"
        async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
            assert r.status == 200, await r.text()


def list_routes(sb: Sandbox) -> list[str]:
    project = next(iter(sb.store.projects))
    task = next(iter(sb.store.tasks))
    return [
        "/timeentries",
        "/timeentries/simplified",
        f"/projects/{project}/timeentries",
        f"/tasks/{task}/timeentries",
        "/timebookings",
        "/projecttimebookings",
        "/typeofwork",
        "/webhooks",
    ]


@pytest.mark.parametrize(
    "filterby",
    [
        EDGE_FILTER,
        "createdOn lt datetime'9999-12-31T23:00:00-10:00'",
        "id ne null and createdOn ge datetimeoffset'0001-01-01T00:00:00+00:01'",
    ],
)
async def test_filters_at_the_edges_are_400_on_every_list(
    sb: Sandbox, http: aiohttp.ClientSession, filterby: str
) -> None:
    for path in list_routes(sb):
        async with http.get(sb.base_url + path, params={"filterby": filterby}) as r:
            body = await r.json()
            assert r.status == 400, (path, body)
        validate_body("ErrorResponse", body)
        assert body["code"] == "invalid-filter-or-order"
        assert "is outside years 1 to 9999" in body["details"][0]


async def test_stored_text_at_the_edges_is_no_date_time(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    # A note that looks like an unrepresentable date-time: compared and sorted as text, no 500.
    form = entry_form(sb, startDateUtc="2024-01-01T08:00:00Z", duration=60)
    form["note"] = "0001-01-01T00:00:00+14:00"
    async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
        assert r.status == 200
    for params in (
        {"filterby": "note gt datetime'2020-01-01T00:00:00Z'"},
        {"filterby": "note eq createdOn", "orderby": "note desc"},
        {"orderby": "note"},
    ):
        async with http.get(f"{sb.base_url}/timeentries", params=params) as r:
            assert r.status == 200, (params, await r.text())


def test_time_guard_helpers() -> None:
    with pytest.raises(TimeRangeError):
        to_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
    with pytest.raises(TimeRangeError):
        shift(datetime(9999, 12, 30, 23, tzinfo=UTC), 3600)
    with pytest.raises(TimeRangeError):
        shift(MIN_INSTANT, -1)
    with pytest.raises(TimeRangeError):
        checked_instant(datetime(1, 1, 1, 12, tzinfo=UTC))
    assert shift(MAX_INSTANT, 0) == MAX_INSTANT
    assert to_utc(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC)
    assert to_naive_utc("0001-01-01T00:00:00+14:00") is None
    assert to_naive_utc("0001-01-01T00:00:00Z") == datetime(1, 1, 1)
