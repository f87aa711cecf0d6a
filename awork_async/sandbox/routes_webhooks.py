"""Webhook configuration routes: ``/webhooks``, ``/webhooks/{id}``, logs and event types.

Delivery itself lives in :mod:`awork_async.sandbox.webhooks`.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from ._forms import FormReader
from ._http import context, json_response, lookup, no_content, paginate, path_uuid, read_json
from ._timeutil import iso_utc
from .errors import unauthorized
from .filtering import collect_names
from .webhooks import EVENT_TYPES, SLACK_EVENT_TYPES, WebhookHub

__all__ = ["HUB_KEY", "routes"]

HUB_KEY: Final = web.AppKey("awork_sandbox_webhooks", WebhookHub)

routes = web.RouteTableDef()

_AUTH_TYPES: Final = ("none", "header")
#: Sample rows naming the filterable fields of the lists (``collect_names``).
_HOOK_SAMPLE: Final = {
    "id": "",
    "name": "",
    "uri": "",
    "events": "",
    "isActive": True,
    "receiverType": "",
    "createdOn": "",
    "updatedOn": "",
}
_LOG_SAMPLE: Final = {
    "webhookId": "",
    "responseCode": 0,
    "createdOn": "",
    "reason": "",
    "isSuccessful": True,
}


def _hub(request: web.Request) -> WebhookHub:
    _, config, _ = context(request)
    if not config.admin:
        raise unauthorized("Managing webhooks needs admin or workspace-manage-config rights.")
    return request.app[HUB_KEY]


def _read_form(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``WebhookConfigForm``; return its fields (400 with every problem otherwise)."""
    form = FormReader(body)
    name = form.string("name", required=True)
    uri = form.string("uri", required=True)
    events = form.string("events", required=True)
    is_active = form.boolean("isActive", required=True)
    auth_type = form.string("authenticationType", required=True)
    authentication = form.string("authentication")
    language = form.string("language")
    main_only = form.boolean("onlyTriggerForMainEntityChanges")
    if uri is not None and not uri.lower().startswith(("http://", "https://")):
        form.fail("uri", "'Uri' must be an absolute http(s) URI.")
    if events is not None:
        names = [e.strip() for e in events.split(",") if e.strip()]
        unknown = [e for e in names if e not in EVENT_TYPES]
        if not names:
            form.fail("events", "'Events' must name at least one event.")
        elif unknown:
            form.fail("events", f"Unknown event type(s): {', '.join(unknown)}.")
    if auth_type is not None and auth_type not in _AUTH_TYPES:
        form.fail("authenticationType", "'AuthenticationType' must be 'none' or 'header'.")
    if auth_type == "header":
        key, sep, value = (authentication or "").partition("=")
        if not (key.strip() and sep and value):
            form.fail("authentication", "'Authentication' must be 'headername=headervalue'.")
    form.raise_if_errors()
    return {
        "name": name,
        "uri": uri,
        "language": language,
        "events": events,
        "isActive": is_active,
        "onlyTriggerForMainEntityChanges": bool(main_only),
        "authenticationType": auth_type,
        "authentication": authentication if auth_type == "header" else None,
    }


def _list(request: web.Request, rows: list[dict[str, Any]], sample: dict[str, Any]) -> web.Response:
    store, config, _ = context(request)
    names = collect_names([sample])
    result = store.query(rows, request.query.get("filterby"), request.query.get("orderby"), names)
    page, headers = paginate(request, result, config.default_page_size)
    return json_response(page, headers=headers)


@routes.get("/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /webhooks`` (paginated)."""
    hub = _hub(request)
    return _list(request, list(hub.hooks.values()), _HOOK_SAMPLE)


@routes.post("/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    """``POST /webhooks``: any http(s) URI is stored; only loopback ones get deliveries unless
    the sandbox allows remote ones."""
    hub = _hub(request)
    store, _, _ = context(request)
    fields = _read_form(await read_json(request))
    now = iso_utc(store.now())
    hook = {
        **fields,
        "id": store.new_id(),
        "receiverType": "slack" if "hooks.slack.com" in fields["uri"] else "custom",
        "lastFailureReason": None,
        "createdOn": now,
        "createdBy": store.me_id,
        "updatedOn": now,
        "updatedBy": store.me_id,
    }
    hub.register(hook)
    return json_response(hook)


@routes.get("/webhooks/eventtypes")
async def event_types(request: web.Request) -> web.Response:
    """``GET /webhooks/eventtypes`` (any user)."""
    return json_response(list(EVENT_TYPES))


@routes.get("/webhooks/eventtypes/slack")
async def slack_event_types(request: web.Request) -> web.Response:
    """``GET /webhooks/eventtypes/slack``."""
    return json_response(list(SLACK_EVENT_TYPES))


@routes.get("/webhooks/{webhookId}")
async def get_webhook(request: web.Request) -> web.Response:
    """``GET /webhooks/{id}``."""
    hub = _hub(request)
    return json_response(lookup(hub.hooks, "webhook", path_uuid(request, "webhookId")))


@routes.put("/webhooks/{webhookId}")
async def update_webhook(request: web.Request) -> web.Response:
    """``PUT /webhooks/{id}``: replaces the configuration; ``isActive: true`` resumes a paused
    webhook (its failure count starts over)."""
    hub = _hub(request)
    store, _, _ = context(request)
    current = lookup(hub.hooks, "webhook", path_uuid(request, "webhookId"))
    fields = _read_form(await read_json(request))
    hook = {
        **current,
        **fields,
        "lastFailureReason": None if fields["isActive"] else current["lastFailureReason"],
        "updatedOn": iso_utc(store.now()),
        "updatedBy": store.me_id,
    }
    hub.register(hook)
    return json_response(hook)


@routes.delete("/webhooks/{webhookId}")
async def delete_webhook(request: web.Request) -> web.Response:
    """``DELETE /webhooks/{id}``: 204; waiting deliveries are dropped."""
    hub = _hub(request)
    hook_id = path_uuid(request, "webhookId")
    lookup(hub.hooks, "webhook", hook_id)
    hub.unregister(hook_id)
    return no_content()


@routes.get("/webhooks/{webhookId}/logs")
async def webhook_logs(request: web.Request) -> web.Response:
    """``GET /webhooks/{id}/logs`` (paginated, oldest first)."""
    hub = _hub(request)
    hook_id = path_uuid(request, "webhookId")
    lookup(hub.hooks, "webhook", hook_id)
    return _list(request, list(hub.logs.get(hook_id, ())), _LOG_SAMPLE)
