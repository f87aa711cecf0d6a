"""``AworkClient``: the async session manager every resource hangs off."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp
import aiolimiter

from . import _constants as C
from ._auth import AuthProvider, StaticToken, attach_request_path
from ._ratelimit import AiolimiterAdapter, LocalRateLimiter, RateLimiter, RateLimits
from ._retry import RetryPolicy
from ._sansio import validate_base_url
from ._timeouts import Timeouts
from ._transport import Transport
from .resources import (
    ProjectTimeBookingsResource,
    TimeBookingsResource,
    TimeEntriesResource,
    TimeReportsResource,
    TimerResource,
    TypesOfWorkResource,
    WebhooksResource,
)
from .resources._account import AccountResource
from .resources._raw import AworkClientWithRawResponse

if TYPE_CHECKING:
    from ._hooks import Hooks
    from ._requester import Requester
    from .models import UserAndWorkspace

__all__ = ["AworkClient", "requester_of"]


def _limiter_from(value: object) -> RateLimiter:
    """The limiter for ``AworkClient(rate_limiter=value)``, checked at construction."""
    if value is None:
        return LocalRateLimiter()
    if isinstance(value, RateLimits):
        return LocalRateLimiter.from_limits(value)
    if isinstance(value, aiolimiter.AsyncLimiter):
        return AiolimiterAdapter(value)
    if isinstance(value, type) or not isinstance(value, RateLimiter):
        raise TypeError(
            "rate_limiter must be a rate limiter (LocalRateLimiter, RedisRateLimiter, "
            "NoRateLimiter or an object with async acquire(), observe() and async aclose()), "
            "a RateLimits value such as RateLimits.ENTERPRISE or an aiolimiter.AsyncLimiter, "
            f"got {type(value).__name__}"
        )
    return value


class AworkClient:
    """Async client for awork's time tracking API.

    ::

        async with AworkClient(token="…") as awork:
            async for entry in awork.time_entries.list(filterby="isBillable eq true"):
                print(entry.id, entry.start, entry.duration)

    Args:
        token: an API key (or OAuth access token). Defaults to the ``AWORK_TOKEN`` environment
            variable. Never shown in reprs, logs or errors.
        base_url: the API root; ``https://`` only, except loopback hosts for local sandboxes.
            Defaults to the ``AWORK_BASE_URL`` environment variable, then awork's API
            (``https://api.awork.com/api/v1``). An explicit argument always wins.
        auth: an auth provider instead of ``token`` (e.g. :class:`OAuth2Provider`, which refreshes).
        session: an ``aiohttp.ClientSession`` of your own (trace configs, connectors); the client
            then never closes it. Without one, the client owns exactly one session.
        rate_limiter: defaults to an in-process limiter with awork's limits (50/s and 1000/min);
            pass a :class:`RedisRateLimiter` to share the workspace's budget across processes.
            A :class:`RateLimits` value (e.g. ``RateLimits.ENTERPRISE``) is shorthand for the
            default in-process limiter with those limits. An ``aiolimiter.AsyncLimiter`` is
            wrapped in an :class:`AiolimiterAdapter`: the client then draws from the same budget
            as your other users of it (mind its first-window burst). Anything else that is not a
            :class:`RateLimiter` raises ``TypeError`` here, not at the first request.
        retry: the retry policy (a :class:`RetryPolicy`).
        timeout: seconds for a whole call (across its retries) or a :class:`Timeouts`.
        max_response_bytes: the largest decoded (decompressed) answer body read, in bytes
            (default 64 MiB); a larger one raises :class:`ResponseTooLargeError` as soon as the
            cap is crossed.
        hooks: observability callbacks (:class:`Hooks`).
        sleep, clock: injectable for tests.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        auth: AuthProvider | None = None,
        session: aiohttp.ClientSession | None = None,
        rate_limiter: RateLimiter | RateLimits | aiolimiter.AsyncLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | Timeouts | None = None,
        hooks: Hooks | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if base_url is None:
            base_url = os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL
        url = validate_base_url(base_url)
        if auth is None:
            if token is None:
                token = os.environ.get(C.ENV_TOKEN)
            if token is None:
                raise ValueError(
                    "no credentials: pass token=... (an awork API key), auth=..., "
                    "or set the AWORK_TOKEN environment variable"
                )
            auth = StaticToken(token)
        elif token is not None:
            raise ValueError("pass either token or auth, not both")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError("session must be an aiohttp.ClientSession")
        limiter = _limiter_from(rate_limiter)
        self._owns_limiter = limiter is not rate_limiter
        timeouts = Timeouts().merge(timeout)
        self._transport = Transport(
            base_url=url,
            auth=auth,
            limiter=limiter,
            retry=retry if retry is not None else RetryPolicy(),
            timeouts=timeouts,
            hooks=hooks,
            session=session,
            sleep=sleep,
            clock=clock,
            max_response_bytes=max_response_bytes,
        )
        attach_request_path(auth, self._transport)  # OAuth refreshes take this path too

    def __repr__(self) -> str:
        state = " closed" if self._transport.closed else ""
        return f"<AworkClient base_url={str(self._transport.base_url)!r}{state}>"

    @property
    def base_url(self) -> str:
        return str(self._transport.base_url)

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._transport.limiter

    @property
    def closed(self) -> bool:
        return self._transport.closed

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> AworkClient:
        self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session the client owns (not a caller's). Closing twice is harmless."""
        if self._transport.closed:
            return
        await self._transport.aclose()
        if self._owns_limiter:
            await self._transport.limiter.aclose()

    # -- resources -------------------------------------------------------------------------

    @functools.cached_property
    def time_entries(self) -> TimeEntriesResource:
        """Time entries: lists, CRUD, last entry, breaks, batch changes."""
        return TimeEntriesResource(self._transport)

    @functools.cached_property
    def timer(self) -> TimerResource:
        """The running timer: start, stop, pause, resume, status."""
        return TimerResource(self._transport)

    @functools.cached_property
    def time_bookings(self) -> TimeBookingsResource:
        """Time bookings (``/timebookings``, ``/users/timebookings``)."""
        return TimeBookingsResource(self._transport)

    @functools.cached_property
    def project_time_bookings(self) -> ProjectTimeBookingsResource:
        """Project time bookings (``/projecttimebookings``, ``/users/projecttimebookings``)."""
        return ProjectTimeBookingsResource(self._transport)

    @functools.cached_property
    def types_of_work(self) -> TypesOfWorkResource:
        """Types of work."""
        return TypesOfWorkResource(self._transport)

    @functools.cached_property
    def time_reports(self) -> TimeReportsResource:
        """Saved time reports."""
        return TimeReportsResource(self._transport)

    @functools.cached_property
    def webhooks(self) -> WebhooksResource:
        """Webhook configurations, their delivery logs and event types (receive the deliveries
        with :class:`awork_async.webhooks.WebhookReceiver`)."""
        return WebhooksResource(self._transport)

    @property
    def with_raw_response(self) -> AworkClientWithRawResponse:
        """The same resources, whose methods return an :class:`APIResponse` (typed result +
        status, headers, trace id and rate-limit state):
        ``resp = await awork.with_raw_response.time_entries.get(i); resp.parsed, resp.trace_id``.
        """
        return AworkClientWithRawResponse(self, self._account)

    async def me(self) -> UserAndWorkspace:
        """The caller's user and workspace (``GET /me``); with an API key, the API user."""
        return await self._account.me()

    @functools.cached_property
    def _account(self) -> AccountResource:
        return AccountResource(self._transport)


def requester_of(client: AworkClient) -> Requester:
    """The request path of ``client`` (for the package's walks that send their own calls)."""
    return client._transport
