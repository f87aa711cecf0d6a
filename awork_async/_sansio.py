"""Pure request/response logic, kept apart from I/O so it is tested without a network.

Building URLs and query strings, validating the base URL, reading the pagination headers and
decoding bodies. The aiohttp transport (``_transport.py``) is a thin adapter around these.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Final

import attrs
import orjson
import yarl

from . import _constants as C
from ._redact import safe_url

__all__ = [
    "PageInfo",
    "QueryValue",
    "build_query",
    "check_transport_url",
    "checked_total_items",
    "decode_json",
    "header",
    "join_url",
    "trace_id_of",
    "validate_base_url",
]

QueryValue = str | int | float | bool | None

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def validate_base_url(base_url: str) -> yarl.URL:
    """Return the base URL without a trailing slash, or raise ``ValueError``.

    The rules are :func:`check_transport_url`'s (``https://`` only, except loopback hosts).
    """
    url = check_transport_url(base_url, what="base_url")
    return url.with_path(url.path.rstrip("/"))


def check_transport_url(text: str, *, what: str) -> yarl.URL:
    """The one transport policy for every URL a secret is sent to, or ``ValueError``.

    ``base_url`` (the bearer token) and an OAuth ``token_url`` (the refresh token and client
    secret) both follow it: only ``https://`` is accepted, except plain ``http://`` to loopback
    hosts (a local sandbox), so a secret never travels in clear text over a network; no
    credentials, query or fragment in the URL (the URL is shown in reprs and messages).

    The error names ``what`` and shows the URL without its user info, password and query
    (:func:`~awork_async._redact.safe_url`), so it can be printed.
    """
    problem = _transport_url_problem(text)
    if problem is not None:
        raise ValueError(f"{what} {problem}, got {safe_url(text)!r}")
    return yarl.URL(text)


def _transport_url_problem(text: object) -> str | None:
    if not isinstance(text, str):
        return "must be a str"
    try:
        url = yarl.URL(text)
    except ValueError:
        return "is not a valid URL"
    if not url.is_absolute() or not url.host:
        return "must be an absolute URL"
    if url.user is not None or url.password is not None:
        return "must not contain credentials"
    if url.scheme == "http" and not _is_loopback(url.host):
        return (
            "must use https:// (plain http:// is only accepted for loopback hosts "
            "such as 127.0.0.1 or localhost)"
        )
    if url.scheme not in ("http", "https"):
        return "must use https://"
    if url.query_string or url.fragment:
        return "must not contain a query or fragment"
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() in C.LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def join_url(base: yarl.URL, path: str) -> yarl.URL:
    """``https://api.awork.com/api/v1`` + ``/timeentries/1`` (path segments are pre-encoded)."""
    if not path.startswith("/"):
        path = "/" + path
    # ``http://host`` has the path "/": strip it, or the request would go to ``//path``.
    return base.with_path(base.path.rstrip("/") + path, encoded=True)


def build_query(params: Mapping[str, QueryValue] | None) -> dict[str, str]:
    """Drop ``None`` values and render the rest as the API expects (booleans lowercase)."""
    if not params:
        return {}
    query: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[key] = "true" if value else "false"
        else:
            query[key] = str(value)
    return query


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup for multidicts and plain dicts alike."""
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def trace_id_of(headers: Mapping[str, str]) -> str | None:
    """awork's trace id header (``trace-id``, else ``traceparent``): the one place it is read."""
    return header(headers, "trace-id") or header(headers, "traceparent")


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = header(headers, name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


@attrs.frozen
class PageInfo:
    """The ``aw-*`` pagination headers of one list response (each ``None`` when absent)."""

    page: int | None = None
    page_size: int | None = None
    items: int | None = None
    total_items: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> PageInfo:
        return cls(
            page=_int_header(headers, C.HEADER_PAGE),
            page_size=_int_header(headers, C.HEADER_PAGE_SIZE),
            items=_int_header(headers, C.HEADER_ITEMS),
            total_items=_int_header(headers, C.HEADER_TOTAL_ITEMS),
        )


def checked_total_items(
    headers: Mapping[str, str], *, page: int, page_size: int, received: int
) -> int | None:
    """``aw-totalitems`` of one list answer, checked against the page it came with.

    ``None`` when the header is absent. Raises ``ValueError`` when the total is impossible, so
    that a walk fails loudly instead of ending early (the paginator's and the export's stop rules
    trust this total):

    * not a non-negative integer (``-1``, ``1.5``, ``lots``, empty);
    * fewer items than this very page proves exist: a non-empty page ``page`` (1-based, of
      ``page_size``) holds items ``(page - 1) * page_size + 1`` .. ``+ received``, so a total of
      ``0`` while items arrive, or one smaller than the items received up to here, is a protocol
      error, not the end of the list.
    """
    raw = header(headers, C.HEADER_TOTAL_ITEMS)
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{C.HEADER_TOTAL_ITEMS}: {raw[:40]!r} is not a non-negative integer")
    total = int(text)
    if received > 0:
        at_least = (page - 1) * page_size + received
        if total < at_least:
            raise ValueError(
                f"{C.HEADER_TOTAL_ITEMS}: {total} is impossible, page {page} (of {page_size}) "
                f"holds {received} items, so there are at least {at_least}"
            )
    return total


def decode_json(status: int, body: bytes) -> object:
    """Decode a successful body: 204 and empty bodies become ``None``.

    The older spec declares 204 answers *with* a ``TimeTracking`` body; the newest and HTTP say
    a 204 has none (API notes §10 D10): any 204 is ``None``, whatever it carries.

    Raises ``orjson.JSONDecodeError`` (a ``ValueError``) for a body that is not JSON.
    """
    if status == 204 or not body or not body.strip():
        return None
    return orjson.loads(body)
