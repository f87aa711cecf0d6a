"""Time-booking routes: ``/projecttimebookings``, ``/timebookings`` and ``/users/...`` lookups.

The two families share one collection: the sources document no difference (notes §6.5, Q9).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._forms import FormReader
from ._http import (
    context,
    is_uuid,
    json_response,
    lookup,
    no_content,
    paginate,
    path_uuid,
    read_json,
)
from ._timeutil import iso_utc, parse_date
from .errors import validation_failed
from .store import Write

__all__ = ["routes"]

routes = web.RouteTableDef()


def _apply_form(
    request: web.Request, form: FormReader, booking: dict[str, Any] | None
) -> dict[str, Any]:
    store, _, _ = context(request)
    creating = booking is None
    user_id = form.uuid("userId", required=creating)
    project_id = form.uuid("projectId")
    start = form.date("startDate", required=creating)
    end = form.date("endDate", required=creating)
    duration = form.integer("duration", required=creating)
    description = form.string("description")
    lane = form.integer("laneOrder")
    if user_id is not None and user_id not in store.users:
        form.fail("userId", f"No user with the id '{user_id}' exists.")
    if project_id is not None and project_id not in store.projects:
        form.fail("projectId", f"No project with the id '{project_id}' exists.")
    form.raise_if_errors()
    target: dict[str, Any] = (
        dict(booking)
        if booking is not None
        else {
            "id": store.new_id(),
            "createdOn": None,
            "createdBy": store.me_id,
            "updatedOn": None,
            "updatedBy": store.me_id,
            "userId": None,
            "projectId": None,
            "startDate": None,
            "endDate": None,
            "duration": 0,
            "description": None,
            "laneOrder": 0,
            "isAnonymized": False,
        }
    )
    if user_id is not None:
        target["userId"] = user_id
    if form.has("projectId"):
        target["projectId"] = project_id
    if start is not None:
        target["startDate"] = start.isoformat()
    if end is not None:
        target["endDate"] = end.isoformat()
    if target["startDate"] and target["endDate"] and target["endDate"] < target["startDate"]:
        raise validation_failed([("EndDate", "'EndDate' must not be before 'StartDate'.")])
    if duration is not None:
        target["duration"] = duration
    if form.has("description"):
        target["description"] = description
    if lane is not None:
        target["laneOrder"] = lane
    now = iso_utc(store.now())
    if creating:
        target["createdOn"] = now
    target["updatedOn"] = now
    target["updatedBy"] = store.me_id
    store.apply([Write("time_bookings", target["id"], target)])
    return target


async def _list(request: web.Request) -> web.Response:
    store, config, _ = context(request)
    rows = store.query(
        list(store.time_bookings.values()),
        request.query.get("filterby"),
        request.query.get("orderby"),
        store.booking_names,
        cache_key="bookings",
    )
    page, headers = paginate(request, rows, config.default_page_size)
    return json_response(page, headers=headers)


async def _create(request: web.Request) -> web.Response:
    form = FormReader(await read_json(request))
    return json_response(_apply_form(request, form, None))


async def _update(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    booking = lookup(store.time_bookings, "time booking", path_uuid(request, "timeBookingId"))
    form = FormReader(await read_json(request))
    return json_response(_apply_form(request, form, booking))


async def _delete(request: web.Request) -> web.Response:
    store, _, _ = context(request)
    booking_id = path_uuid(request, "timeBookingId")
    lookup(store.time_bookings, "time booking", booking_id)
    store.apply([Write("time_bookings", booking_id, None)])
    return no_content()


async def _for_users(request: web.Request) -> web.Response:
    """``userIds`` (comma-separated), ``intervalStart``/``intervalEnd`` (inclusive, overlapping)."""
    store, _, _ = context(request)
    errors: list[tuple[str, str]] = []
    raw_ids = request.query.get("userIds", "")
    user_ids = [part.strip().lower() for part in raw_ids.split(",") if part.strip()]
    if not user_ids:
        errors.append(("UserIds", "'UserIds' must not be empty."))
    elif not all(is_uuid(u) for u in user_ids):
        errors.append(("UserIds", "'UserIds' must be a comma-separated list of guids."))
    bounds = []
    for name in ("intervalStart", "intervalEnd"):
        raw = request.query.get(name, "")
        day = parse_date(raw[:10]) if raw else None
        if day is None:
            errors.append(
                (name[:1].upper() + name[1:], f"'{raw}' is not a valid date (YYYY-MM-DD).")
            )
        bounds.append(day)
    if not errors and bounds[0] is not None and bounds[1] is not None and bounds[1] < bounds[0]:
        errors.append(("IntervalEnd", "'IntervalEnd' must not be before 'IntervalStart'."))
    if errors:
        raise validation_failed(errors)
    first, last = bounds[0].isoformat(), bounds[1].isoformat()  # type: ignore[union-attr]
    by_user: dict[str, list[dict[str, Any]]] = {u: [] for u in dict.fromkeys(user_ids)}
    for booking in sorted(store.time_bookings.values(), key=lambda b: (b["startDate"], b["id"])):
        bucket = by_user.get(booking["userId"])
        if bucket is not None and booking["startDate"] <= last and booking["endDate"] >= first:
            bucket.append(booking)
    return json_response([{"userId": u, "timeBookings": b} for u, b in by_user.items()])


for _base in ("/projecttimebookings", "/timebookings"):
    routes.get(_base)(_list)
    routes.post(_base)(_create)
    routes.put(_base + "/{timeBookingId}")(_update)
    routes.delete(_base + "/{timeBookingId}")(_delete)
routes.get("/users/timebookings")(_for_users)
routes.get("/users/projecttimebookings")(_for_users)
