"""Types of work, time reports, time-tracking settings and ``/me``."""

from __future__ import annotations

from aiohttp import web

from ._entries import copy_entry, stamp
from ._forms import FormReader
from ._http import (
    bool_param,
    context,
    json_response,
    lookup,
    no_content,
    paginate,
    path_uuid,
    read_json,
)
from ._timeutil import iso_utc
from .errors import SandboxError, validation_failed
from .store import Write

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/typeofwork")
async def list_types(request: web.Request) -> web.Response:
    """``GET /typeofwork`` (archived ones only with ``showArchived=true``)."""
    store, config, _ = context(request)
    show_archived = bool_param(request, "showArchived")
    types = [t for t in store.types_of_work.values() if show_archived or not t["isArchived"]]
    rows = store.query(
        types, request.query.get("filterby"), request.query.get("orderby"), store.type_names
    )
    page, headers = paginate(request, rows, config.default_page_size)
    return json_response(page, headers=headers)


@routes.get("/typeofwork/icons")
async def icons(request: web.Request) -> web.Response:
    """``GET /typeofwork/icons``: icon keys."""
    store, _, _ = context(request)
    return json_response(store.ws.icons)


def _read_type_form(form: FormReader) -> tuple[str, str | None, str | None]:
    name = form.string("name", required=True, max_length=140)
    description = form.string("description", max_length=140)
    icon = form.string("icon")
    form.raise_if_errors()
    assert name is not None
    return name, description, icon


@routes.post("/typeofwork")
async def create_type(request: web.Request) -> web.Response:
    """``POST /typeofwork``."""
    store, _, _ = context(request)
    name, description, icon = _read_type_form(FormReader(await read_json(request)))
    if any(t["name"].lower() == name.lower() for t in store.types_of_work.values()):
        raise SandboxError(400, "duplication-violation", f"A type of work named '{name}' exists.")
    now = iso_utc(store.now())
    tid = store.new_id()
    full = {
        "id": tid,
        "name": name,
        "description": description,
        "icon": icon,
        "isArchived": False,
        "createdOn": now,
        "createdBy": store.me_id,
        "updatedOn": now,
        "updatedBy": store.me_id,
    }
    store.apply([Write("types_of_work", tid, full)])
    return json_response(full)


@routes.get("/typeofwork/{typeOfWorkId}")
async def get_type(request: web.Request) -> web.Response:
    """``GET /typeofwork/{id}``."""
    store, _, _ = context(request)
    return json_response(
        lookup(store.types_of_work, "type of work", path_uuid(request, "typeOfWorkId"))
    )


@routes.put("/typeofwork/{typeOfWorkId}")
async def update_type(request: web.Request) -> web.Response:
    """``PUT /typeofwork/{id}`` (entries show the new name at once: nested objects are shared)."""
    store, _, _ = context(request)
    current = lookup(store.types_of_work, "type of work", path_uuid(request, "typeOfWorkId"))
    name, description, icon = _read_type_form(FormReader(await read_json(request)))
    full = {**current, "name": name, "description": description, "icon": icon}
    full["updatedOn"], full["updatedBy"] = iso_utc(store.now()), store.me_id
    store.apply([Write("types_of_work", full["id"], full)])
    return json_response(full)


@routes.post("/typeofwork/{typeOfWorkId}/delete")
async def delete_type(request: web.Request) -> web.Response:
    """``POST /typeofwork/{id}/delete`` with the replacement ``typeOfWorkId`` for usages."""
    store, _, _ = context(request)
    type_id = path_uuid(request, "typeOfWorkId")
    lookup(store.types_of_work, "type of work", type_id)
    form = FormReader(await read_json(request, required=False))
    replacement_id = form.uuid("typeOfWorkId")
    form.raise_if_errors()
    in_use = [e for e in store.entries.values() if e["typeOfWorkId"] == type_id]
    replacement = None
    if replacement_id is not None:
        if replacement_id == type_id or replacement_id not in store.types_of_work:
            raise validation_failed([("TypeOfWorkId", "The replacement type of work is invalid.")])
        replacement = store.ws.nested_types[replacement_id]
    elif in_use:
        raise validation_failed(
            [("TypeOfWorkId", "The type of work is in use: a replacement must be given.")]
        )
    writes = []
    for entry in in_use:
        assert replacement is not None
        moved = copy_entry(entry)
        moved["typeOfWorkId"], moved["typeOfWork"] = replacement["id"], replacement
        writes.append(Write("entries", moved["id"], moved))
    writes.append(Write("types_of_work", type_id, None))
    store.apply(writes)
    return no_content()


@routes.post("/typeofwork/{typeOfWorkId}/setarchived")
async def archive_type(request: web.Request) -> web.Response:
    """``POST /typeofwork/{id}/setarchived`` with ``{isArchived}``."""
    store, _, _ = context(request)
    current = lookup(store.types_of_work, "type of work", path_uuid(request, "typeOfWorkId"))
    form = FormReader(await read_json(request))
    archived = form.boolean("isArchived", required=True)
    form.raise_if_errors()
    full = {**current, "isArchived": archived}
    full["updatedOn"], full["updatedBy"] = iso_utc(store.now()), store.me_id
    store.apply([Write("types_of_work", full["id"], full)])
    return json_response(full)


@routes.post("/tasks/changetypeofwork")
async def change_tasks_type(request: web.Request) -> web.Response:
    """``POST /tasks/changetypeofwork`` (``TasksChangeTypesForm``): the tasks get the type of work;
    with ``changeTimeEntries`` their time entries too. 204; unknown task ids -> 207 with a
    ``MultiStatusResult`` (the known ones are changed; the spec gives 207 no schema)."""
    store, _, _ = context(request)
    form = FormReader(await read_json(request))
    type_id = form.uuid("typeOfWorkId", required=True)
    task_ids = form.uuid_list("taskIds", required=True)
    change_entries = bool(form.boolean("changeTimeEntries"))
    tow = store.ws.nested_types.get(type_id) if type_id is not None else None
    if type_id is not None and tow is None:
        form.fail("typeOfWorkId", f"No type of work with the id '{type_id}' exists.")
    form.raise_if_errors()
    assert tow is not None
    if tow["isArchived"]:
        raise SandboxError(400, "entity-archived", f"The type of work '{tow['name']}' is archived.")
    wanted = list(dict.fromkeys(task_ids))
    known = [t for t in wanted if t in store.tasks]
    missing = [t for t in wanted if t not in store.tasks]
    writes = [Write("tasks", t, {**store.tasks[t], "typeOfWorkId": tow["id"]}) for t in known]
    if change_entries:
        now, chosen = store.now(), set(known)
        for entry in store.entries.values():
            if entry["taskId"] in chosen and entry["typeOfWorkId"] != tow["id"]:
                moved = copy_entry(entry)
                moved["typeOfWorkId"], moved["typeOfWork"] = tow["id"], tow
                stamp(moved, now, store.me_id)
                writes.append(Write("entries", moved["id"], moved))
    store.apply(writes)
    if not missing:
        return no_content()
    buckets = {"ok": known, "notFound": missing, "unauthorized": [], "badRequest": []}
    return json_response({k: {"ids": v} for k, v in buckets.items()}, status=207)


@routes.get("/projects/{projectId}/typeofwork")
async def project_types(request: web.Request) -> web.Response:
    """``GET /projects/{projectId}/typeofwork``."""
    store, _, _ = context(request)
    project_id = path_uuid(request, "projectId")
    lookup(store.projects, "project", project_id)
    ids = store.ws.project_types_of_work.get(project_id, [])
    return json_response([store.types_of_work[t] for t in ids if t in store.types_of_work])


@routes.get("/timereports")
async def time_reports(request: web.Request) -> web.Response:
    """``GET /timereports`` (not paginated)."""
    store, _, _ = context(request)
    return json_response(store.ws.time_reports)


@routes.get("/timetracking/settings")
async def settings(request: web.Request) -> web.Response:
    """``GET /timetracking/settings``."""
    store, _, _ = context(request)
    return json_response(store.ws.settings)


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    """``GET /me``: a minimal ``UserAndWorkspace``."""
    store, _, _ = context(request)
    user = store.users[store.me_id]
    body = {**user, "workspace": store.ws.workspace}
    return json_response(body)
