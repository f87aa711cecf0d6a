"""Every exception the library raises, in one module.

Hierarchy::

    AworkError
    ├── ClientClosedError                 the client was used after ``aclose()``
    ├── RateLimiterUnavailableError       the shared (Redis) rate limiter cannot be reached
    ├── APIConnectionError                no HTTP answer (DNS, refused, reset, TLS)
    │   ├── APITimeoutError               connect or read timeout, or the call's deadline
    │   └── OutcomeUnknownError           a non-idempotent request may have reached the server
    ├── APIResponseValidationError        a 2xx answer that is not what the API promised (not
    │                                     JSON, wrong shape, a field of the wrong type, an
    │                                     impossible ``aw-totalitems``)
    ├── ResponseTooLargeError             the answer's body exceeded ``max_response_bytes``
    └── APIStatusError                    the server answered with an error status
        ├── UnexpectedRedirectError       3xx: never followed (the token stays here)
        ├── BadRequestError               400
        │   ├── ValidationFailedError     code ``validation-failed`` / ``invalid-model``
        │   └── InvalidFilterError        code ``invalid-filter-or-order``
        ├── AuthenticationError           401 for a missing/invalid/expired token
        ├── PermissionDeniedError         403, or 401/400 with code ``unauthorized``
        ├── NotFoundError                 404, or code ``not-found``
        ├── ConflictError                 409, or code ``concurrency-violation``
        ├── RateLimitError                429 (``retry_after`` seconds, when known)
        └── ServerError                   5xx

awork documents 401 for *missing permissions* and uses 400 for some permission problems
(API notes §1.4, §10 D15), so the class is chosen by the awork error ``code`` first and by the
HTTP status only when the code says nothing more specific.

No exception ever carries the access token: only the method, the URL (which never contains
it) and what the server answered, with every secret of the request scrubbed
(:func:`make_status_error`'s ``secrets``). Messages show at most the first 200 characters of a
URL (``…(N chars)`` marks the cut); the ``url`` attribute keeps it whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import yarl

from ._redact import safe_url, scrub, scrub_json, shorten
from ._sansio import header, trace_id_of

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "AworkError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InvalidFilterError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ResponseTooLargeError",
    "ServerError",
    "UnexpectedRedirectError",
    "ValidationError",
    "ValidationFailedError",
    "make_status_error",
]


class AworkError(Exception):
    """Base class of every error raised by awork-async."""


def _fit_url(message: str, url: str) -> str:
    """``message`` with ``url`` in it cut to :func:`~awork_async._redact.shorten`'s length."""
    short = shorten(url)
    return message.replace(url, short) if url and short != url else message


class ClientClosedError(AworkError, RuntimeError):
    """The client (or its session) was used after it was closed."""


class RateLimiterUnavailableError(AworkError):
    """The shared rate limiter's store (Redis) could not be reached, so no request was sent.

    Sending anyway could overrun the workspace's budget for every other worker; fix the
    connection to Redis (or fall back to a :class:`LocalRateLimiter` deliberately).
    """


class APIConnectionError(AworkError):
    """The request got no HTTP answer: DNS failure, refused or reset connection, TLS error."""

    def __init__(
        self, message: str, *, method: str = "", url: str = "", request_sent: bool = True
    ) -> None:
        message = _fit_url(message, url)
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        #: False when the request provably never reached the server (DNS failure, connection
        #: refused, connect timeout): then even a POST is safe to send again.
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """A connect or read timeout, or the call's overall deadline, expired."""


class OutcomeUnknownError(APIConnectionError):
    """A non-idempotent request (a POST) was sent, but its answer was lost.

    The server may or may not have carried it out (created the entry, started the timer), so the
    client does not retry it. Check the server state before you send it again.
    """


class APIResponseValidationError(AworkError):
    """A successful answer that is not what the API promised.

    Its body is not JSON (a truncated document, a proxy's HTML page), has the wrong shape, or
    contradicts the schema's types (``path`` names the field, e.g. ``"$[3].user"``); or a list's
    ``aw-totalitems`` is impossible. For idempotent requests a body that is not the promised JSON
    is retried like a 5xx first (the retry policy bounds it); a POST is not, as the write
    happened.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        path: str | None = None,
    ) -> None:
        message = _fit_url(message, url)
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        #: The failing field as a JSON path (``"$.user"``, ``"$[2].breaks[0].id"``), when known.
        self.path = path


class ResponseTooLargeError(AworkError):
    """The answer's decoded (decompressed) body grew beyond the client's ``max_response_bytes``.

    Reading stopped as soon as the cap was crossed, so a gzip bomb or an endless chunked body
    never fills the memory. Not retried: the same request would get the same answer (and a POST
    was carried out).
    """

    def __init__(
        self, message: str, *, status: int, limit: int, method: str = "", url: str = ""
    ) -> None:
        message = _fit_url(message, url)
        super().__init__(message)
        self.message = message
        self.status = status
        #: The cap in bytes that was crossed.
        self.limit = limit
        self.method = method
        self.url = url


class ValidationError:
    """One entry of an awork error's ``validationErrors``: the property and the reason."""

    __slots__ = ("message", "property")

    def __init__(self, property: str | None, message: str | None) -> None:
        self.property = property
        self.message = message

    def __repr__(self) -> str:
        return f"ValidationError(property={self.property!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidationError):
            return NotImplemented
        return (self.property, self.message) == (other.property, other.message)

    def __hash__(self) -> int:
        return hash((self.property, self.message))


class APIStatusError(AworkError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: awork's machine-readable error code (``"not-found"``), when the body had one.
        description: awork's human-readable description, or a summary of a non-awork body.
        details: extra hints from the body's ``details``.
        validation_errors: per-property failures from ``validationErrors``.
        trace_id: the body's ``traceId``, else the ``trace-id``/``traceparent`` header: quote it
            to awork support.
        method, url: the request (never the token).
        headers: the response headers.
        body: the decoded JSON body, or the raw text when it was not JSON.
    """

    def __init__(
        self,
        *,
        status: int,
        code: str | None = None,
        description: str | None = None,
        details: Sequence[str] = (),
        validation_errors: Sequence[ValidationError] = (),
        trace_id: str | None = None,
        method: str = "",
        url: str = "",
        headers: Mapping[str, str] | None = None,
        body: object = None,
    ) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.details = tuple(details)
        self.validation_errors = tuple(validation_errors)
        self.trace_id = trace_id
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = dict(headers or {})
        self.body = body
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.method} {shorten(self.url)} -> {self.status}".strip()]
        if self.code:
            parts.append(f"[{self.code}]")
        if self.description:
            parts.append(self.description)
        msg = " ".join(parts)
        extras = list(self.details)
        extras += [
            f"{v.property}: {v.message}" if v.property else str(v.message)
            for v in self.validation_errors
        ]
        if extras:
            msg += " (" + "; ".join(extras) + ")"
        if self.trace_id:
            msg += f" trace_id={self.trace_id}"
        return msg


class UnexpectedRedirectError(APIStatusError):
    """3xx: the server answered with a redirect, which the client never follows.

    awork's API does not redirect; a redirect comes from a proxy, a login page or a wrong base
    URL, and following it would send the bearer token to another place. ``location`` is the
    redirect target without credentials, query or fragment (``None`` if the answer named none).
    """

    def __init__(self, *, location: str | None = None, **kwargs: Any) -> None:
        self.location = location
        super().__init__(**kwargs)

    def _message(self) -> str:
        msg = super()._message()
        target = self.location if self.location is not None else "no Location"
        return f"{msg} (redirect to {target}, not followed)"


class BadRequestError(APIStatusError):
    """400: the request was invalid or the operation is not allowed."""


class ValidationFailedError(BadRequestError):
    """400 with ``validation-failed``/``invalid-model``: see ``validation_errors``."""


class InvalidFilterError(BadRequestError):
    """400 with ``invalid-filter-or-order``: the ``filterby`` or ``orderby`` was rejected."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, invalid or expired."""


class PermissionDeniedError(APIStatusError):
    """The caller lacks a permission (403, or 401/400 with code ``unauthorized``)."""


class NotFoundError(APIStatusError):
    """404, or code ``not-found``: the resource (or the route) does not exist."""


class ConflictError(APIStatusError):
    """409, or code ``concurrency-violation``: re-read the entity and try again."""


class RateLimitError(APIStatusError):
    """429: the workspace's rate limit was exceeded.

    ``retry_after`` holds the seconds to wait before the next request, when the server said so
    (``Retry-After`` or ``RateLimit-Reset``) or the retry policy computed it.
    """

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)

    def __str__(self) -> str:
        # Computed, so the wait the retry policy records shows without rewriting ``args``.
        return self._message()

    def _message(self) -> str:
        msg = super()._message()
        if self.retry_after is not None:
            msg += f" (retry after {self.retry_after:g}s)"
        return msg


class ServerError(APIStatusError):
    """5xx: the server failed. Retried by the default policy for idempotent requests."""


_BY_CODE: dict[str, type[APIStatusError]] = {
    "validation-failed": ValidationFailedError,
    "invalid-model": ValidationFailedError,
    "invalid-filter-or-order": InvalidFilterError,
    "unauthorized": PermissionDeniedError,
    "not-found": NotFoundError,
    "concurrency-violation": ConflictError,
    # ``teamid-missing`` is the older name of ``workspaceid-missing`` (notes §10 D16).
    "workspaceid-missing": AuthenticationError,
    "teamid-missing": AuthenticationError,
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _status_class(status: int, code: str | None) -> type[APIStatusError]:
    if 300 <= status < 400:
        return UnexpectedRedirectError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if code:
        by_code = _BY_CODE.get(code)
        if by_code is not None:
            return by_code
    return _BY_STATUS.get(status, APIStatusError)


def make_status_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str = "",
    url: str = "",
    retry_after: float | None = None,
    secrets: Iterable[str] = (),
    header_trace_id: str | None = None,
) -> APIStatusError:
    """Build the typed exception for an error answer (pure: no I/O).

    Any body is accepted: awork's ``ErrorResponse`` JSON, JSON of another shape, HTML from a
    proxy, plain text or nothing at all. Every one of ``secrets`` (the request's bearer token,
    …) is replaced by ``***`` in everything taken from the answer (body, headers, message), so
    a server that echoes the ``Authorization`` header leaks nothing into ``str``, ``repr``,
    tracebacks or hook events. ``header_trace_id`` is the trace id header when the caller has
    read it already (:func:`~awork_async._decipher.decipher_response`).
    """
    secrets = tuple(secrets)
    if header_trace_id is None:
        header_trace_id = trace_id_of(headers)
    decoded: object = None
    code: str | None = None
    description: str | None = None
    details: list[str] = []
    validation: list[ValidationError] = []
    trace_id: str | None = None
    if body:
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            decoded = body.decode("utf-8", errors="replace")
    if secrets:
        decoded = scrub_json(decoded, secrets)
        headers = {name: scrub(value, secrets) for name, value in dict(headers).items()}
        if header_trace_id is not None:
            header_trace_id = scrub(header_trace_id, secrets)
    if isinstance(decoded, dict):
        code = _str_or_none(decoded.get("code"))
        description = _str_or_none(decoded.get("description") or decoded.get("message"))
        raw_details = decoded.get("details")
        if isinstance(raw_details, list):
            details = [str(d) for d in raw_details if d is not None]
        raw_validation = decoded.get("validationErrors")
        if isinstance(raw_validation, list):
            validation = [
                ValidationError(_str_or_none(v.get("property")), _str_or_none(v.get("message")))
                for v in raw_validation
                if isinstance(v, dict)
            ]
        trace_id = _str_or_none(decoded.get("traceId"))
    elif isinstance(decoded, str) and decoded.strip():
        text = " ".join(decoded.split())
        description = text if len(text) <= 200 else text[:197] + "..."
    elif decoded is not None:
        description = f"unexpected error body: {str(decoded)[:200]}"
    if description is None:
        description = "empty response body"
    if trace_id is None:
        trace_id = header_trace_id
    cls = _status_class(status, code)
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "description": description,
        "details": details,
        "validation_errors": validation,
        "trace_id": trace_id,
        "method": method,
        "url": url,
        "headers": headers,
        "body": decoded,
    }
    if cls is RateLimitError:
        return RateLimitError(retry_after=retry_after, **kwargs)
    if cls is UnexpectedRedirectError:
        location = redirect_target(header(headers, "location"), url)
        return UnexpectedRedirectError(location=location, **kwargs)
    return cls(**kwargs)


def redirect_target(location: str | None, request_url: str = "") -> str | None:
    """The redirect target as it may be shown: absolute, without userinfo, query or fragment.

    A relative ``Location`` is resolved against the request URL. Credentials and the query (which
    may hold a token or a signature) are cut; so is anything beyond 200 characters
    (:func:`~awork_async._redact.safe_url`).
    """
    if location is None or not location.strip():
        return None
    try:
        target = yarl.URL(location.strip())
        if not target.is_absolute() and request_url:
            target = yarl.URL(request_url).join(target)
    except (ValueError, TypeError):
        return "(an unparsable Location)"
    return safe_url(target)


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
