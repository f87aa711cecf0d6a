"""Rate limiter shared by several processes or machines through Redis (optional extra ``redis``).

awork counts its limits per workspace, across every client. When several worker processes use one
workspace, a per-process :class:`~awork_async._ratelimit.LocalRateLimiter` lets each of them use the
full budget. :class:`RedisRateLimiter` keeps the windows in Redis instead: every admission runs one
Lua script, which Redis executes atomically, implementing the same sliding log as the local limiter
(one sorted set per window, scored by admission time). The script reads the time from Redis's
``TIME``, so the clocks of the workers do not matter. A 429 or a (nearly) spent window seen by any
worker is published as a deadline key that every worker's next admission honours.

Install with ``pip install 'awork-async[redis]'``; ``redis.asyncio`` is imported only when a
:class:`RedisRateLimiter` is created.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from awork_async._constants import (
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_RATE_LIMIT_PAUSE,
    DEFAULT_RATE_PER_MINUTE,
    DEFAULT_RATE_PER_SECOND,
    DEFAULT_RATE_RESERVE,
    DEFAULT_RATE_WINDOW_MARGIN,
    DEFAULT_REDIS_RATE_KEY,
    LOGGER_NAME,
    RATE_MINUTE_WINDOW,
    RATE_SECOND_WINDOW,
)
from awork_async._exceptions import RateLimiterUnavailableError
from awork_async._ratelimit import Clock, HoldPolicy, RateLimits, Sleep, announce_wait
from awork_async._ratelimit_headers import RateLimitInfo

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ACQUIRE_SCRIPT", "HOLD_SCRIPT", "RedisRateLimiter"]

_log = logging.getLogger(LOGGER_NAME)

_MICROS = 1_000_000
#: Shortest pause between two admission attempts, so a rounding error cannot busy-loop Redis.
_MIN_POLL = 0.001

_NOW_LUA = """
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""

#: KEYS: per-second log, per-minute log, hold deadline.
#: ARGV: now in µs or '' for Redis TIME, member id, per-second limit, per-minute limit,
#: per-second window µs, per-minute window µs.
#: Returns {admitted (0/1), wait µs, now µs}.
ACQUIRE_SCRIPT = (
    """
if redis.replicate_commands then pcall(redis.replicate_commands) end
"""
    + _NOW_LUA
    + """
local wait = 0
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if hold > now then wait = hold - now end
local limits = {tonumber(ARGV[3]), tonumber(ARGV[4])}
local windows = {tonumber(ARGV[5]), tonumber(ARGV[6])}
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - windows[i])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limits[i] then
    local idx = count - limits[i]
    local entry = redis.call('ZRANGE', KEYS[i], idx, idx, 'WITHSCORES')
    local w = tonumber(entry[2]) + windows[i] - now
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {0, math.ceil(wait), now}
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], math.ceil(windows[i] / 1000) + 1000)
end
return {1, 0, now}
"""
)

#: KEYS: hold deadline. ARGV: now in µs or '' for Redis TIME, pause in µs.
#: Sets the deadline to now + pause unless a later one is already set; returns the deadline.
HOLD_SCRIPT = (
    """
if redis.replicate_commands then pcall(redis.replicate_commands) end
"""
    + _NOW_LUA
    + """
local pause = tonumber(ARGV[2])
local deadline = now + pause
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if deadline > current then
  redis.call('SET', KEYS[1], string.format('%d', deadline), 'PX', math.ceil(pause / 1000) + 1000)
  return deadline
end
return current
"""
)


class RedisRateLimiter:
    """Limiter whose windows and pauses live in Redis, shared by every process using ``key``.

    All processes of one workspace must use the same ``key`` and limits. Within a process, waiting
    acquirers are served first come, first served; across processes no order is promised, only that
    together they stay within both windows.

    Args:
        redis_url_or_client: a ``redis://`` URL (the limiter creates and closes its own client) or a
            ``redis.asyncio.Redis`` client (left open by :meth:`aclose`).
        key: prefix of the Redis keys, e.g. ``"awork:<workspace>"``; the keys use a
            ``{hash tag}`` so they live in one Redis Cluster slot.
        per_second: requests per second (default 50).
        per_minute: requests per minute (default 1000, 3000 on Enterprise).
        reserve, window_margin, default_pause, max_hold: as for
            :class:`~awork_async._ratelimit.LocalRateLimiter`.
        clock: ``None`` (default) to use Redis's ``TIME`` for the shared windows; a time source
            in seconds to use instead (tests, or hosts with synchronised clocks). Local pauses use
            it too, else ``time.monotonic``.
        sleep: coroutine function that waits the given seconds (inject a fake one in tests).

    Raises:
        ImportError: when the ``redis`` package is not installed.
    """

    def __init__(
        self,
        redis_url_or_client: str | Redis,
        key: str = DEFAULT_REDIS_RATE_KEY,
        per_second: int = DEFAULT_RATE_PER_SECOND,
        per_minute: int = DEFAULT_RATE_PER_MINUTE,
        *,
        reserve: int = DEFAULT_RATE_RESERVE,
        window_margin: float = DEFAULT_RATE_WINDOW_MARGIN,
        default_pause: float = DEFAULT_RATE_LIMIT_PAUSE,
        max_hold: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Create a limiter; see the class docstring for the arguments."""
        try:
            from redis.asyncio import from_url
        except ImportError as exc:
            raise ImportError(
                "RedisRateLimiter needs the 'redis' package: pip install 'awork-async[redis]'"
            ) from exc
        if window_margin < 0:
            raise ValueError("window_margin must not be negative")
        self.limits = RateLimits(per_second, per_minute)
        self.policy = HoldPolicy(reserve=reserve, default_pause=default_pause, max_hold=max_hold)
        self.key = key
        if isinstance(redis_url_or_client, str):
            self._client: Redis = from_url(redis_url_or_client)
            self._owns_client = True
        else:
            self._client = redis_url_or_client
            self._owns_client = False
        tag = f"{{{key}}}"
        self._keys = (f"{tag}:second", f"{tag}:minute", f"{tag}:hold")
        self._windows_us = (
            round((RATE_SECOND_WINDOW + window_margin) * _MICROS),
            round((RATE_MINUTE_WINDOW + window_margin) * _MICROS),
        )
        self._clock = clock
        self._local_clock: Clock = clock if clock is not None else time.monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._acquire_script = self._client.register_script(ACQUIRE_SCRIPT)
        self._hold_script = self._client.register_script(HOLD_SCRIPT)
        self._local_hold_until = -math.inf
        self._pending_hold = 0.0
        self._publisher: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_limits(
        cls,
        redis_url_or_client: str | Redis,
        limits: RateLimits,
        key: str = DEFAULT_REDIS_RATE_KEY,
        *,
        reserve: int = DEFAULT_RATE_RESERVE,
        window_margin: float = DEFAULT_RATE_WINDOW_MARGIN,
        default_pause: float = DEFAULT_RATE_LIMIT_PAUSE,
        max_hold: float = DEFAULT_MAX_RETRY_WAIT,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> RedisRateLimiter:
        """Create a limiter from a :class:`RateLimits` value such as ``RateLimits.ENTERPRISE``."""
        return cls(
            redis_url_or_client,
            key,
            limits.per_second,
            limits.per_minute,
            reserve=reserve,
            window_margin=window_margin,
            default_pause=default_pause,
            max_hold=max_hold,
            clock=clock,
            sleep=sleep,
        )

    def _now_arg(self) -> str:
        if self._clock is None:
            return ""
        return str(round(self._clock() * _MICROS))

    async def try_acquire(self) -> tuple[bool, float, float]:
        """Run one atomic admission attempt in Redis, without waiting.

        Returns ``(admitted, wait_seconds, server_time_seconds)``: on admission the request is
        counted; otherwise ``wait_seconds`` says when to try again. Local pauses are not checked.
        """
        result = await self._acquire_script(
            keys=list(self._keys),
            args=[
                self._now_arg(),
                uuid.uuid4().hex,
                self.limits.per_second,
                self.limits.per_minute,
                *self._windows_us,
            ],
        )
        admitted, wait_us, now_us = (int(value) for value in result)
        return admitted == 1, wait_us / _MICROS, now_us / _MICROS

    async def acquire(self) -> None:
        """Wait until the shared windows and all pauses allow one more request, then count it.

        Raises :class:`RateLimiterUnavailableError` when Redis cannot be reached.
        """
        from redis.exceptions import RedisError

        try:
            await self._acquire()
        except RedisError as exc:
            raise RateLimiterUnavailableError(
                f"the shared rate limiter cannot reach Redis ({type(exc).__name__}: {exc}); "
                "no request was sent"
            ) from exc

    async def _acquire(self) -> None:
        async with self._lock:
            while True:
                local_wait = self._local_hold_until - self._local_clock()
                if local_wait > 0.0:
                    await announce_wait(local_wait)
                    await self._sleep(local_wait)
                    continue
                await self.flush()
                admitted, wait, _ = await self.try_acquire()
                if admitted:
                    return
                wait = max(wait, _MIN_POLL)
                await announce_wait(wait)
                await self._sleep(wait)

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        """Pause all requests, here at once and in every process via Redis, if the response asks.

        The pause is published to Redis by a background task; :meth:`flush` waits for it.
        """
        info = RateLimitInfo.from_headers(headers) if rate_limit is None else rate_limit
        seconds = self.policy.hold_seconds(status, info)
        if seconds <= 0.0:
            return
        _log.debug("rate limit: holding all requests for %.3f s (status %d)", seconds, status)
        self._local_hold_until = max(self._local_hold_until, self._local_clock() + seconds)
        self._pending_hold = max(self._pending_hold, seconds)
        if self._publisher is None or self._publisher.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # published by the next acquire() or flush()
            self._publisher = loop.create_task(self._publish_quietly())

    async def _publish(self) -> None:
        while self._pending_hold > 0.0:
            seconds, self._pending_hold = self._pending_hold, 0.0
            try:
                await self._hold_script(
                    keys=[self._keys[2]], args=[self._now_arg(), round(seconds * _MICROS)]
                )
            except BaseException:
                self._pending_hold = max(self._pending_hold, seconds)
                raise

    async def _publish_quietly(self) -> None:
        try:
            await self._publish()
        except Exception as exc:  # a later acquire() retries and surfaces the error
            _log.warning("rate limit: could not publish pause to Redis: %r", exc)

    async def flush(self) -> None:
        """Wait until every pause observed so far has been published to Redis."""
        publisher = self._publisher
        if publisher is not None and not publisher.done():
            await asyncio.shield(publisher)
        await self._publish()

    async def aclose(self) -> None:
        """Publish pending pauses (best effort) and close the client if this limiter created it."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        except Exception as exc:
            _log.warning("rate limit: could not publish pause to Redis: %r", exc)
        finally:
            if self._owns_client:
                await self._client.aclose()
