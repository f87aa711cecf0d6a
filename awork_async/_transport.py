"""The one request path every call goes through.

One attempt: wait for the rate limiter, add auth, send, read the whole body (at most
``max_response_bytes`` decoded bytes, within ``Timeouts.body``), let the limiter see the headers,
map failures to the typed exceptions. Only 2xx is success: a 3xx is never followed and raises
:class:`UnexpectedRedirectError`; a 2xx body that is not the promised JSON raises
:class:`APIResponseValidationError` inside the attempt, so the retry policy can retry it. Around the
attempts: the retry policy and the call's overall deadline. Everything that can be decided without
I/O lives in ``_sansio.py``, ``_exceptions.py``, ``_retry.py`` and ``_ratelimit_headers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import platform
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
import orjson
import yarl

from . import _constants as C
from ._decipher import Expect, decipher_response
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    OutcomeUnknownError,
    ResponseTooLargeError,
)
from ._ratelimit import LimiterRequest, acquire_for, observe_for, wait_listener
from ._ratelimit_headers import RateLimitInfo
from ._redact import detach_request_info, forget_callee_locals, secrets_of, shorten
from ._response import APIResponse, RawResponse, report_call
from ._sansio import IDEMPOTENT_METHODS, QueryValue, build_query, join_url
from ._validation import ensure_int
from ._version import __version__

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _deadline

if TYPE_CHECKING:
    from ._auth import AuthProvider
    from ._hooks import Hooks
    from ._ratelimit import RateLimiter
    from ._retry import RetryPolicy
    from ._timeouts import Timeouts

__all__ = ["Expect", "Transport", "body_reads", "user_agent"]

#: What bounds the answers' bodies read at once in this context (an async context manager
#: entered after an answer's headers arrived and left once its body is read), or ``None``. The
#: page engine sets it (an ``asyncio.Semaphore`` of ``MAX_BODY_READS``) for the lanes it starts,
#: whose requests all go through :meth:`Transport.request`: a context variable reaches them
#: there without a parameter on every layer in between (resources, requester, retries). The
#: body's own time bound (``Timeouts.body``) starts once it is entered.
body_reads: contextvars.ContextVar[contextlib.AbstractAsyncContextManager[Any] | None] = (
    contextvars.ContextVar("awork_async_body_reads", default=None)
)

log = logging.getLogger(C.LOGGER_NAME)

Sleep = Callable[[float], Awaitable[None]]


class _BodyTimeout(Exception):
    """Internal: the body was not read completely within ``Timeouts.body``."""


def validate_max_response_bytes(value: int) -> int:
    """Return ``value`` or raise ``TypeError``/``ValueError`` (a positive int of bytes)."""
    return ensure_int(value, "max_response_bytes", minimum=1)


def user_agent() -> str:
    """``awork-async/0.1.0 (Python 3.11.7; aiohttp 3.10.5)``."""
    return (
        f"awork-async/{__version__} "
        f"(Python {platform.python_version()}; aiohttp {aiohttp.__version__})"
    )


@attrs.frozen
class _Call:
    """One logical call, as decided before the first attempt (immutable).

    Its ``repr`` leaves out the fields that may hold a secret: error reporters show the locals
    of every frame on a traceback, and a ``_Call`` is a local of several (see ``_redact``).
    """

    method: str
    url: yarl.URL
    url_text: str
    query: dict[str, str]
    body: bytes | None = attrs.field(repr=False)  # may carry a webhook secret, a refresh token
    timeouts: Timeouts
    idempotent: bool | None
    expect: Expect
    # values of the request body scrubbed from answers (besides the token)
    secrets: tuple[str, ...] = attrs.field(repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)  # extra headers
    form: bool = False  # the body is form-encoded (else JSON)
    authenticate: bool = True  # send the bearer token (and refresh it after a 401)

    @property
    def repeatable(self) -> bool:
        return bool(self.idempotent) or self.method in IDEMPOTENT_METHODS


@attrs.frozen
class _Received:
    """An answer as received. Its ``repr`` shows the status only: the headers and the body may
    echo the token (and it is a local of a frame on the traceback of the error it becomes)."""

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


class _Progress:
    """What the one attempt loop of a call has done so far (owned by that loop alone).

    ``attempt``: requests sent (1 = the first). ``in_doubt``: the latest one may be at the server
    without a known outcome (it left the client and neither a complete answer nor a connect
    failure came back yet). ``token``: the bearer token the latest one carried.
    ``refreshed``: a 401 already led to a token refresh (once per call). ``responses``: every
    answer received so far, in order (the call's record holds them).
    """

    __slots__ = ("attempt", "in_doubt", "refreshed", "responses", "token")

    def __init__(self) -> None:
        self.attempt = 0
        self.in_doubt = False
        self.refreshed = False
        self.token = ""
        self.responses: list[RawResponse] = []


class Transport:
    """Sends requests for one client. Owns the aiohttp session unless one was passed in."""

    def __init__(
        self,
        *,
        base_url: yarl.URL,
        auth: AuthProvider,
        limiter: RateLimiter,
        retry: RetryPolicy,
        timeouts: Timeouts,
        hooks: Hooks | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        connection_limit: int = 100,
        max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.limiter = limiter
        self.retry = retry
        self.timeouts = timeouts
        self.hooks = hooks
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock
        self._connection_limit = connection_limit
        self.max_response_bytes = validate_max_response_bytes(max_response_bytes)
        self._closed = False
        self._user_agent = user_agent()

    @property
    def closed(self) -> bool:
        return self._closed

    def open(self) -> None:
        """Create the owned session now (``async with client``), or raise when closed."""
        self._get_session()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this AworkClient is closed; create a new one")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=self.timeouts.to_client_timeout(),
            )
        elif self._session.closed:
            raise ClientClosedError("the aiohttp session passed to AworkClient is closed")
        return self._session

    async def aclose(self) -> None:
        """Close the owned session (a caller-owned one is left open). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object = None,
        timeout: float | Timeouts | None = None,
        idempotent: bool | None = None,
        expect: Expect = None,
        secrets: Sequence[str] = (),
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> APIResponse[object]:
        """Send one logical call (with retries): its record, the decoded JSON as ``parsed``
        with the final answer (``raw``) and every answer received (``responses``).

        204 and empty bodies decode to ``None``. Error answers raise the typed exceptions of
        ``_exceptions``; a POST whose answer was lost raises :class:`OutcomeUnknownError`.
        ``idempotent=True`` marks a POST that is safe to repeat (the timer's pause/resume).
        ``expect`` is the JSON shape the call promises: a 2xx answer of another shape (or, other
        than a 204, with an empty body) raises :class:`APIResponseValidationError` like a body
        that is not JSON, and is retried like one. ``secrets`` (values the body carries, such as
        a webhook's header value) are scrubbed from error answers like the token.

        ``path`` may be an absolute URL (the OAuth token endpoint). ``form`` sends a
        form-encoded body instead of ``json``; ``headers`` are added to the request's;
        ``authenticate=False`` sends no bearer token (the token refresh itself). Form values and
        header values are scrubbed from error answers too.

        The one loop: the retry policy (tenacity) runs :meth:`_attempt` until it returns, or the
        policy gives up, or the deadline (``Timeouts.total``, the one bound of the whole call)
        passes. A 401 answered by a token refresh is one more reason to try again.
        """
        self._get_session()  # fail fast when closed
        method = method.upper()
        try:
            call = self._plan(
                method,
                path,
                params=params,
                json=json,
                timeout=timeout,
                idempotent=idempotent,
                expect=expect,
                secrets=secrets,
                form=form,
                headers=headers,
                authenticate=authenticate,
            )
        finally:
            # Handed on to the call (whose repr hides them): off this frame's locals, which
            # error reporters would show (see ``_redact``).
            del json, secrets, form, headers
        progress = _Progress()
        deadline = call.timeouts.deadline(self._clock())

        def time_left() -> float | None:
            return None if deadline is None else deadline - self._clock()

        async def attempt() -> APIResponse[object]:
            return await self._attempt(call, progress)

        async def recover(error: Exception) -> bool:
            return await self._refreshed(call, progress, error)

        try:
            try:
                # Not asyncio.wait_for: on 3.10/3.11 it can swallow a cancellation that arrives
                # as the call completes (CPython gh-86296), leaving the caller running.
                async with _deadline(call.timeouts.total):
                    return await self.retry.call(
                        attempt,
                        method=method,
                        url=call.url_text,
                        sleep=self._sleep,
                        on_retry=self.hooks.emit_retry if self.hooks else None,
                        idempotent=idempotent,
                        time_left=time_left,
                        recover=recover,
                    )
            except asyncio.TimeoutError:
                raise self._past_deadline(call, progress) from None
        except Exception as exc:
            detach_request_info(exc)  # no request headers (the token) reachable from it
            if self.hooks:
                await self.hooks.emit_error(
                    method=method, url=call.url_text, error=exc, attempt=progress.attempt
                )
            raise
        finally:
            report_call(progress.responses)

    def _plan(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None,
        json: object,
        timeout: float | Timeouts | None,
        idempotent: bool | None,
        expect: Expect,
        secrets: Sequence[str],
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticate: bool,
    ) -> _Call:
        """The call :meth:`request` describes, decided once before the first attempt."""
        url = yarl.URL(path) if path.startswith(("https://", "http://")) else None
        url = join_url(self.base_url, path) if url is None else url
        query = build_query(params)
        extra = tuple((headers or {}).items())
        if form is not None:
            body: bytes | None = urllib.parse.urlencode(dict(form)).encode()
            secrets = (*secrets, *form.values(), *(value for _, value in extra))
        else:
            body = None if json is None else orjson.dumps(json)
        return _Call(
            method=method,
            url=url,
            url_text=str(url.with_query(query)) if query else str(url),
            query=query,
            body=body,
            timeouts=self.timeouts.merge(timeout),
            idempotent=idempotent,
            expect=expect,
            secrets=tuple(value for value in secrets if value),
            headers=extra,
            form=form is not None,
            authenticate=authenticate,
        )

    async def _attempt(self, call: _Call, progress: _Progress) -> APIResponse[object]:
        """One attempt, in order: limiter, auth, send, body, decipher, observe, hooks, outcome."""
        try:
            session = self._get_session()
            await self._acquire(call, progress.attempt + 1)
            # The token stays on ``progress`` (no local holds it: see ``_redact``).
            progress.token = await self.auth.token() if call.authenticate else ""
            progress.attempt += 1
            progress.in_doubt = True  # until an answer or a connect failure says otherwise
            started = self._clock()
            if self.hooks:
                await self.hooks.emit_request(
                    method=call.method, url=call.url_text, attempt=progress.attempt
                )
            received = await self._send(session, call, progress)
            progress.in_doubt = False  # answered: the status tells the outcome
            elapsed = self._clock() - started
            answer = decipher_response(
                received.status,
                received.headers,
                received.body,
                method=call.method,
                url=call.url_text,
                expect=call.expect,
                secrets=(
                    (*secrets_of(self.auth, progress.token), *call.secrets)
                    if progress.token
                    else call.secrets
                ),
                now=datetime.fromtimestamp(self.retry.clock(), timezone.utc),
            )
            observe_for(self.limiter, received.status, received.headers, answer.rate_limit)
            raw = RawResponse.of(
                answer,
                method=call.method,
                url=call.url_text,
                elapsed=elapsed,
                attempt=progress.attempt,
            )
            progress.responses.append(raw)
            if self.hooks:
                await self.hooks.emit_response(raw)
            if answer.error is not None:
                raise answer.error
            return APIResponse(answer.data, raw, tuple(progress.responses))
        except Exception as exc:
            detach_request_info(exc)  # before retry hooks see it
            raise

    async def _refreshed(self, call: _Call, progress: _Progress, error: Exception) -> bool:
        """A retry reason of its own: a 401 the auth provider answered with a fresh token
        (at most once per call; not counted against the retry policy's attempts)."""
        if not isinstance(error, AuthenticationError) or progress.refreshed or not progress.token:
            return False
        progress.refreshed = True
        if not await self.auth.on_unauthorized(progress.token):
            return False
        log.info(
            "%s %s: 401, retrying once with a refreshed token", call.method, shorten(call.url_text)
        )
        return True

    def _headers(self, call: _Call, token: str) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if call.body is not None:
            headers["Content-Type"] = (
                "application/x-www-form-urlencoded" if call.form else "application/json"
            )
        headers.update(call.headers)
        return headers

    async def _acquire(self, call: _Call, attempt: int) -> None:
        """Wait for the limiter; its waits go to the ``on_rate_limit_wait`` hooks."""
        hooks = self.hooks
        request = LimiterRequest(call.method, call.url.path)
        if hooks is None or not hooks.on_rate_limit_wait:
            await acquire_for(self.limiter, request)
            return

        async def report(seconds: float) -> None:
            await hooks.emit_rate_limit_wait(
                method=call.method, url=call.url_text, wait=seconds, attempt=attempt
            )

        with wait_listener(report):
            await acquire_for(self.limiter, request)

    async def _send(
        self, session: aiohttp.ClientSession, call: _Call, progress: _Progress
    ) -> _Received:
        """Send the request and read the whole body within the caps; map transport failures.

        The frames below this one (:meth:`_exchange`'s, aiohttp's) hold the request's headers
        and body and the response: they forget their locals when an exception leaves them.
        """
        method, url_text = call.method, call.url_text
        try:
            with forget_callee_locals():
                return await self._exchange(session, call, progress)
        except aiohttp.ClientConnectorError as exc:
            # DNS failure, connection refused, TLS handshake: nothing reached the server.
            progress.in_doubt = False
            raise APIConnectionError(
                f"{method} {url_text}: cannot connect ({type(exc).__name__}: {exc.os_error})",
                method=method,
                url=url_text,
                request_sent=False,
            ) from None
        except aiohttp.ConnectionTimeoutError:
            progress.in_doubt = False
            raise APITimeoutError(
                f"{method} {url_text}: connect timeout",
                method=method,
                url=url_text,
                request_sent=False,
            ) from None
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError):
            raise self._lost(call, "read timeout", timeout=True) from None
        except _BodyTimeout:
            raise self._lost(
                call,
                f"the answer's body was not complete within {call.timeouts.body:g}s",
                timeout=True,
            ) from None
        except aiohttp.ClientError as exc:
            # Disconnected, reset, truncated body: the request may have been processed.
            raise self._lost(
                call, f"connection lost ({type(exc).__name__})", timeout=False
            ) from None

    async def _exchange(
        self, session: aiohttp.ClientSession, call: _Call, progress: _Progress
    ) -> _Received:
        """One request and its whole answer (inside :meth:`_send`'s ``forget_callee_locals``:
        ``resp`` shows the answer's headers, the body read so far may echo the token)."""
        async with session.request(
            call.method,
            call.url,
            params=call.query or None,
            data=call.body,
            headers=self._headers(call, progress.token),
            timeout=call.timeouts.to_client_timeout(),
            allow_redirects=False,
        ) as resp:
            try:
                async with body_reads.get() or contextlib.nullcontext():
                    body = await self._read_body(
                        resp, call.timeouts.body, call.method, call.url_text
                    )
            except ResponseTooLargeError:
                progress.in_doubt = False  # answered; the answer is just too big to keep
                info = RateLimitInfo.from_headers(resp.headers)
                observe_for(self.limiter, resp.status, resp.headers, info)
                raise
            return _Received(resp.status, resp.headers, body)

    async def _read_body(
        self, resp: aiohttp.ClientResponse, limit_seconds: float | None, method: str, url: str
    ) -> bytes:
        """Read the decoded body in chunks: at most ``max_response_bytes``, within the bound.

        Stops (and drops the connection) as soon as the cap is crossed, so memory never holds
        more than the cap whatever the server sends (a gzip bomb, an endless chunked body).
        """
        cap = self.max_response_bytes
        length = resp.content_length
        if length is not None and length > cap and not resp.headers.get("Content-Encoding"):
            resp.close()
            raise self._too_large(resp.status, method, url)
        chunks: list[bytes] = []
        size = 0
        try:
            async with _deadline(limit_seconds):
                async for chunk in resp.content.iter_any():
                    size += len(chunk)
                    if size > cap:
                        resp.close()
                        raise self._too_large(resp.status, method, url)
                    chunks.append(chunk)
        except aiohttp.ServerTimeoutError:
            raise  # the read timeout (a TimeoutError too): reported as such by the caller
        except asyncio.TimeoutError:
            resp.close()
            raise _BodyTimeout from None
        return b"".join(chunks)

    def _too_large(self, status: int, method: str, url: str) -> ResponseTooLargeError:
        cap = self.max_response_bytes
        return ResponseTooLargeError(
            f"{method} {url}: the {status} answer's body exceeds max_response_bytes ({cap} bytes)"
            "; reading stopped there",
            status=status,
            limit=cap,
            method=method,
            url=url,
        )

    @staticmethod
    def _lost(call: _Call, what: str, *, timeout: bool) -> APIConnectionError:
        """The request was sent but its answer was lost: retryable only if idempotent."""
        method, url_text = call.method, call.url_text
        if not call.repeatable:
            return OutcomeUnknownError(
                f"{method} {url_text}: {what} after the request was sent; the server may or may "
                "not have carried it out, so it was not retried",
                method=method,
                url=url_text,
            )
        cls = APITimeoutError if timeout else APIConnectionError
        return cls(f"{method} {url_text}: {what}", method=method, url=url_text, request_sent=True)

    @staticmethod
    def _past_deadline(call: _Call, progress: _Progress) -> APIConnectionError:
        """The call's deadline passed: a timeout, or an unknown outcome for a sent POST."""
        message = (
            f"{call.method} {call.url_text}: no answer within the call's deadline "
            f"of {call.timeouts.total:g}s"
        )
        if progress.in_doubt and not call.repeatable:
            return OutcomeUnknownError(message, method=call.method, url=call.url_text)
        return APITimeoutError(
            message, method=call.method, url=call.url_text, request_sent=progress.in_doubt
        )
