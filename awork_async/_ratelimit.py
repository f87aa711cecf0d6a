"""Client-side rate limiting for awork's per-workspace limits (notes §4).

awork allows 50 requests per second and 1000 per minute (3000 on Enterprise) per workspace,
counted in fixed windows on the server and shared by every client of the workspace. Every limiter
here does three things:

1. **Windows.** Before each request attempt, :meth:`RateLimiter.acquire` waits until the request
   fits into *both* windows. The windows are a *sliding log* (:class:`SlidingWindowLog`): a request
   is admitted at time ``t`` only if fewer than ``limit`` admissions lie in ``(t - window, t]``.
   Hence no half-open interval of length ``window`` ever holds more than ``limit`` admissions (if
   one held ``limit + 1``, the last of them would have seen the other ``limit`` in its look-back and
   waited). Each of the server's fixed windows is such an interval, so the server never counts more
   than the limit from this client, however its windows are aligned. Bursts still go out at once:
   the first 50 requests start immediately and 1000 requests take about 20 s, the full rate.
2. **Adaptive hold.** :meth:`RateLimiter.observe` reads the ``RateLimit-*`` headers of every
   response. When a window's remaining budget is at or below a small reserve (other clients of the
   workspace use it too), all requests are held until that window resets instead of running into
   a 429.
3. **One gate after a 429.** A 429 pauses *every* pending :meth:`~RateLimiter.acquire` of the
   limiter until ``Retry-After``, else ``RateLimit-Reset``, else one second has passed, so
   concurrent coroutines do not each discover the limit on their own.

Why not aiolimiter's ``AsyncLimiter`` for the windows: it is a leaky bucket that starts full, so
``AsyncLimiter(50, 1)`` admits 99 requests in its first second and ``AsyncLimiter(1000, 60)``
1,999 in its first minute (the bucket refills while it drains). Its only strictly safe
configuration, ``AsyncLimiter(1, period / limit)``, spaces all requests evenly (one per 60 ms for
1000/min), which costs bursts their latency. It also reads ``loop.time()`` and schedules with
``loop.call_at``, so its timing cannot be driven by an injected clock in tests. The sliding log
below is exact, allows bursts, takes an injectable ``clock``/``sleep``, and is the same algorithm
the Redis limiter runs server-side (:mod:`awork_async._redis_ratelimit`), so the two cannot drift
apart. A log holds at most ``limit`` timestamps (1000 floats for the minute window).

Users who already pace other awork calls with an ``AsyncLimiter`` can still hand it to the client
(:class:`AiolimiterAdapter`, or the ``AsyncLimiter`` itself as ``rate_limiter``): both then draw
from one budget, with the caveat above.

A limiter whose ``acquire`` takes a keyword argument named ``request`` receives a
:class:`LimiterRequest` (method and URL path), so it can treat writes differently; limiters
whose ``acquire()`` takes no argument keep working unchanged (:func:`acquire_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import ClassVar, Protocol, runtime_checkable

import aiolimiter
import attrs

from awork_async._constants import (
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_RATE_LIMIT_PAUSE,
    DEFAULT_RATE_PER_MINUTE,
    DEFAULT_RATE_PER_SECOND,
    DEFAULT_RATE_RESERVE,
    DEFAULT_RATE_WINDOW_MARGIN,
    ENTERPRISE_RATE_PER_MINUTE,
    LOGGER_NAME,
    RATE_MINUTE_WINDOW,
    RATE_SECOND_WINDOW,
)
from awork_async._ratelimit_headers import RateLimitInfo

__all__ = [
    "AiolimiterAdapter",
    "Clock",
    "HoldPolicy",
    "LimiterRequest",
    "LocalRateLimiter",
    "NoRateLimiter",
    "RateLimiter",
    "RateLimits",
    "Sleep",
    "SlidingWindowLog",
    "WindowedAdmission",
    "acquire_for",
    "announce_wait",
    "observe_for",
    "wait_listener",
]

_log = logging.getLogger(LOGGER_NAME)

#: Returns the current time in seconds (monotonic); ``time.monotonic`` by default.
Clock = Callable[[], float]
#: Waits the given number of seconds; ``asyncio.sleep`` by default.
Sleep = Callable[[float], Awaitable[None]]

#: Who hears that a limiter is about to wait (set by the transport around ``acquire()`` when the
#: client has ``on_rate_limit_wait`` hooks). A context variable, so that one limiter shared by
#: several clients reports each wait to the hooks of the call that waits.
_WAIT_LISTENER: contextvars.ContextVar[Callable[[float], Awaitable[None]] | None] = (
    contextvars.ContextVar("awork_async_rate_limit_wait", default=None)
)


@contextlib.contextmanager
def wait_listener(listener: Callable[[float], Awaitable[None]] | None) -> Iterator[None]:
    """Within the block, :func:`announce_wait` calls ``listener`` (the current task only)."""
    token = _WAIT_LISTENER.set(listener)
    try:
        yield
    finally:
        _WAIT_LISTENER.reset(token)


async def announce_wait(seconds: float) -> None:
    """Called by a limiter just before it sleeps ``seconds`` in ``acquire()``.

    Runs the current call's ``on_rate_limit_wait`` hooks (see :class:`~awork_async.Hooks`); a
    no-op when there are none. Custom limiters may call it too.
    """
    listener = _WAIT_LISTENER.get()
    if listener is not None:
        await listener(seconds)


#: Floating-point slack when comparing an entry's expiry with the clock: after sleeping exactly the
#: computed wait, ``now`` may land a rounding error short of the expiry. One nanosecond is harmless.
_EPSILON = 1e-9


@attrs.frozen
class LimiterRequest:
    """The request a limiter admits: its method (``"GET"``, ``"POST"``, ...) and URL path.

    ``path`` is the whole path of the URL without the query, e.g. ``/api/v1/time-entries``.
    """

    method: str
    path: str

    @property
    def is_write(self) -> bool:
        """``True`` for methods that change data (everything but GET, HEAD and OPTIONS)."""
        return self.method not in ("GET", "HEAD", "OPTIONS")


@runtime_checkable
class RateLimiter(Protocol):
    """What the transport calls around every request attempt.

    ``acquire`` may also take a keyword argument ``request``: it then receives the
    :class:`LimiterRequest` about to be sent (``async def acquire(self, *, request=None)``).
    ``observe`` may also take a keyword argument ``rate_limit``: it then receives the
    :class:`RateLimitInfo` the client already read from the headers
    (``def observe(self, status, headers, *, rate_limit=None)``), so they are parsed once.
    """

    async def acquire(self) -> None:
        """Wait until one more request may be sent, then count it."""

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's status and rate limit headers (called after every response)."""

    async def aclose(self) -> None:
        """Release resources held by the limiter."""


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


@attrs.frozen
class RateLimits:
    """Per-workspace request limits: ``per_second`` and ``per_minute`` (both enforced).

    Use the presets :attr:`STANDARD` (50/s, 1000/min: Basic, Business, Professional plans) and
    :attr:`ENTERPRISE` (50/s, 3000/min: Enterprise, Enterprise Plus), or custom values.
    """

    per_second: int = attrs.field(default=DEFAULT_RATE_PER_SECOND, validator=_positive_int)
    per_minute: int = attrs.field(default=DEFAULT_RATE_PER_MINUTE, validator=_positive_int)

    STANDARD: ClassVar[RateLimits]
    ENTERPRISE: ClassVar[RateLimits]


RateLimits.STANDARD = RateLimits(DEFAULT_RATE_PER_SECOND, DEFAULT_RATE_PER_MINUTE)
RateLimits.ENTERPRISE = RateLimits(DEFAULT_RATE_PER_SECOND, ENTERPRISE_RATE_PER_MINUTE)


class SlidingWindowLog:
    """Pure sliding-log counter: at most ``limit`` admissions in any interval of ``window`` seconds.

    Keeps the times of the last admissions (at most ``limit`` of them). No clock of its own: every
    call gets ``now``.
    """

    def __init__(self, limit: int, window: float) -> None:
        """Create an empty log for ``limit`` admissions per ``window`` seconds."""
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        times, window, horizon = self._times, self.window, now + _EPSILON
        while times and times[0] + window <= horizon:
            times.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until one more admission fits (``0.0`` if it fits now)."""
        self._expire(now)
        excess = len(self._times) - self.limit
        if excess < 0:
            return 0.0
        return max(self._times[excess] + self.window - now, 0.0)

    def record(self, now: float) -> None:
        """Count one admission at ``now``."""
        self._times.append(now)

    def __len__(self) -> int:
        """Number of admissions still inside the window (as of the last call)."""
        return len(self._times)


@attrs.frozen
class HoldPolicy:
    """Pure rule turning one response into a pause of all requests (seconds, ``0.0`` for none).

    * ``429``: ``Retry-After``, else ``RateLimit-Reset``, else ``default_pause``.
    * Otherwise, for each window whose remaining budget is ``<= reserve``: the per-second window
      pauses one second (less if ``RateLimit-*`` reports that window and its reset is sooner);
      the per-minute window pauses
      ``RateLimit-Reset`` seconds (at most a minute), else a full minute; the generic
      ``RateLimit-Remaining`` pauses ``RateLimit-Reset`` seconds. The longest pause wins.

    Every pause is capped at ``max_hold`` so a bogus header cannot freeze the client; the retry
    policy decides separately whether to give up on a long wait.
    """

    reserve: int = DEFAULT_RATE_RESERVE
    default_pause: float = DEFAULT_RATE_LIMIT_PAUSE
    max_hold: float = DEFAULT_MAX_RETRY_WAIT

    def hold_seconds(self, status: int, info: RateLimitInfo) -> float:
        """Seconds during which no request should start after this response."""
        if status == 429:
            wait = info.suggested_wait()
            pause = self.default_pause if wait is None else wait
        else:
            pause = 0.0
            if info.second_remaining is not None and info.second_remaining <= self.reserve:
                pause = max(pause, self._second_reset(info))
            if info.minute_remaining is not None and info.minute_remaining <= self.reserve:
                reset = info.reset if info.reset is not None else RATE_MINUTE_WINDOW
                pause = max(pause, min(reset, RATE_MINUTE_WINDOW))
            if (
                info.remaining is not None
                and info.remaining <= self.reserve
                and info.reset is not None
            ):
                pause = max(pause, info.reset)
        return min(pause, self.max_hold)

    @staticmethod
    def _second_reset(info: RateLimitInfo) -> float:
        """Seconds until the per-second window resets (``RateLimit-Reset`` if it is reported)."""
        if info.reset is not None and info.limit is not None and info.limit == info.second_limit:
            return min(info.reset, RATE_SECOND_WINDOW)
        return RATE_SECOND_WINDOW


class WindowedAdmission:
    """Pure admission core: several sliding windows plus a "hold until" deadline.

    :meth:`try_acquire` either admits (records the request in every window, returns ``0.0``) or
    returns how long to wait before trying again; :meth:`hold` blocks all admissions for a while.
    """

    def __init__(self, windows: tuple[SlidingWindowLog, ...]) -> None:
        """Combine ``windows``; a request must fit into all of them."""
        self.windows = windows
        self.hold_until = -math.inf

    def try_acquire(self, now: float) -> float:
        """Admit one request at ``now`` and return ``0.0``, or return the seconds to wait."""
        wait = max(self.hold_until - now, 0.0)
        for window in self.windows:
            wait = max(wait, window.wait_time(now))
        if wait > 0.0:
            return wait
        for window in self.windows:
            window.record(now)
        return 0.0

    def hold(self, now: float, seconds: float) -> None:
        """Admit nothing before ``now + seconds`` (an existing longer hold is kept)."""
        self.hold_until = max(self.hold_until, now + seconds)


class LocalRateLimiter:
    """In-process limiter enforcing both per-workspace windows for every coroutine that shares it.

    Share one instance between all clients of a workspace inside the process. Waiting acquirers
    are served first come, first served. Use
    :class:`~awork_async._redis_ratelimit.RedisRateLimiter` when several processes or machines use
    the same workspace.

    Args:
        per_second: requests per second (default 50).
        per_minute: requests per minute (default 1000; ``RateLimits.ENTERPRISE`` has 3000).
        reserve: a window reported with this many requests left (or fewer) pauses all requests until
            it resets.
        window_margin: seconds added to each window to absorb the varying delay between this
            limiter's admission and the server's count (network jitter, a busy event loop);
            default 0.1 (see ``_constants.DEFAULT_RATE_WINDOW_MARGIN``).
        default_pause: pause after a 429 without ``Retry-After`` or ``RateLimit-Reset``.
        max_hold: longest pause any response can impose.
        clock: monotonic time source in seconds (inject a fake one in tests).
        sleep: coroutine function that waits the given seconds (inject a fake one in tests).
    """

    def __init__(
        self,
        per_second: int = DEFAULT_RATE_PER_SECOND,
        per_minute: int = DEFAULT_RATE_PER_MINUTE,
        *,
        reserve: int = DEFAULT_RATE_RESERVE,
        window_margin: float = DEFAULT_RATE_WINDOW_MARGIN,
        default_pause: float = DEFAULT_RATE_LIMIT_PAUSE,
        max_hold: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Create a limiter; see the class docstring for the arguments."""
        if window_margin < 0:
            raise ValueError("window_margin must not be negative")
        self.limits = RateLimits(per_second, per_minute)
        self.policy = HoldPolicy(reserve=reserve, default_pause=default_pause, max_hold=max_hold)
        self._core = WindowedAdmission(
            (
                SlidingWindowLog(per_second, RATE_SECOND_WINDOW + window_margin),
                SlidingWindowLog(per_minute, RATE_MINUTE_WINDOW + window_margin),
            )
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    @classmethod
    def from_limits(
        cls,
        limits: RateLimits,
        *,
        reserve: int = DEFAULT_RATE_RESERVE,
        window_margin: float = DEFAULT_RATE_WINDOW_MARGIN,
        default_pause: float = DEFAULT_RATE_LIMIT_PAUSE,
        max_hold: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> LocalRateLimiter:
        """Create a limiter from a :class:`RateLimits` value such as ``RateLimits.ENTERPRISE``."""
        return cls(
            limits.per_second,
            limits.per_minute,
            reserve=reserve,
            window_margin=window_margin,
            default_pause=default_pause,
            max_hold=max_hold,
            clock=clock,
            sleep=sleep,
        )

    @property
    def paused_until(self) -> float:
        """Clock time before which no request is admitted (``-inf`` if never paused)."""
        return self._core.hold_until

    async def acquire(self) -> None:
        """Wait until a request fits into both windows and no pause is active, then count it."""
        async with self._lock:
            while True:
                wait = self._core.try_acquire(self._clock())
                if wait <= 0.0:
                    return
                await announce_wait(wait)
                await self._sleep(wait)

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        """Pause all requests if the response is a 429 or reports a (nearly) spent window.

        A spent window that this limiter's own log fully accounts for needs no pause: the log
        already keeps the next request out of that window. Only budget used by *other* clients
        of the workspace (the server counts more than this limiter sent) triggers a hold.
        """
        info = RateLimitInfo.from_headers(headers) if rate_limit is None else rate_limit
        if status != 429:
            info = self._discount_own_usage(info)
        seconds = self.policy.hold_seconds(status, info)
        if seconds > 0.0:
            _log.debug("rate limit: holding all requests for %.3f s (status %d)", seconds, status)
            self._core.hold(self._clock(), seconds)

    def _discount_own_usage(self, info: RateLimitInfo) -> RateLimitInfo:
        """Drop the per-window "remaining" figures that this limiter's own log explains."""
        now = self._clock()
        second, minute = self._core.windows
        changes: dict[str, int | None] = {}
        for window, limit, remaining, name in (
            (second, info.second_limit, info.second_remaining, "second_remaining"),
            (minute, info.minute_limit, info.minute_remaining, "minute_remaining"),
        ):
            if limit is None or remaining is None:
                continue
            window.wait_time(now)  # expire old admissions
            if len(window) >= limit - remaining:
                changes[name] = None
        return attrs.evolve(info, **changes) if changes else info

    async def aclose(self) -> None:
        """Nothing to release; present for the :class:`RateLimiter` protocol."""


class NoRateLimiter:
    """A limiter that never waits, for callers who do their own rate limiting."""

    async def acquire(self) -> None:
        """Return at once."""

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        """Ignore the response."""

    async def aclose(self) -> None:
        """Nothing to release."""


@functools.lru_cache(maxsize=128)
def _takes_keyword(function: Callable[..., object], name: str) -> bool:
    """Whether ``function`` has a parameter ``name`` that can be passed by keyword."""
    try:
        parameter = inspect.signature(function).parameters.get(name)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


async def acquire_for(limiter: RateLimiter, request: LimiterRequest) -> None:
    """Call ``limiter.acquire(request=request)`` if it takes ``request``, else ``acquire()``."""
    acquire = limiter.acquire
    if _accepts(acquire, "request"):
        await acquire(request=request)  # type: ignore[call-arg]
    else:
        await acquire()


def observe_for(
    limiter: RateLimiter, status: int, headers: Mapping[str, str], rate_limit: RateLimitInfo
) -> None:
    """``limiter.observe(status, headers, rate_limit=...)`` if it takes the parsed state (the
    headers are then not parsed again), else ``observe(status, headers)``."""
    observe = limiter.observe
    if _accepts(observe, "rate_limit"):
        observe(status, headers, rate_limit=rate_limit)  # type: ignore[call-arg]
    else:
        observe(status, headers)


def _accepts(method: Callable[..., object], name: str) -> bool:
    function = getattr(method, "__func__", method)
    try:
        return _takes_keyword(function, name)
    except TypeError:  # unhashable callable: look every time
        return _takes_keyword.__wrapped__(function, name)


class AiolimiterAdapter:
    """An ``aiolimiter.AsyncLimiter`` of your own as the client's rate limiter (one budget).

    Every request attempt of the client takes one unit from ``limiter``, so the client and your
    other code that uses the same ``AsyncLimiter`` share one budget. ``AworkClient(rate_limiter=
    AsyncLimiter(...))`` wraps it in this adapter for you.

    On top of ``limiter``, the adapter keeps this module's server-driven pauses: after a 429 all
    requests wait ``Retry-After`` (else ``RateLimit-Reset``, else ``default_pause``), and a window
    the server reports as (nearly) spent holds requests until it resets (:class:`HoldPolicy`).

    Caveat: an ``AsyncLimiter(n, t)`` is a leaky bucket that starts full, so a fresh one admits up
    to about ``2n`` requests in its first ``t`` seconds, which awork's fixed windows count as over
    the limit (429s, then pauses). ``AsyncLimiter(1, t / n)`` is strictly safe but spaces every
    request evenly; the default :class:`LocalRateLimiter` is exact and allows bursts.

    Args:
        limiter: the ``aiolimiter.AsyncLimiter`` to draw from.
        reserve, default_pause, max_hold: as for :class:`LocalRateLimiter`.
        clock, sleep: time source and sleep for the pauses (inject fakes in tests).
    """

    def __init__(
        self,
        limiter: aiolimiter.AsyncLimiter,
        *,
        reserve: int = DEFAULT_RATE_RESERVE,
        default_pause: float = DEFAULT_RATE_LIMIT_PAUSE,
        max_hold: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Wrap ``limiter``; see the class docstring for the arguments."""
        if not isinstance(limiter, aiolimiter.AsyncLimiter):
            raise TypeError(
                f"AiolimiterAdapter wraps an aiolimiter.AsyncLimiter, got {type(limiter).__name__}"
            )
        self.limiter = limiter
        self.policy = HoldPolicy(reserve=reserve, default_pause=default_pause, max_hold=max_hold)
        self._hold = WindowedAdmission(())
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        limiter = self.limiter
        return (
            f"AiolimiterAdapter(AsyncLimiter(max_rate={limiter.max_rate!r}, "
            f"time_period={limiter.time_period!r}))"
        )

    @property
    def paused_until(self) -> float:
        """Clock time before which no request is admitted (``-inf`` if never paused)."""
        return self._hold.hold_until

    async def acquire(self) -> None:
        """Wait out a pause imposed by the server, then take one unit from the ``AsyncLimiter``."""
        while True:
            wait = self._hold.try_acquire(self._clock())
            if wait <= 0.0:
                break
            await announce_wait(wait)
            await self._sleep(wait)
        await self.limiter.acquire()

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        """Pause all requests after a 429 or when the server reports a (nearly) spent window."""
        info = RateLimitInfo.from_headers(headers) if rate_limit is None else rate_limit
        seconds = self.policy.hold_seconds(status, info)
        if seconds > 0.0:
            _log.debug("rate limit: holding all requests for %.3f s (status %d)", seconds, status)
            self._hold.hold(self._clock(), seconds)

    async def aclose(self) -> None:
        """Nothing to release (the ``AsyncLimiter`` stays usable by its other users)."""
