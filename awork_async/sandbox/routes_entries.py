"""Time-entry routes: CRUD, lists, simplified list, last entry, batch and legacy bulk calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from aiohttp import web

from ._entries import (
    Entry,
    break_total,
    copy_entry,
    entry_end,
    entry_start,
    new_entry,
    set_links,
    set_times,
    simplified,
    stamp,
)
from ._forms import FormReader, TimeFields, resolve_times
from ._http import (
    context,
    json_response,
    lookup,
    no_content,
    paginate,
    path_uuid,
    query_uuid,
    read_json,
)
from ._links import resolve_links
from .errors import SandboxError, invalid_operation, not_found, unauthorized
from .filtering import Row
from .store import Store, Write

__all__ = ["routes"]

routes = web.RouteTableDef()

BATCH_OPERATIONS: Final = {
    name.lower(): name
    for name in (
        "delete",
        "setTypeOfWork",
        "setIsBillable",
        "setIsBilled",
        "setProject",
        "setTask",
        "setUser",
    )
}


# ------------------------------------------------------------------------------------ lists


def _list(request: web.Request, rows: Sequence[Row], cache_key: str) -> web.Response:
    store, config, _ = context(request)
    result = store.query(
        rows,
        request.query.get("filterby"),
        request.query.get("orderby"),
        store.entry_names,
        cache_key=cache_key,
    )
    page, headers = paginate(request, result, config.default_page_size)
    return json_response(page, headers=headers)


@routes.get("/timeentries")
async def list_entries(request: web.Request) -> web.Response:
    """``GET /timeentries``: every entry, paginated, filtered, ordered."""
    store, _, _ = context(request)
    return _list(request, store.ordered_entries(), "all")


@routes.get("/timeentries/simplified")
async def list_simplified(request: web.Request) -> web.Response:
    """``GET /timeentries/simplified``: the light model; ``grouping`` is accepted and ignored."""
    store, config, _ = context(request)
    result = store.query(
        store.ordered_entries(),
        request.query.get("filterby"),
        request.query.get("orderby"),
        store.entry_names,
        cache_key="all",
    )
    page, headers = paginate(request, result, config.default_page_size)
    ws = store.ws
    return json_response(
        [simplified(e, ws.simple_tasks, ws.simple_projects) for e in page], headers=headers
    )


@routes.get("/projects/{projectId}/timeentries")
async def list_project_entries(request: web.Request) -> web.Response:
    """``GET /projects/{projectId}/timeentries``."""
    store, _, _ = context(request)
    project_id = path_uuid(request, "projectId")
    lookup(store.projects, "project", project_id)
    rows = [e for e in store.ordered_entries() if e["projectId"] == project_id]
    return _list(request, rows, f"project:{project_id}")


@routes.get("/tasks/{taskId}/timeentries")
async def list_task_entries(request: web.Request) -> web.Response:
    """``GET /tasks/{taskId}/timeentries``."""
    store, _, _ = context(request)
    task_id = path_uuid(request, "taskId")
    lookup(store.tasks, "task", task_id)
    rows = [e for e in store.ordered_entries() if e["taskId"] == task_id]
    return _list(request, rows, f"task:{task_id}")


def _last(request: web.Request, user_id: str) -> web.Response:
    store, _, _ = context(request)
    entry = store.last_entry(user_id)
    return no_content() if entry is None else json_response(entry)


@routes.get("/me/timeentries/last")
async def my_last_entry(request: web.Request) -> web.Response:
    """``GET /me/timeentries/last``: one object (newest spec), 204 when there is none."""
    store, _, _ = context(request)
    return _last(request, query_uuid(request, "userId") or store.me_id)


@routes.get("/users/{userId}/timeentries/last")
async def user_last_entry(request: web.Request) -> web.Response:
    """``GET /users/{userId}/timeentries/last`` (204 also for unknown users, as observed)."""
    return _last(request, path_uuid(request, "userId"))


# ------------------------------------------------------------------------------------- CRUD


def _check_write(store: Store, admin: bool, user_id: str | None) -> None:
    if not admin and user_id != store.me_id:
        raise unauthorized("You may only change your own time entries.")


@routes.get("/timeentries/{timeEntryId}")
async def get_entry(request: web.Request) -> web.Response:
    """``GET /timeentries/{id}``."""
    store, _, _ = context(request)
    return json_response(lookup(store.entries, "time entry", path_uuid(request, "timeEntryId")))


@routes.post("/timeentries")
async def create_entry(request: web.Request) -> web.Response:
    """``POST /timeentries``: a manual (finished) entry; ``userId`` is required."""
    store, config, _ = context(request)
    form = FormReader(await read_json(request))
    zone = form.timezone()
    type_id = form.uuid("typeOfWorkId", required=True)
    user_id = form.uuid("userId", required=True)
    project_id = form.uuid("projectId")
    task_id = form.uuid("taskId")
    note = form.string("note")
    is_billable = form.boolean("isBillable")
    is_billed = form.boolean("isBilled")
    times = resolve_times(form, zone) if zone else None
    form.raise_if_errors()
    assert zone is not None
    assert times is not None
    links = resolve_links(
        store, form, user_id=user_id, type_id=type_id, project_id=project_id, task_id=task_id
    )
    form.raise_if_errors()
    assert links is not None
    _check_write(store, config.admin, user_id)
    if is_billable is None:
        project = links.project
        is_billable = bool(project and project.get("isBillableByDefault"))
    entry = new_entry(
        store.new_id(), timezone=zone, is_billable=is_billable, is_billed=bool(is_billed), note=note
    )
    set_links(
        entry,
        user=links.user,
        type_of_work=links.type_of_work,
        project=links.project,
        task=links.task,
    )
    set_times(entry, times.start, times.end, times.duration, zone, date_only=times.date_only)
    stamp(entry, store.now(), store.me_id, created=True)
    store.apply([Write("entries", entry["id"], entry)])
    return json_response(entry)


def _existing_times(entry: Entry) -> TimeFields | None:
    start = entry_start(entry)
    if start is None:
        return None
    date_only = entry.get("startTimeUtc") is None
    return TimeFields(
        start, entry_end(entry) if not date_only else None, int(entry["duration"] or 0), date_only
    )


@routes.put("/timeentries/{timeEntryId}")
async def update_entry(request: web.Request) -> web.Response:
    """``PUT /timeentries/{id}``: present fields replace, absent ones are kept; breaks kept."""
    store, config, _ = context(request)
    entry = lookup(store.entries, "time entry", path_uuid(request, "timeEntryId"))
    form = FormReader(await read_json(request))
    zone = form.timezone()
    type_id = form.uuid("typeOfWorkId", required=True)
    user_id = form.uuid("userId") if form.has("userId") else entry["userId"]
    project_id = form.uuid("projectId") if form.has("projectId") else entry["projectId"]
    task_id = form.uuid("taskId") if form.has("taskId") else entry["taskId"]
    if form.has("projectId") and not form.has("taskId") and project_id != entry["projectId"]:
        task_id = None
    note = form.string("note") if form.has("note") else entry["note"]
    is_billable = form.boolean("isBillable")
    is_billed = form.boolean("isBilled")
    running = entry["endDateUtc"] is None and entry["startTimeUtc"] is not None
    breaks = break_total(entry)
    times = existing = _existing_times(entry)
    if zone:
        start_given = any(form.body.get(k) is not None for k in ("startDateUtc", "startDateLocal"))
        if start_given or not running:
            times = resolve_times(
                form, zone, break_duration=breaks, existing=existing, running=running
            )
    form.raise_if_errors()
    assert zone is not None
    assert times is not None
    links = resolve_links(
        store,
        form,
        user_id=user_id,
        type_id=type_id,
        project_id=project_id,
        task_id=task_id,
        allow_archived=type_id == entry["typeOfWorkId"],
    )
    form.raise_if_errors()
    assert links is not None
    _check_write(store, config.admin, entry["userId"])
    _check_write(store, config.admin, user_id)
    if entry["isBilled"] and not config.admin:
        raise unauthorized("Only admins may change billed time entries.")
    updated = copy_entry(entry)
    set_links(
        updated,
        user=links.user,
        type_of_work=links.type_of_work,
        project=links.project,
        task=links.task,
    )
    updated["timezone"] = zone
    updated["note"] = note
    if is_billable is not None:
        updated["isBillable"] = is_billable
    if is_billed is not None:
        updated["isBilled"] = is_billed
    if running:
        set_times(updated, times.start, None, 0, zone)
    else:
        set_times(updated, times.start, times.end, times.duration, zone, date_only=times.date_only)
    stamp(updated, store.now(), store.me_id)
    store.apply([Write("entries", updated["id"], updated)])
    return json_response(updated)


@routes.delete("/timeentries/{timeEntryId}")
async def delete_entry(request: web.Request) -> web.Response:
    """``DELETE /timeentries/{id}``: 204; billed entries need admin."""
    store, config, _ = context(request)
    entry = lookup(store.entries, "time entry", path_uuid(request, "timeEntryId"))
    _check_write(store, config.admin, entry["userId"])
    if entry["isBilled"] and not config.admin:
        raise unauthorized("Only admins may delete billed time entries.")
    store.apply([Write("entries", entry["id"], None)])
    return no_content()


@routes.post("/timeentries/{timeEntryId}/removebreaks")
async def remove_breaks(request: web.Request) -> web.Response:
    """``POST /timeentries/{id}/removebreaks``: drops every break (resumes a paused timer).

    For a finished entry the end stays, so the break time becomes working time.
    """
    store, config, _ = context(request)
    entry = lookup(store.entries, "time entry", path_uuid(request, "timeEntryId"))
    _check_write(store, config.admin, entry["userId"])
    start, end = entry_start(entry), entry_end(entry)
    updated = copy_entry(entry)
    updated["breaks"] = []
    updated["breakDuration"] = None
    if start is not None and end is not None and entry.get("startTimeUtc") is not None:
        updated["duration"] = int((end - start).total_seconds())
    stamp(updated, store.now(), store.me_id)
    store.apply([Write("entries", updated["id"], updated)])
    return json_response(updated)


# ------------------------------------------------------------------------------------ batch


def _batch_form(store: Store, operation: str, form: FormReader) -> dict[str, Any]:
    """Validate the operation's field; return the values to apply."""
    ws = store.ws
    if operation == "setTypeOfWork":
        type_id = form.uuid("newTypeOfWorkId", required=True)
        if type_id is not None:
            tow = ws.nested_types.get(type_id)
            if tow is None:
                form.fail("newTypeOfWorkId", f"No type of work with the id '{type_id}' exists.")
            elif tow["isArchived"]:
                raise SandboxError(400, "entity-archived", "The type of work is archived.")
            return {"type": tow}
    elif operation == "setIsBillable":
        return {"value": form.boolean("isBillable", required=True)}
    elif operation == "setIsBilled":
        return {"value": form.boolean("isBilled", required=True)}
    elif operation == "setProject":
        project_id = form.uuid("newProjectId", required=True)
        if project_id is not None and project_id not in ws.projects:
            form.fail("newProjectId", f"No project with the id '{project_id}' exists.")
        return {"project": ws.projects.get(project_id or "")}
    elif operation == "setTask":
        task_id = form.uuid("newTaskId", required=True)
        if task_id is not None and task_id not in ws.tasks:
            form.fail("newTaskId", f"No task with the id '{task_id}' exists.")
        return {"task": ws.tasks.get(task_id or "")}
    elif operation == "setUser":
        user_id = form.uuid("newUserId", required=True)
        if user_id is not None and user_id not in ws.nested_users:
            form.fail("newUserId", f"No user with the id '{user_id}' exists.")
        return {"user": ws.nested_users.get(user_id or "")}
    return {}


def _batch_verdict(
    store: Store, admin: bool, operation: str, entry: Entry, values: dict[str, Any]
) -> str:
    """``ok``, ``unauthorized`` or ``badRequest`` for one entry."""
    if not admin:
        if entry["userId"] != store.me_id:
            return "unauthorized"
        billed_guard = (
            operation in ("delete", "setProject", "setTask", "setUser")
            or (operation == "setIsBillable" and values["value"] is False)
            or (operation == "setIsBilled" and values["value"] is False)
        )
        if entry["isBilled"] and billed_guard:
            return "unauthorized"
    if operation == "setIsBilled" and values["value"] and not entry["isBillable"]:
        return "badRequest"
    return "ok"


def _batch_write(store: Store, operation: str, entry: Entry, values: dict[str, Any]) -> Write:
    """The new record (or the deletion) ``operation`` makes of ``entry``."""
    if operation == "delete":
        return Write("entries", entry["id"], None)
    updated = copy_entry(entry)
    if operation == "setTypeOfWork":
        updated["typeOfWorkId"], updated["typeOfWork"] = values["type"]["id"], values["type"]
    elif operation == "setIsBillable":
        updated["isBillable"] = values["value"]
        if not values["value"]:
            updated["isBilled"] = False
    elif operation == "setIsBilled":
        updated["isBilled"] = values["value"]
    elif operation == "setProject":
        project = values["project"]
        updated["projectId"], updated["project"] = project["id"], project
        updated["taskId"] = updated["task"] = None
    elif operation == "setTask":
        task = values["task"]
        updated["taskId"], updated["task"] = task["id"], task
        if task["project"] is not None:
            updated["projectId"], updated["project"] = task["projectId"], task["project"]
    elif operation == "setUser":
        user = values["user"]
        updated["userId"], updated["user"] = user["id"], user
    stamp(updated, store.now(), store.me_id)
    return Write("entries", updated["id"], updated)


@routes.post("/timeentries/batch/{operation}")
async def batch(request: web.Request) -> web.Response:
    """``POST /timeentries/batch/{operation}``: 207 ``MultiStatusResult``; unknown op -> 404."""
    store, config, _ = context(request)
    raw_op = request.match_info["operation"]
    operation = BATCH_OPERATIONS.get(raw_op.lower())
    if operation is None:
        raise SandboxError(404, "not-found", f"The batch operation '{raw_op}' is not supported.")
    form = FormReader(await read_json(request))
    ids = form.uuid_list("timeEntryIds", required=True)
    require_all = bool(form.boolean("requireAllTimeEntries"))
    values = _batch_form(store, operation, form)
    form.raise_if_errors()
    buckets: dict[str, list[str]] = {"ok": [], "notFound": [], "unauthorized": [], "badRequest": []}
    targets: list[Entry] = []
    for entry_id in dict.fromkeys(ids):
        entry = store.entries.get(entry_id)
        if entry is None:
            buckets["notFound"].append(entry_id)
            continue
        verdict = _batch_verdict(store, config.admin, operation, entry, values)
        buckets[verdict].append(entry_id)
        if verdict == "ok":
            targets.append(entry)
    failed = any(buckets[k] for k in ("notFound", "unauthorized", "badRequest"))
    if require_all and failed:
        buckets["ok"] = []
    else:
        store.apply([_batch_write(store, operation, entry, values) for entry in targets])
    return json_response({k: {"ids": v} for k, v in buckets.items()}, status=207)


# ----------------------------------------------------------------------------------- legacy


async def _legacy(
    request: web.Request, *, need_type: bool = False
) -> tuple[Store, bool, list[Entry], dict[str, Any] | None]:
    store, config, _ = context(request)
    form = FormReader(await read_json(request))
    ids = form.uuid_list("ids", required=True)
    tow = None
    if need_type:
        type_id = form.uuid("typeOfWorkId", required=True)
        if type_id is not None:
            tow = store.ws.nested_types.get(type_id)
            if tow is None:
                form.fail("typeOfWorkId", f"No type of work with the id '{type_id}' exists.")
    form.raise_if_errors()
    entries = []
    for entry_id in dict.fromkeys(ids):
        entry = store.entries.get(entry_id)
        if entry is None:
            raise not_found("time entry", entry_id)
        _check_write(store, config.admin, entry["userId"])
        entries.append(entry)
    return store, config.admin, entries, tow


def _finish(store: Store, entries: list[Entry], **fields: Any) -> web.Response:
    """Set ``fields`` on copies of ``entries``, stamp them and store them together; 204."""
    now = store.now()
    writes = []
    for entry in entries:
        updated = copy_entry(entry)
        updated.update(fields)
        stamp(updated, now, store.me_id)
        writes.append(Write("entries", updated["id"], updated))
    store.apply(writes)
    return no_content()


@routes.post("/timeentries/delete")
async def legacy_delete(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/delete`` (204, all or nothing)."""
    store, admin, entries, _ = await _legacy(request)
    if not admin and any(e["isBilled"] for e in entries):
        raise unauthorized("Only admins may delete billed time entries.")
    store.apply([Write("entries", entry["id"], None) for entry in entries])
    return no_content()


@routes.post("/timeentries/setbillable")
async def legacy_set_billable(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/setbillable``."""
    store, _, entries, _ = await _legacy(request)
    return _finish(store, entries, isBillable=True)


@routes.post("/timeentries/setunbillable")
async def legacy_set_unbillable(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/setunbillable``: billed entries -> 400."""
    store, _, entries, _ = await _legacy(request)
    if any(e["isBilled"] for e in entries):
        raise invalid_operation("Billed time entries cannot be set to unbillable.")
    return _finish(store, entries, isBillable=False)


@routes.post("/timeentries/setbilled")
async def legacy_set_billed(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/setbilled`` (already billed entries are skipped)."""
    store, _, entries, _ = await _legacy(request)
    return _finish(store, [e for e in entries if not e["isBilled"]], isBilled=True)


@routes.post("/timeentries/setunbilled")
async def legacy_set_unbilled(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/setunbilled``: billed entries need admin."""
    store, admin, entries, _ = await _legacy(request)
    if not admin and any(e["isBilled"] for e in entries):
        raise unauthorized("Only admins may set billed time entries to unbilled.")
    return _finish(store, entries, isBilled=False)


@routes.post("/timeentries/settypeofwork")
async def legacy_set_type(request: web.Request) -> web.Response:
    """Deprecated ``POST /timeentries/settypeofwork``."""
    store, _, entries, tow = await _legacy(request, need_type=True)
    assert tow is not None
    if tow["isArchived"]:
        raise SandboxError(400, "entity-archived", "The type of work is archived.")
    return _finish(store, entries, typeOfWorkId=tow["id"], typeOfWork=tow)
