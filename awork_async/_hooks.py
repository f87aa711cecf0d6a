"""Observability hooks: callbacks run for every request, response, retry, error and rate-limit wait.

Callbacks may be plain functions or coroutine functions; they receive frozen event objects that
never carry headers or the token. A failing callback is logged and ignored: hooks never break
the request path. A slow async callback does delay the request, so keep them quick (hand work
to a queue). For lower-level tracing, pass an aiohttp session with ``trace_configs``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Protocol, TypeAlias, TypeVar

import attrs

from . import _constants as C
from ._redact import short_repr
from ._retry import RetryEvent, retry_reason

__all__ = [
    "ErrorEvent",
    "Hook",
    "Hooks",
    "RateLimitWaitEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "emit",
]

log = logging.getLogger(C.LOGGER_NAME)

E = TypeVar("E")


#: A callback for events of type ``E``: a function, or a coroutine function (its result is
#: awaited). The return value is otherwise ignored.
Hook: TypeAlias = Callable[[E], object]


@attrs.frozen
class RequestEvent:
    """An attempt is about to be sent.

    Attributes:
        method, url: the request (the URL never contains the token).
        attempt: 1 for the first attempt of a call, then 2, 3, ...
    """

    method: str
    url: str = attrs.field(repr=short_repr)
    attempt: int = 1


@attrs.frozen
class ResponseEvent:
    """An attempt got an HTTP answer (any status).

    Attributes:
        method, url, attempt: as in :class:`RequestEvent`.
        status: the HTTP status.
        elapsed: seconds from sending to reading the whole body.
        trace_id: awork's trace id, when the answer had one.
    """

    method: str
    url: str = attrs.field(repr=short_repr)
    status: int
    elapsed: float
    attempt: int = 1
    trace_id: str | None = None


@attrs.frozen
class ErrorEvent:
    """A call failed for good (after any retries) with ``error``.

    Attributes:
        method, url: the request.
        error: the exception the call raises.
        attempt: the attempt that failed last.
        elapsed: seconds since the call started, when known.
        status, trace_id: from an error answer (``APIStatusError``), else None.
    """

    method: str
    url: str = attrs.field(repr=short_repr)
    error: Exception
    attempt: int = 1
    elapsed: float | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status of an error answer, else None."""
        status = getattr(self.error, "status", None)
        return status if isinstance(status, int) else None

    @property
    def trace_id(self) -> str | None:
        """The error answer's trace id, else None."""
        trace_id = getattr(self.error, "trace_id", None)
        return trace_id if isinstance(trace_id, str) else None

    @property
    def reason(self) -> str:
        """Status and awork error code, or the exception class."""
        return retry_reason(self.error)


@attrs.frozen
class RateLimitWaitEvent:
    """The rate limiter holds an attempt back for ``wait`` seconds before it is sent.

    Emitted by the package's limiters (``LocalRateLimiter``, ``RedisRateLimiter``) each time
    ``acquire()`` is about to sleep: while a window is full, or during a pause after a 429 or
    a spent budget. Short waits (milliseconds, pacing within a second) are reported too.

    Attributes:
        method, url: the request waiting (the URL never contains the token).
        attempt: the attempt that will be sent after the wait (1 for the first).
        wait: seconds the limiter is about to sleep (it may sleep again after that).
    """

    method: str
    url: str
    wait: float
    attempt: int = 1


class _ResponseLike(Protocol):
    """What :meth:`Hooks.emit_response` reads from the transport's raw response."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def attempt(self) -> int: ...
    @property
    def trace_id(self) -> str | None: ...


async def emit(callbacks: Iterable[Hook[E]], event: E) -> None:
    """Run every callback with ``event``, awaiting async ones, in order.

    An ``Exception`` from a callback is logged (with the callback's name) and ignored; the
    remaining callbacks still run. Cancellation propagates.
    """
    for callback in tuple(callbacks):
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.warning(
                "hook %s failed on %s; ignored",
                getattr(callback, "__qualname__", repr(callback)),
                type(event).__name__,
                exc_info=True,
            )


def _request_hooks(value: Iterable[Hook[RequestEvent]]) -> list[Hook[RequestEvent]]:
    return list(value)


def _response_hooks(value: Iterable[Hook[ResponseEvent]]) -> list[Hook[ResponseEvent]]:
    return list(value)


def _retry_hooks(value: Iterable[Hook[RetryEvent]]) -> list[Hook[RetryEvent]]:
    return list(value)


def _error_hooks(value: Iterable[Hook[ErrorEvent]]) -> list[Hook[ErrorEvent]]:
    return list(value)


def _wait_hooks(value: Iterable[Hook[RateLimitWaitEvent]]) -> list[Hook[RateLimitWaitEvent]]:
    return list(value)


@attrs.define
class Hooks:
    """Lists of callbacks, one list per event kind; append to them freely.

    Example::

        hooks = Hooks(on_response=[lambda e: metrics.observe(e.status, e.elapsed)])
        client = AworkClient(token, hooks=hooks)
    """

    on_request: list[Hook[RequestEvent]] = attrs.field(factory=list, converter=_request_hooks)
    on_response: list[Hook[ResponseEvent]] = attrs.field(factory=list, converter=_response_hooks)
    on_retry: list[Hook[RetryEvent]] = attrs.field(factory=list, converter=_retry_hooks)
    on_error: list[Hook[ErrorEvent]] = attrs.field(factory=list, converter=_error_hooks)
    on_rate_limit_wait: list[Hook[RateLimitWaitEvent]] = attrs.field(
        factory=list, converter=_wait_hooks
    )

    def __bool__(self) -> bool:
        return bool(
            self.on_request
            or self.on_response
            or self.on_retry
            or self.on_error
            or self.on_rate_limit_wait
        )

    async def emit_request(self, *, method: str, url: str, attempt: int = 1) -> None:
        """Run the ``on_request`` callbacks."""
        if self.on_request:
            await emit(self.on_request, RequestEvent(method=method, url=url, attempt=attempt))

    async def emit_response(self, raw: _ResponseLike) -> None:
        """Run the ``on_response`` callbacks for the transport's raw response."""
        if self.on_response:
            event = ResponseEvent(
                method=raw.method,
                url=raw.url,
                status=raw.status,
                elapsed=raw.elapsed,
                attempt=raw.attempt,
                trace_id=raw.trace_id,
            )
            await emit(self.on_response, event)

    async def emit_retry(self, event: RetryEvent) -> None:
        """Run the ``on_retry`` callbacks (pass this as ``RetryPolicy.call(on_retry=...)``)."""
        if self.on_retry:
            await emit(self.on_retry, event)

    async def emit_error(
        self,
        *,
        method: str,
        url: str,
        error: Exception,
        attempt: int = 1,
        elapsed: float | None = None,
    ) -> None:
        """Run the ``on_error`` callbacks for a call that failed for good."""
        if self.on_error:
            event = ErrorEvent(
                method=method, url=url, error=error, attempt=attempt, elapsed=elapsed
            )
            await emit(self.on_error, event)

    async def emit_rate_limit_wait(
        self, *, method: str, url: str, wait: float, attempt: int = 1
    ) -> None:
        """Run the ``on_rate_limit_wait`` callbacks."""
        if self.on_rate_limit_wait:
            event = RateLimitWaitEvent(method=method, url=url, wait=wait, attempt=attempt)
            await emit(self.on_rate_limit_wait, event)

    def extend(self, other: Hooks) -> None:
        """Append ``other``'s callbacks to these lists."""
        self.on_request.extend(other.on_request)
        self.on_response.extend(other.on_response)
        self.on_retry.extend(other.on_retry)
        self.on_error.extend(other.on_error)
        self.on_rate_limit_wait.extend(other.on_rate_limit_wait)
