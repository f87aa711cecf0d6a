"""One pure call that understands an answer: :func:`decipher_response` (gidgethub's model).

``decipher_response(status, headers, body)`` turns what the server sent into a
:class:`Deciphered` record, once: the decoded JSON data (for a 2xx), the rate-limit state, the
pagination headers, the trace id, and the typed error when the answer is not a success. Everything
after the socket reads that record (the limiter's ``observe``, the retry decision through the
error's ``retry_after``, the raw response wrappers, the page engine) instead of parsing headers
again. No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import attrs
import msgspec
import orjson

from ._exceptions import APIResponseValidationError, AworkError, make_status_error
from ._ratelimit_headers import RateLimitInfo
from ._redact import scrub
from ._sansio import PageInfo, decode_json, trace_id_of

__all__ = ["Deciphered", "Expect", "decipher_response"]

#: The JSON shape a call promises: an object, an array (a list page), or anything (``None``).
#: ``"raw-array"`` is an array whose items are not decoded: ``data`` is a ``list[bytes]``, each
#: item's JSON exactly as the body holds it (split by msgspec, ~8x cheaper than decoding the
#: objects; the consistent walks decode only what they need).
Expect = Literal["object", "array", "raw-array"] | None

#: Splits a JSON array into its items' JSON (validates the whole body's syntax).
_SPLIT = msgspec.json.Decoder(list[msgspec.Raw])


@attrs.frozen
class Deciphered:
    """What one answer says, read once.

    Attributes:
        status, headers: as received.
        data: the decoded JSON of a 2xx answer (``None`` for a 204 or an empty body, and for an
            error answer, whose body is in ``error``).
        error: the typed exception of an answer that is not a usable success (an error status,
            a redirect, a 2xx body that is not the promised JSON), else ``None``.
        rate_limit: the ``RateLimit-*``/``Retry-After`` state the answer reported.
        page_info: the ``aw-*`` pagination headers.
        trace_id: the ``trace-id``/``traceparent`` header.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    data: object = attrs.field(repr=False)
    error: AworkError | None
    rate_limit: RateLimitInfo
    page_info: PageInfo
    trace_id: str | None

    @property
    def ok(self) -> bool:
        """Whether the answer is a usable success (``error is None``)."""
        return self.error is None


def decipher_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str = "",
    url: str = "",
    expect: Expect = None,
    secrets: Sequence[str] = (),
    now: datetime | None = None,
) -> Deciphered:
    """Understand one answer (pure). Never raises for anything the server sent.

    ``method`` and ``url`` name the request in error messages (never the token). ``expect`` is
    the JSON shape a 2xx must have: another shape (or, other than a 204, an empty body) is an
    :class:`APIResponseValidationError` like a body that is not JSON. ``secrets`` (the token, a
    webhook's header value) are scrubbed from everything an error takes from the answer. ``now``
    is the reference time of an HTTP-date ``Retry-After``. A 429's ``retry_after`` is the
    server's wait (``Retry-After``, else ``RateLimit-Reset``).
    """
    rate_limit = RateLimitInfo.from_headers(headers, now=now)
    page_info = PageInfo.from_headers(headers)
    trace_id = trace_id_of(headers)
    if trace_id is not None and secrets:
        # It reaches hook events and logs: a server that echoes the token must not leak it.
        trace_id = scrub(trace_id, secrets)
    data: object = None
    error: AworkError | None = None
    if 200 <= status < 300:
        data, error = _decode(status, body, expect, method, url)
    else:
        error = make_status_error(
            status,
            headers,
            body,
            method=method,
            url=url,
            retry_after=rate_limit.suggested_wait() if status == 429 else None,
            secrets=secrets,
            header_trace_id=trace_id,
        )
    return Deciphered(
        status=status,
        headers=headers,
        data=data,
        error=error,
        rate_limit=rate_limit,
        page_info=page_info,
        trace_id=trace_id,
    )


def _decode(
    status: int, body: bytes, expect: Expect, method: str, url: str
) -> tuple[object, APIResponseValidationError | None]:
    """The JSON of a 2xx answer, or the :class:`APIResponseValidationError` (retryable)."""

    def invalid(problem: str) -> tuple[None, APIResponseValidationError]:
        return None, APIResponseValidationError(
            f"{method} {url}: the {status} answer {problem}",
            status=status,
            method=method,
            url=url,
        )

    if expect == "raw-array" and status != 204:
        items = _split(body)
        if items is not None:
            return items, None
        # Not a well-formed array of UTF-8 JSON: the checks below say what it is.
    try:
        data = decode_json(status, body)
    except ValueError:
        return invalid("is not valid JSON (truncated, or not JSON at all)")
    if expect == "raw-array" and isinstance(data, list):
        # Only when msgspec refused what orjson reads (never seen): one item's JSON each.
        return [orjson.dumps(item) for item in data], None
    if expect is None or (data is None and status == 204):
        return data, None
    wanted = dict if expect == "object" else list
    if not isinstance(data, wanted):
        got = "an empty body" if data is None else f"a JSON {type(data).__name__}"
        shape = "object" if expect == "object" else "array"
        return invalid(f"is {got}, not the JSON {shape} the API promises")
    return data, None


def _split(body: bytes) -> list[bytes] | None:
    """The items of a JSON array body, each as its own JSON bytes; ``None`` when the body is
    not a well-formed JSON array in UTF-8 (msgspec skips the items' strings without checking
    their encoding, so that is checked here, once for the body)."""
    try:
        items = [bytes(item) for item in _SPLIT.decode(body)]
        for item in items:
            if not item.isascii():  # most entries are: only the others need decoding
                item.decode("utf-8")
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    return items
