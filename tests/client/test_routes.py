"""One route test and one response test for every time-related operation of the spec.

Each row of ``ROUTES`` names a client method, the HTTP method, path and query it must send, the
spec schema its body must validate against, and a response to decode. ``test_every_operation_
is_covered`` checks the rows against the spec subset, and ``test_readme_coverage_table`` checks the
README's table, which ``PYTHONPATH=tests python tests/client/test_routes.py --write-readme`` regenerates.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from _spec import load_json, load_spec, validate_body
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from awork_async import AworkClient
from awork_async.models import (
    MultiStatusResult,
    SimplifiedTimeEntry,
    TimeBooking,
    TimeBookingForm,
    TimeEntry,
    TimeEntryCreate,
    TimeEntryUpdate,
    TimeReport,
    TimeTrackingSetting,
    TypeOfWork,
    TypeOfWorkForm,
    UserAndWorkspace,
    WebhookConfig,
    WebhookConfigForm,
    WebhookLog,
)

BASE = "https://api.awork.test/api/v1"
ID = uuid.UUID("0d7a9e1c-5f6b-4c2a-9e8d-7b6a5c4d3e2f")
ID2 = uuid.UUID("1e8b0f2d-6a7c-4d3b-8f9e-8c7b6d5e4f30")
TOW = uuid.UUID("2f9c1a3e-7b8d-4e4c-9a0f-9d8c7e6f5a41")
USER = uuid.UUID("3a0d2b4f-8c9e-4f5d-8b1a-ae9d8f7a6b52")
UTC = dt.timezone.utc

ENTRY: dict[str, Any] = load_json("time_entry.json")
BOOKING: dict[str, Any] = load_json("time_booking.json")
USER_BOOKINGS: list[Any] = load_json("user_time_bookings.json")
BATCH: dict[str, Any] = load_json("batch_result.json")
TYPE_OF_WORK = {"id": str(TOW), "name": "Design", "icon": "brush", "isArchived": False}
REPORT = {"id": str(ID), "name": "March", "filter": f"projectId eq guid'{ID}'", "shared": True}
SIMPLE = {"id": str(ID), "duration": 60, "startDateUtc": "2024-05-14T00:00:00Z", "isBillable": True}
SETTING = {"type": "prevent-on-done-projects", "enabled": True}
ME = {
    "id": str(USER),
    "firstName": "Ada",
    "lastName": "L",
    "workspace": {"id": str(ID), "name": "W"},
}
PAGED = {"aw-totalitems": "1", "aw-page": "1", "aw-pagesize": "1000"}

CREATE = TimeEntryCreate.from_span(
    start=dt.datetime(2024, 5, 14, 10, 0, tzinfo=UTC),
    duration=3600,
    timezone="Europe/Berlin",
    type_of_work_id=TOW,
    user_id=USER,
    is_billable=True,
)
UPDATE = TimeEntryUpdate.from_span(
    start=dt.datetime(2024, 5, 14, 10, 0, tzinfo=UTC),
    end=dt.datetime(2024, 5, 14, 12, 0, tzinfo=UTC),
    timezone="Europe/Berlin",
    type_of_work_id=TOW,
)
BOOKING_FORM = TimeBookingForm(
    user_id=USER,
    project_id=ID,
    start_date=dt.date(2024, 5, 15),
    end_date=dt.date(2024, 5, 18),
    duration=7200,
)
TOW_FORM = TypeOfWorkForm(name="Design", icon="brush")
HOOK_FORM = WebhookConfigForm(
    name="sync",
    uri="https://worker.example/awork/webhooks",
    events=["timetracking_added", "timetracking_deleted"],
    is_active=True,
    auth_header="X-Awork-Secret",
    auth_value="s3cr3t",
)
HOOK = {
    "id": str(ID),
    "name": "sync",
    "uri": "https://worker.example/awork/webhooks",
    "events": "timetracking_added,timetracking_deleted",
    "isActive": True,
    "authenticationType": "header",
    "authentication": "X-Awork-Secret=s3cr3t",
    "receiverType": "custom",
}
HOOK_LOG = {"webhookId": str(ID), "responseCode": 503, "isSuccessful": False, "reason": "busy"}


async def _collect(pager: Any) -> Any:
    return await pager.collect()


@dataclass
class Route:
    """One operation: how the client is called and what must go over the wire."""

    operation_id: str
    method: str
    template: str  # the spec's path
    python: str  # how a user calls it (README table)
    call: Callable[[AworkClient], Awaitable[Any]]
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body_schema: str | None = None
    body_expected: dict[str, Any] | None = None
    status: int = 200
    response: object = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[Any], bool] = lambda result: result is None


def _is_list_of(cls: type) -> Callable[[Any], bool]:
    return lambda result: (
        isinstance(result, list) and len(result) >= 1 and all(isinstance(r, cls) for r in result)
    )


def _page(q: dict[str, str] | None = None) -> dict[str, str]:
    return {"page": "1", "pageSize": "1000", **(q or {})}


E = TimeEntry
ROUTES: list[Route] = [
    Route(
        "GetTimeEntries",
        "GET",
        "/timeentries",
        "time_entries.list(...)",
        lambda c: _collect(
            c.time_entries.list(filterby="isBillable eq true", orderby="startDateUtc desc")
        ),
        "/timeentries",
        _page({"filterby": "isBillable eq true", "orderby": "startDateUtc desc"}),
        response=[ENTRY],
        headers=PAGED,
        check=_is_list_of(E),
    ),
    Route(
        "PostTimeEntry",
        "POST",
        "/timeentries",
        "time_entries.create(form)",
        lambda c: c.time_entries.create(CREATE),
        "/timeentries",
        body_schema="TimeEntryPostForm",
        body_expected={
            "startDateUtc": "2024-05-14T00:00:00Z",
            "startTimeUtc": "10:00:00",
            "duration": 3600,
            "userId": str(USER),
            "typeOfWorkId": str(TOW),
        },
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "GetTimeEntryById",
        "GET",
        "/timeentries/{timeEntryId}",
        "time_entries.get(id)",
        lambda c: c.time_entries.get(ID),
        f"/timeentries/{ID}",
        response=ENTRY,
        check=lambda r: isinstance(r, E) and r.duration == ENTRY["duration"],
    ),
    Route(
        "PutTimeEntryById",
        "PUT",
        "/timeentries/{timeEntryId}",
        "time_entries.update(id, form)",
        lambda c: c.time_entries.update(ID, UPDATE),
        f"/timeentries/{ID}",
        body_schema="TimeTrackingPutForm",
        body_expected={"startTimeUtc": "10:00:00", "endTimeUtc": "12:00:00"},
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "DeleteTimeEntryById",
        "DELETE",
        "/timeentries/{timeEntryId}",
        "time_entries.delete(id)",
        lambda c: c.time_entries.delete(ID),
        f"/timeentries/{ID}",
        status=204,
    ),
    Route(
        "PostTimeEntryRemoveBreaks",
        "POST",
        "/timeentries/{timeEntryId}/removebreaks",
        "time_entries.remove_breaks(id)",
        lambda c: c.time_entries.remove_breaks(ID),
        f"/timeentries/{ID}/removebreaks",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "GetTimeEntriesSimplified",
        "GET",
        "/timeentries/simplified",
        "time_entries.list_simplified(grouping=...)",
        lambda c: _collect(c.time_entries.list_simplified(grouping="user")),
        "/timeentries/simplified",
        _page({"grouping": "user"}),
        response=[SIMPLE],
        headers=PAGED,
        check=_is_list_of(SimplifiedTimeEntry),
    ),
    Route(
        "GetProjectTimeEntries",
        "GET",
        "/projects/{projectId}/timeentries",
        "time_entries.list_for_project(project_id)",
        lambda c: _collect(c.time_entries.list_for_project(ID, page_size=50)),
        f"/projects/{ID}/timeentries",
        {"page": "1", "pageSize": "50"},
        response=[ENTRY],
        headers={"aw-totalitems": "1"},
        check=_is_list_of(E),
    ),
    Route(
        "GetTaskTimeEntries",
        "GET",
        "/tasks/{taskId}/timeentries",
        "time_entries.list_for_task(task_id)",
        lambda c: _collect(c.time_entries.list_for_task(ID)),
        f"/tasks/{ID}/timeentries",
        _page(),
        response=[ENTRY],
        headers=PAGED,
        check=_is_list_of(E),
    ),
    Route(
        "GetMyLastTimeEntries",
        "GET",
        "/me/timeentries/last",
        "time_entries.last()",
        lambda c: c.time_entries.last(),
        "/me/timeentries/last",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "GetLastTimeEntriesByUserId",
        "GET",
        "/users/{userId}/timeentries/last",
        "time_entries.last(user_id)",
        lambda c: c.time_entries.last(USER),
        f"/users/{USER}/timeentries/last",
        response=[ENTRY],  # the older array shape (D1)
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "PostTimeEntriesBatchByOperation",
        "POST",
        "/timeentries/batch/{operation}",
        "time_entries.batch(op, ids, ...) / set_billable(ids, True) / ...",
        lambda c: c.time_entries.set_billable([ID, ID2], True),
        "/timeentries/batch/setIsBillable",
        body_schema="TimeEntryBatchOperationForm",
        body_expected={"timeEntryIds": [str(ID), str(ID2)], "isBillable": True},
        status=207,
        response=BATCH,
        check=lambda r: isinstance(r, MultiStatusResult) and len(r.ok_ids) == 2,
    ),
    Route(
        "PostTimeEntriesDelete",
        "POST",
        "/timeentries/delete",
        'time_entries.legacy_bulk("delete", ids) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("delete", [ID]),
        "/timeentries/delete",
        body_schema="DeleteTimeEntriesForm",
        body_expected={"ids": [str(ID)]},
        status=204,
    ),
    Route(
        "PostTimeEntriesSetBillable",
        "POST",
        "/timeentries/setbillable",
        'time_entries.legacy_bulk("setbillable", ids) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("setbillable", [ID]),
        "/timeentries/setbillable",
        body_schema="SetTimeEntryBillableForm",
        body_expected={"ids": [str(ID)]},
        status=204,
    ),
    Route(
        "PostTimeEntriesSetUnbillable",
        "POST",
        "/timeentries/setunbillable",
        'time_entries.legacy_bulk("setunbillable", ids) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("setunbillable", [ID]),
        "/timeentries/setunbillable",
        body_schema="SetTimeEntryBillableForm",
        body_expected={"ids": [str(ID)]},
        status=204,
    ),
    Route(
        "PostTimeEntriesSetBilled",
        "POST",
        "/timeentries/setbilled",
        'time_entries.legacy_bulk("setbilled", ids) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("setbilled", [ID]),
        "/timeentries/setbilled",
        body_schema="SetTimeEntryBilledForm",
        body_expected={"ids": [str(ID)]},
        status=204,
    ),
    Route(
        "PostTimeEntriesSetUnBilled",
        "POST",
        "/timeentries/setunbilled",
        'time_entries.legacy_bulk("setunbilled", ids) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("setunbilled", [ID]),
        "/timeentries/setunbilled",
        body_schema="SetTimeEntryBilledForm",
        body_expected={"ids": [str(ID)]},
        status=204,
    ),
    Route(
        "PostTimeEntriesSetTypeOfWork",
        "POST",
        "/timeentries/settypeofwork",
        'time_entries.legacy_bulk("settypeofwork", ids, type_of_work_id=...) (deprecated)',
        lambda c: c.time_entries.legacy_bulk("settypeofwork", [ID], type_of_work_id=TOW),
        "/timeentries/settypeofwork",
        body_schema="SetTimeEntryTypeOfWork",
        body_expected={"ids": [str(ID)], "typeOfWorkId": str(TOW)},
        status=204,
    ),
    # -- timer, both route families --------------------------------------------------------
    Route(
        "PostStartMyTimeTracking",
        "POST",
        "/me/timetracking/start",
        "timer.start(type_of_work_id, timezone=...)",
        lambda c: c.timer.start(TOW, timezone="Europe/London", note="x"),
        "/me/timetracking/start",
        body_schema="StartTimeTrackingForm",
        body_expected={"typeOfWorkId": str(TOW), "timezone": "Europe/London", "note": "x"},
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "PostStartTimeTrackingByUserId",
        "POST",
        "/users/{userId}/timetracking/start",
        "timer.start(type_of_work_id, user_id=...)",
        lambda c: c.timer.start(TOW, timezone="Europe/Berlin", user_id=USER),
        f"/users/{USER}/timetracking/start",
        body_schema="StartTimeTrackingForm",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "PostStopMyTimeTracking",
        "POST",
        "/me/timetracking/stop",
        "timer.stop()",
        lambda c: c.timer.stop(),
        "/me/timetracking/stop",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "PostStopTimeTrackingByUserId",
        "POST",
        "/users/{userId}/timetracking/stop",
        "timer.stop(user_id=...)",
        lambda c: c.timer.stop(user_id=USER),
        f"/users/{USER}/timetracking/stop",
        status=204,
    ),
    Route(
        "PostPauseMyTimeTracking",
        "POST",
        "/me/timetracking/pause",
        "timer.pause()",
        lambda c: c.timer.pause(),
        "/me/timetracking/pause",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "PostPauseTimeTrackingByUserId",
        "POST",
        "/users/{userId}/timetracking/pause",
        "timer.pause(user_id=...)",
        lambda c: c.timer.pause(user_id=USER),
        f"/users/{USER}/timetracking/pause",
        status=204,
    ),
    Route(
        "PostResumeMyTimeTracking",
        "POST",
        "/me/timetracking/resume",
        "timer.resume()",
        lambda c: c.timer.resume(),
        "/me/timetracking/resume",
        status=204,
    ),
    Route(
        "PostResumeTimeTrackingByUserId",
        "POST",
        "/users/{userId}/timetracking/resume",
        "timer.resume(user_id=...)",
        lambda c: c.timer.resume(user_id=USER),
        f"/users/{USER}/timetracking/resume",
        response=ENTRY,
        check=lambda r: isinstance(r, E),
    ),
    Route(
        "GetTimeTrackingSettings",
        "GET",
        "/timetracking/settings",
        "timer.settings()",
        lambda c: c.timer.settings(),
        "/timetracking/settings",
        response=[SETTING],
        check=_is_list_of(TimeTrackingSetting),
    ),
    # -- time bookings ---------------------------------------------------------------------
    Route(
        "GetTimeBookings",
        "GET",
        "/timebookings",
        "time_bookings.list(...)",
        lambda c: _collect(c.time_bookings.list()),
        "/timebookings",
        _page(),
        response=[BOOKING],
        headers=PAGED,
        check=_is_list_of(TimeBooking),
    ),
    Route(
        "PostTimeBooking",
        "POST",
        "/timebookings",
        "time_bookings.create(form)",
        lambda c: c.time_bookings.create(BOOKING_FORM),
        "/timebookings",
        body_schema="TimeBookingForm",
        body_expected={"startDate": "2024-05-15", "endDate": "2024-05-18", "duration": 7200},
        response=BOOKING,
        check=lambda r: isinstance(r, TimeBooking),
    ),
    Route(
        "PutTimeBookingById",
        "PUT",
        "/timebookings/{timeBookingId}",
        "time_bookings.update(id, form)",
        lambda c: c.time_bookings.update(ID, BOOKING_FORM),
        f"/timebookings/{ID}",
        body_schema="TimeBookingForm",
        response=BOOKING,
        check=lambda r: isinstance(r, TimeBooking),
    ),
    Route(
        "DeleteTimeBookingById",
        "DELETE",
        "/timebookings/{timeBookingId}",
        "time_bookings.delete(id)",
        lambda c: c.time_bookings.delete(ID),
        f"/timebookings/{ID}",
        status=204,
    ),
    Route(
        "GetProjectTimeBookings",
        "GET",
        "/projecttimebookings",
        "project_time_bookings.list(...)",
        lambda c: _collect(c.project_time_bookings.list(filterby="duration gt 0")),
        "/projecttimebookings",
        _page({"filterby": "duration gt 0"}),
        response=[BOOKING],
        headers=PAGED,
        check=_is_list_of(TimeBooking),
    ),
    Route(
        "PostProjectTimeBooking",
        "POST",
        "/projecttimebookings",
        "project_time_bookings.create(form)",
        lambda c: c.project_time_bookings.create(BOOKING_FORM),
        "/projecttimebookings",
        body_schema="TimeBookingForm",
        response=BOOKING,
        check=lambda r: isinstance(r, TimeBooking),
    ),
    Route(
        "PutProjectTimeBooking",
        "PUT",
        "/projecttimebookings/{timeBookingId}",
        "project_time_bookings.update(id, form)",
        lambda c: c.project_time_bookings.update(ID, BOOKING_FORM),
        f"/projecttimebookings/{ID}",
        body_schema="TimeBookingForm",
        response=BOOKING,
        check=lambda r: isinstance(r, TimeBooking),
    ),
    Route(
        "DeleteProjectTimeBooking",
        "DELETE",
        "/projecttimebookings/{timeBookingId}",
        "project_time_bookings.delete(id)",
        lambda c: c.project_time_bookings.delete(ID),
        f"/projecttimebookings/{ID}",
        status=204,
    ),
    Route(
        "GetUsersTimeBookings",
        "GET",
        "/users/timebookings",
        "time_bookings.for_users(user_ids, start, end)",
        lambda c: c.time_bookings.for_users([USER, ID2], dt.date(2024, 5, 1), dt.date(2024, 5, 31)),
        "/users/timebookings",
        {"userIds": f"{USER},{ID2}", "intervalStart": "2024-05-01", "intervalEnd": "2024-05-31"},
        response=USER_BOOKINGS,
        check=lambda r: isinstance(r, dict) and r[ID2] == [] and len(r) == 3,
    ),
    Route(
        "GetProjectTimeBookingsForUsers",
        "GET",
        "/users/projecttimebookings",
        "project_time_bookings.for_users(user_ids, start, end)",
        lambda c: c.project_time_bookings.for_users(
            [USER], dt.date(2024, 5, 1), dt.date(2024, 5, 1)
        ),
        "/users/projecttimebookings",
        {"userIds": str(USER), "intervalStart": "2024-05-01", "intervalEnd": "2024-05-01"},
        response=[],
        check=lambda r: r == {USER: []},
    ),
    # -- types of work, reports, me -------------------------------------------------------
    Route(
        "GetTypesOfWork",
        "GET",
        "/typeofwork",
        "types_of_work.list(show_archived=...)",
        lambda c: _collect(c.types_of_work.list(show_archived=True)),
        "/typeofwork",
        _page({"showArchived": "true"}),
        response=[TYPE_OF_WORK],
        headers=PAGED,
        check=_is_list_of(TypeOfWork),
    ),
    Route(
        "PostTypesOfWork",
        "POST",
        "/typeofwork",
        "types_of_work.create(form)",
        lambda c: c.types_of_work.create(TOW_FORM),
        "/typeofwork",
        body_schema="TypeOfWorkForm",
        body_expected={"name": "Design", "icon": "brush"},
        response=TYPE_OF_WORK,
        check=lambda r: isinstance(r, TypeOfWork),
    ),
    Route(
        "GetTypesOfWorkIcons",
        "GET",
        "/typeofwork/icons",
        "types_of_work.icons()",
        lambda c: c.types_of_work.icons(),
        "/typeofwork/icons",
        response=["brush", "code"],
        check=lambda r: r == ["brush", "code"],
    ),
    Route(
        "GetTypeOfWorkById",
        "GET",
        "/typeofwork/{typeOfWorkId}",
        "types_of_work.get(id)",
        lambda c: c.types_of_work.get(TOW),
        f"/typeofwork/{TOW}",
        response=TYPE_OF_WORK,
        check=lambda r: isinstance(r, TypeOfWork) and r.name == "Design",
    ),
    Route(
        "PutTypeOfWorkById",
        "PUT",
        "/typeofwork/{typeOfWorkId}",
        "types_of_work.update(id, form)",
        lambda c: c.types_of_work.update(TOW, TOW_FORM),
        f"/typeofwork/{TOW}",
        body_schema="TypeOfWorkForm",
        response=TYPE_OF_WORK,
        check=lambda r: isinstance(r, TypeOfWork),
    ),
    Route(
        "PostTypeOfWorkDeleteByTypeOfWorkId",
        "POST",
        "/typeofwork/{typeOfWorkId}/delete",
        "types_of_work.delete(id, replacement_id)",
        lambda c: c.types_of_work.delete(TOW, ID),
        f"/typeofwork/{TOW}/delete",
        body_schema="DeleteTaskTypeForm",
        body_expected={"typeOfWorkId": str(ID)},
        status=204,
    ),
    Route(
        "PostTypeOfWorkSetArchivedByTypeOfWorkId",
        "POST",
        "/typeofwork/{typeOfWorkId}/setarchived",
        "types_of_work.set_archived(id, True)",
        lambda c: c.types_of_work.set_archived(TOW, True),
        f"/typeofwork/{TOW}/setarchived",
        body_schema="ArchivedForm",
        body_expected={"isArchived": True},
        response=TYPE_OF_WORK,
        check=lambda r: isinstance(r, TypeOfWork),
    ),
    Route(
        "GetProjectTypesOfWorkByProjectId",
        "GET",
        "/projects/{projectId}/typeofwork",
        "types_of_work.list_for_project(project_id)",
        lambda c: c.types_of_work.list_for_project(ID),
        f"/projects/{ID}/typeofwork",
        response=[TYPE_OF_WORK],
        check=_is_list_of(TypeOfWork),
    ),
    Route(
        "PostTasksChangeTypeOfWork",
        "POST",
        "/tasks/changetypeofwork",
        "types_of_work.change_for_tasks(task_ids, type_of_work_id, change_time_entries=True)",
        lambda c: c.types_of_work.change_for_tasks([ID], TOW, change_time_entries=True),
        "/tasks/changetypeofwork",
        body_schema="TasksChangeTypesForm",
        body_expected={"taskIds": [str(ID)], "typeOfWorkId": str(TOW), "changeTimeEntries": True},
        status=204,
    ),
    Route(
        "GetTimeReports",
        "GET",
        "/timereports",
        "time_reports.list()",
        lambda c: c.time_reports.list(),
        "/timereports",
        response=[REPORT],
        check=_is_list_of(TimeReport),
    ),
    # -- webhooks -------------------------------------------------------------------------
    Route(
        "GetWebhooks",
        "GET",
        "/webhooks",
        "webhooks.list()",
        lambda c: _collect(c.webhooks.list()),
        "/webhooks",
        _page(),
        response=[HOOK],
        headers=PAGED,
        check=_is_list_of(WebhookConfig),
    ),
    Route(
        "PostWebhook",
        "POST",
        "/webhooks",
        "webhooks.create(form)",
        lambda c: c.webhooks.create(HOOK_FORM),
        "/webhooks",
        body_schema="WebhookConfigForm",
        body_expected={
            "events": "timetracking_added,timetracking_deleted",
            "isActive": True,
            "authenticationType": "header",
            "authentication": "X-Awork-Secret=s3cr3t",
        },
        response=HOOK,
        check=lambda r: (
            isinstance(r, WebhookConfig)
            and r.event_types == ("timetracking_added", "timetracking_deleted")
            and r.auth_header == "X-Awork-Secret"
        ),
    ),
    Route(
        "GetWebhook",
        "GET",
        "/webhooks/{webhookId}",
        "webhooks.get(id)",
        lambda c: c.webhooks.get(ID),
        f"/webhooks/{ID}",
        response=HOOK,
        check=lambda r: isinstance(r, WebhookConfig) and r.id == ID,
    ),
    Route(
        "PutWebhook",
        "PUT",
        "/webhooks/{webhookId}",
        "webhooks.update(id, form)",
        lambda c: c.webhooks.update(ID, HOOK_FORM),
        f"/webhooks/{ID}",
        body_schema="WebhookConfigForm",
        body_expected={"name": "sync", "uri": "https://worker.example/awork/webhooks"},
        response=HOOK,
        check=lambda r: isinstance(r, WebhookConfig),
    ),
    Route(
        "DeleteWebhook",
        "DELETE",
        "/webhooks/{webhookId}",
        "webhooks.delete(id)",
        lambda c: c.webhooks.delete(ID),
        f"/webhooks/{ID}",
        status=204,
    ),
    Route(
        "GetWebhookLogs",
        "GET",
        "/webhooks/{webhookId}/logs",
        "webhooks.logs(webhook_id)",
        lambda c: _collect(c.webhooks.logs(ID)),
        f"/webhooks/{ID}/logs",
        _page(),
        response=[HOOK_LOG],
        headers=PAGED,
        check=lambda r: _is_list_of(WebhookLog)(r) and r[0].response_code == 503,
    ),
    Route(
        "GetWebhookEventTypes",
        "GET",
        "/webhooks/eventtypes",
        "webhooks.event_types()",
        lambda c: c.webhooks.event_types(),
        "/webhooks/eventtypes",
        response=["timetracking_added", "task_added"],
        check=lambda r: r == ["timetracking_added", "task_added"],
    ),
    Route(
        "GetSlackEventTypes",
        "GET",
        "/webhooks/eventtypes/slack",
        "webhooks.event_types(slack=True)",
        lambda c: c.webhooks.event_types(slack=True),
        "/webhooks/eventtypes/slack",
        response=["task_added"],
        check=lambda r: r == ["task_added"],
    ),
    Route(
        "GetMe",
        "GET",
        "/me",
        "me()",
        lambda c: c.me(),
        "/me",
        response=ME,
        check=lambda r: isinstance(r, UserAndWorkspace) and r.id == USER,
    ),
]


@dataclass
class Seen:
    method: str
    url: URL
    body: object


def _mock(m: aioresponses, route: Route, seen: list[Seen]) -> None:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        data = kwargs.get("data")
        seen.append(Seen(route.method, url, orjson.loads(data) if data else None))
        if route.status == 204:
            return CallbackResult(status=204, body="")
        return CallbackResult(status=route.status, payload=route.response, headers=route.headers)

    m.add(re.compile(re.escape(BASE + route.path) + r"(\?.*)?$"), route.method, callback=callback)


@pytest.mark.parametrize("route", ROUTES, ids=[r.operation_id for r in ROUTES])
async def test_route_and_response(
    route: Route, mocked_client: AworkClient, mocked: aioresponses
) -> None:
    seen: list[Seen] = []
    _mock(mocked, route, seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = await route.call(mocked_client)
    assert len(seen) == 1, f"expected one {route.method} {route.path}, got {len(seen)}"
    (request,) = seen
    assert request.url.path == URL(BASE).path + route.path
    assert dict(request.url.query) == route.query
    if route.body_schema is None:
        assert request.body is None
    else:
        validate_body(route.body_schema, request.body)
        assert isinstance(request.body, dict)
        for key, value in (route.body_expected or {}).items():
            assert request.body[key] == value, key
    assert route.check(result), result


def _spec_operations() -> dict[tuple[str, str], str]:
    ops: dict[tuple[str, str], str] = {}
    for path, item in load_spec()["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                ops[(method.upper(), path)] = op["operationId"]
    return ops


def test_every_operation_is_covered() -> None:
    covered = {(r.method, r.template): r.operation_id for r in ROUTES}
    assert covered == _spec_operations()


def coverage_table() -> str:
    """The README's coverage table, generated from ``ROUTES``."""
    lines = [
        "| Method | Path | Operation | Client call |",
        "|---|---|---|---|",
    ]
    for r in sorted(ROUTES, key=lambda r: (r.template, r.method)):
        lines.append(f"| {r.method} | `{r.template}` | {r.operation_id} | `{r.python}` |")
    return "\n".join(lines) + "\n"


README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- coverage:start -->\n", "<!-- coverage:end -->"


def test_readme_coverage_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, "README.md lacks the coverage markers"
    current = text.split(START, 1)[1].split(END, 1)[0]
    assert current == coverage_table(), (
        "run: PYTHONPATH=tests python tests/client/test_routes.py --write-readme"
    )


if __name__ == "__main__" and "--write-readme" in sys.argv:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(head + START + coverage_table() + END + tail, encoding="utf-8")
    print("README.md coverage table updated")
