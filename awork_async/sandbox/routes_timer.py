"""Timer routes: ``/me/timetracking/*`` and ``/users/{userId}/timetracking/*``."""

from __future__ import annotations

from aiohttp import web

from . import timer
from ._forms import FormReader
from ._http import context, json_response, no_content, path_uuid, query_uuid, read_json
from ._links import resolve_links
from .errors import SandboxError, invalid_operation, not_found, unauthorized

__all__ = ["routes"]

routes = web.RouteTableDef()


def _target(request: web.Request) -> str:
    store, _, _ = context(request)
    if "userId" in request.match_info:
        user_id = path_uuid(request, "userId")
    else:
        user_id = query_uuid(request, "userId") or store.me_id
    if user_id not in store.users:
        raise not_found("user", user_id)
    return user_id


def _owner_only(request: web.Request, user_id: str, action: str) -> None:
    store, _, _ = context(request)
    if user_id != store.me_id:
        raise invalid_operation(f"You can only {action} your own time trackings")


def _admin_or_owner(request: web.Request, user_id: str) -> None:
    store, config, _ = context(request)
    if not config.admin and user_id != store.me_id:
        raise unauthorized("Only admins may start or stop the timer of other users.")


async def _start(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    user_id = _target(request)
    _admin_or_owner(request, user_id)
    form = FormReader(await read_json(request))
    zone = form.timezone()
    type_id = form.uuid("typeOfWorkId", required=True)
    project_id = form.uuid("projectId")
    task_id = form.uuid("taskId")
    note = form.string("note")
    is_billable = form.boolean("isBillable")
    is_billed = form.boolean("isBilled")
    form.raise_if_errors()
    links = resolve_links(
        store,
        form,
        user_id=user_id,
        type_id=type_id,
        project_id=project_id,
        task_id=task_id,
    )
    form.raise_if_errors()
    if links is None or zone is None:  # pragma: no cover - raise_if_errors covers it
        raise SandboxError(400, "validation-failed", "The model validation failed.")
    if is_billable is None:
        is_billable = bool(links.project and links.project.get("isBillableByDefault"))
    entry = timer.start(
        store,
        user_id,
        links,
        timezone=zone,
        is_billable=is_billable,
        is_billed=bool(is_billed),
        note=note,
    )
    return json_response(entry)


async def _stop(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    user_id = _target(request)
    _admin_or_owner(request, user_id)
    entry = timer.stop(store, user_id)
    return no_content() if entry is None else json_response(entry)


async def _pause(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    user_id = _target(request)
    _owner_only(request, user_id, "pause")
    entry = timer.pause(store, user_id)
    return no_content() if entry is None else json_response(entry)


async def _resume(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    user_id = _target(request)
    _owner_only(request, user_id, "resume")
    entry = timer.resume(store, user_id)
    return no_content() if entry is None else json_response(entry)


for _prefix in ("/me/timetracking", "/users/{userId}/timetracking"):
    routes.post(f"{_prefix}/start")(_start)
    routes.post(f"{_prefix}/stop")(_stop)
    routes.post(f"{_prefix}/pause")(_pause)
    routes.post(f"{_prefix}/resume")(_resume)
