"""Small HTTP helpers shared by the route modules: JSON bodies, ids, paging."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from aiohttp import web

from .. import _constants as C
from .config import SandboxConfig
from .errors import SandboxError, invalid_model, not_found, validation_failed
from .stats import SandboxStats
from .store import Store

__all__ = [
    "API_PREFIX",
    "CONFIG_KEY",
    "STATS_KEY",
    "STORE_KEY",
    "json_response",
    "no_content",
    "paginate",
    "path_uuid",
    "read_json",
]

API_PREFIX: Final = "/api/v1"
UUID_RE: Final = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")

STORE_KEY: Final = web.AppKey("awork_sandbox_store", Store)
CONFIG_KEY: Final = web.AppKey("awork_sandbox_config", SandboxConfig)
STATS_KEY: Final = web.AppKey("awork_sandbox_stats", SandboxStats)


def json_response(
    data: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def no_content() -> web.Response:
    """``204 No Content`` with an empty body."""
    return web.Response(status=204)


async def read_json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; 400 ``invalid-model`` when it is missing or not an object."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise invalid_model()
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_model("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid_model("The request body must be a JSON object.")
    return body


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a canonical (hyphenated) uuid string."""
    return isinstance(value, str) and UUID_RE.match(value) is not None


def path_uuid(request: web.Request, name: str) -> str:
    """A uuid path parameter, lower-cased; 400 ``validation-failed`` when malformed."""
    value = request.match_info[name]
    if not is_uuid(value):
        prop = name[:1].upper() + name[1:]
        raise validation_failed([(prop, f"'{value}' is not a valid guid.")])
    return value.lower()


def lookup(collection: Mapping[str, Any], entity: str, entity_id: str) -> Any:
    """``collection[entity_id]`` or 404 ``not-found``."""
    item = collection.get(entity_id)
    if item is None:
        raise not_found(entity, entity_id)
    return item


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        prop = name[:1].upper() + name[1:]
        raise validation_failed([(prop, f"The value '{raw}' is not valid for {name}.")]) from None


def paginate(
    request: web.Request, items: Sequence[Any], default_page_size: int
) -> tuple[Sequence[Any], dict[str, str]]:
    """Slice one page (1-based ``page``, ``pageSize`` 1..1000) and build the ``aw-*`` headers."""
    page = _int_param(request, "page", 1)
    page_size = _int_param(request, "pageSize", default_page_size)
    errors = []
    if page < 1:
        errors.append(("Page", "'page' must be greater than or equal to 1."))
    if not C.MIN_PAGE_SIZE <= page_size <= C.MAX_PAGE_SIZE:
        errors.append(
            ("PageSize", f"'pageSize' must be between {C.MIN_PAGE_SIZE} and {C.MAX_PAGE_SIZE}.")
        )
    if errors:
        raise validation_failed(errors)
    start = (page - 1) * page_size
    chunk = items[start : start + page_size]
    headers = {
        C.HEADER_PAGE: str(page),
        C.HEADER_PAGE_SIZE: str(page_size),
        C.HEADER_ITEMS: str(len(chunk)),
        C.HEADER_TOTAL_ITEMS: str(len(items)),
    }
    return chunk, headers


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    """A ``true``/``false`` query parameter; 400 when it is something else."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    prop = name[:1].upper() + name[1:]
    raise validation_failed([(prop, f"The value '{raw}' is not a valid boolean.")])


def query_uuid(request: web.Request, name: str) -> str | None:
    """An optional uuid query parameter, lower-cased."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not is_uuid(raw):
        prop = name[:1].upper() + name[1:]
        raise validation_failed([(prop, f"'{raw}' is not a valid guid.")])
    return raw.lower()


def context(request: web.Request) -> tuple[Store, SandboxConfig, SandboxStats]:
    """The store, configuration and stats of the app serving ``request``."""
    app = request.app
    return app[STORE_KEY], app[CONFIG_KEY], app[STATS_KEY]


__all__ += ["SandboxError", "bool_param", "context", "is_uuid", "lookup", "query_uuid"]
