"""Tests for the Redis-backed rate limiter against a real ``redis-server`` on 127.0.0.1.

Several limiter instances sharing one key stand in for several worker processes. Admission times
are the ones the atomic script used (a fake clock passed to Redis, or Redis's own ``TIME``), so the
window checks count exactly what Redis counted.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import sys
import uuid
from collections.abc import Sequence

import pytest
import redis.asyncio as redis_asyncio

from awork_async._ratelimit import RateLimiter, RateLimits
from awork_async._redis_ratelimit import RedisRateLimiter


class FakeTime:
    """Fake clock whose ``sleep`` moves the clock forward at once (never backwards)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now = max(self.now, self.now + seconds)
        await asyncio.sleep(0)


class RecordingLimiter(RedisRateLimiter):
    """Records the script's own time of every admission."""

    admitted: list[float]

    async def try_acquire(self) -> tuple[bool, float, float]:
        result = await super().try_acquire()
        if result[0]:
            self.admitted.append(result[2])
        return result


def max_in_window(times: Sequence[float], window: float) -> int:
    """Largest number of ``times`` inside any half-open interval ``[a, a + window)``."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, start + window) - i for i, start in enumerate(ordered)),
        default=0,
    )


@pytest.fixture
def key() -> str:
    return f"awork-test:{uuid.uuid4().hex}"


def recording(
    redis_client: redis_asyncio.Redis,
    key: str,
    fake: FakeTime | None,
    admitted: list[float],
    per_second: int = 5,
    per_minute: int = 12,
) -> RecordingLimiter:
    lim = RecordingLimiter(
        redis_client,
        key,
        per_second,
        per_minute,
        window_margin=0.0,
        clock=None if fake is None else fake.clock,
        sleep=asyncio.sleep if fake is None else fake.sleep,
    )
    lim.admitted = admitted
    return lim


async def test_sequential_schedule_is_exact(redis_client: redis_asyncio.Redis, key: str) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    lim = recording(redis_client, key, fake, admitted)
    for _ in range(14):
        await lim.acquire()
    # 5 per second until the minute budget (12) is spent; then the entries from 0 s expire at 60 s.
    assert admitted == [0.0] * 5 + [1.0] * 5 + [2.0] * 2 + [60.0] * 2


async def test_instances_sharing_a_key_stay_within_both_windows(
    redis_client: redis_asyncio.Redis, key: str
) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    workers = [recording(redis_client, key, fake, admitted) for _ in range(4)]
    await asyncio.gather(*(worker.acquire() for worker in workers for _ in range(8)))
    assert len(admitted) == 32
    assert admitted.count(0.0) == 5  # four separate budgets would have let 20 through at once
    assert max_in_window(admitted, 1.0) <= 5
    assert max_in_window(admitted, 60.0) <= 12


async def test_separate_keys_do_not_share(redis_client: redis_asyncio.Redis, key: str) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    first = recording(redis_client, key, fake, admitted)
    second = recording(redis_client, key + ":other", fake, admitted)
    await asyncio.gather(*(lim.acquire() for lim in (first, second) for _ in range(5)))
    assert admitted == [0.0] * 10


async def test_redis_time_is_the_shared_clock(redis_client: redis_asyncio.Redis, key: str) -> None:
    # Real Redis TIME: three instances, 10/s, 13 admissions (the last ones wait about a second).
    admitted: list[float] = []
    workers = [
        recording(redis_client, key, None, admitted, per_second=10, per_minute=1000)
        for _ in range(3)
    ]
    await asyncio.gather(*(workers[i % 3].acquire() for i in range(13)))
    assert len(admitted) == 13
    assert max_in_window(admitted, 1.0) <= 10
    assert max(admitted) - min(admitted) >= 1.0  # the 11th had to wait for the first to expire


async def test_429_on_one_worker_pauses_all(redis_client: redis_asyncio.Redis, key: str) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    first, second = (
        recording(redis_client, key, fake, admitted),
        recording(redis_client, key, fake, admitted),
    )
    await first.acquire()
    first.observe(429, {"Retry-After": "5"})
    await first.flush()
    assert await second.try_acquire() == (False, 5.0, 0.0)
    fake.now = 4.999
    assert await second.try_acquire() == (False, 0.001, 4.999)
    fake.now = 5.0
    assert await second.try_acquire() == (True, 0.0, 5.0)


async def test_429_pauses_concurrent_acquirers_of_every_worker(
    redis_client: redis_asyncio.Redis, key: str
) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    workers = [recording(redis_client, key, fake, admitted, per_second=50) for _ in range(3)]
    await workers[0].acquire()
    workers[0].observe(429, {"Retry-After": "5"})
    await workers[0].flush()
    # Only the other workers, which never saw the 429 themselves, and none of them sleeps first.
    await asyncio.gather(*(worker.acquire() for worker in workers[1:] for _ in range(10)))
    assert len(admitted) == 21
    assert admitted[0] == 0.0
    assert min(admitted[1:]) >= 5.0  # nobody slipped through during the pause


async def test_spent_minute_window_reported_by_headers_pauses_all(
    redis_client: redis_asyncio.Redis, key: str
) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    first, second = (
        recording(redis_client, key, fake, admitted),
        recording(redis_client, key, fake, admitted),
    )
    fake.now = 2.0
    first.observe(200, {"X-RateLimit-Remaining-Minute": "0", "RateLimit-Reset": "30"})
    await first.flush()
    await second.acquire()
    assert admitted == [32.0]


async def test_longer_pause_is_kept(redis_client: redis_asyncio.Redis, key: str) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    first, second = (
        recording(redis_client, key, fake, admitted),
        recording(redis_client, key, fake, admitted),
    )
    first.observe(429, {"Retry-After": "9"})
    second.observe(429, {"Retry-After": "2"})
    await asyncio.gather(first.flush(), second.flush())
    third = recording(redis_client, key, fake, admitted)
    await third.acquire()
    assert admitted == [9.0]


async def test_keys_expire(redis_client: redis_asyncio.Redis, key: str) -> None:
    lim = RedisRateLimiter(redis_client, key, window_margin=0.0)
    await lim.acquire()
    lim.observe(429, {"Retry-After": "3"})
    await lim.flush()
    ttls = [await redis_client.pttl(f"{{{key}}}:{name}") for name in ("second", "minute", "hold")]
    assert 0 < ttls[0] <= 2000
    assert 59_000 < ttls[1] <= 61_000
    assert 0 < ttls[2] <= 4000


async def test_url_creates_and_closes_own_client(redis_url: str, key: str) -> None:
    lim = RedisRateLimiter.from_limits(redis_url, RateLimits.ENTERPRISE, key)
    assert isinstance(lim, RateLimiter)
    assert lim.limits == RateLimits(50, 3000)
    admitted, wait, _ = await lim.try_acquire()
    assert (admitted, wait) == (True, 0.0)
    connections = list(lim._client.connection_pool._available_connections)
    assert [conn.is_connected for conn in connections] == [True]
    await lim.aclose()
    await lim.aclose()  # idempotent
    assert [conn.is_connected for conn in connections] == [False]


async def test_given_client_stays_open(redis_client: redis_asyncio.Redis, key: str) -> None:
    lim = RedisRateLimiter(redis_client, key)
    await lim.acquire()
    await lim.aclose()
    assert await redis_client.ping()


async def test_observe_without_running_loop_publishes_on_next_acquire(
    redis_client: redis_asyncio.Redis, key: str
) -> None:
    fake = FakeTime()
    admitted: list[float] = []
    first, second = (
        recording(redis_client, key, fake, admitted),
        recording(redis_client, key, fake, admitted),
    )
    # A sync caller: no loop is running inside to_thread, so nothing is scheduled there.
    await asyncio.to_thread(first.observe, 429, {"Retry-After": "4"})
    assert first._publisher is None
    await first.flush()
    await second.acquire()
    assert admitted == [4.0]


def test_missing_redis_package_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"awork-async\[redis\]"):
        RedisRateLimiter("redis://127.0.0.1:1/0")


async def test_unreachable_redis_is_a_typed_error() -> None:
    import socket

    from awork_async import RateLimiterUnavailableError

    with socket.socket() as probe:  # a free port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", key="awork:unreachable")
    try:
        with pytest.raises(RateLimiterUnavailableError, match="no request was sent"):
            await limiter.acquire()
    finally:
        await limiter.aclose()


# --- Cancellation stress: waiting callers cancelled at every kind of point -------------------------


class InFlight:
    """Client whose connections report when a reply is awaited (a command is on the wire)."""

    def __init__(self, url: str) -> None:
        self.event = asyncio.Event()
        event = self.event

        class Connection(redis_asyncio.Connection):
            async def read_response(self, *args: object, **kwargs: object) -> object:
                event.set()
                return await super().read_response(*args, **kwargs)  # type: ignore[arg-type]

        self.pool = redis_asyncio.ConnectionPool.from_url(url, connection_class=Connection)
        self.client = redis_asyncio.Redis(connection_pool=self.pool)

    async def next_read(self, tasks: Sequence[asyncio.Task[None]]) -> None:
        """Return once a new reply is awaited or one of ``tasks`` ends (event-driven)."""
        running = [task for task in tasks if not task.done()]
        if not running:
            return
        self.event.clear()
        waiter = asyncio.create_task(self.event.wait())
        watched = [waiter, *running]
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def check_clean(self, marker: str) -> None:
        """No connection is leaked or holds an unread reply; replies still match commands."""
        assert not self.pool._in_use_connections
        for conn in list(self.pool._available_connections):
            if conn.is_connected:
                assert not await conn.can_read()
        replies = await asyncio.gather(*(self.client.echo(f"{marker}:{i}") for i in range(4)))
        assert replies == [f"{marker}:{i}".encode() for i in range(4)]


async def _settle(tasks: Sequence[asyncio.Task[None]]) -> tuple[int, int]:
    """Wait for ``tasks``; return (admitted, cancelled). Any other outcome fails."""
    done = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in done:
        assert outcome is None or isinstance(outcome, asyncio.CancelledError), outcome
    admitted = sum(outcome is None for outcome in done)
    return admitted, len(done) - admitted


@pytest.mark.parametrize("seed", range(3))
async def test_cancelled_acquirers_never_wedge_the_limiter(redis_url: str, seed: int) -> None:
    rng = random.Random(seed)
    redis_side = InFlight(redis_url)
    try:
        for iteration in range(25):
            key = f"awork-test:{uuid.uuid4().hex}"
            fake = FakeTime()
            lim = RedisRateLimiter(
                redis_side.client,
                key,
                3,
                1000,
                window_margin=0.0,
                clock=fake.clock,
                sleep=fake.sleep,
            )
            tasks = [asyncio.create_task(lim.acquire()) for _ in range(rng.randint(2, 12))]
            if rng.random() < 0.3:
                lim.observe(429, {"Retry-After": "1"})  # a publisher task in flight too
            if iteration % 2:
                # Cancel while a script (or the connection handshake) awaits its reply.
                for _ in range(rng.randint(1, 6)):
                    await redis_side.next_read(tasks)
            else:
                for _ in range(rng.randint(0, 40)):
                    await asyncio.sleep(0)  # let the acquirers run a few steps, no wall time
            victims = [task for task in tasks if rng.random() < 0.7]
            for task in victims:
                task.cancel()
            admitted, cancelled = await _settle(tasks)
            assert admitted + cancelled == len(tasks)

            # The limiter still admits, its lock is free, and Redis counted every admission:
            # a caller cancelled after its script ran may have used one slot, never more.
            await lim.acquire()
            assert not lim._lock.locked()
            counted = await redis_side.client.zcard(f"{{{key}}}:minute")
            assert admitted + 1 <= counted <= admitted + 1 + cancelled
            await lim.aclose()
            assert lim._publisher is None or lim._publisher.done()
            await redis_side.check_clean(f"{seed}:{iteration}")
    finally:
        await redis_side.client.aclose()
        await redis_side.pool.aclose()


@pytest.mark.parametrize("cancel_all", [False, True])
async def test_aclose_with_pending_acquirers_and_publisher(
    redis_url: str, key: str, cancel_all: bool
) -> None:
    # The benchmark's shutdown: callers are cancelled mid-acquire, then the limiter is closed.
    redis_side = InFlight(redis_url)
    fake = FakeTime()
    lim = RedisRateLimiter(
        redis_side.client, key, 2, 1000, window_margin=0.0, clock=fake.clock, sleep=fake.sleep
    )
    try:
        tasks = [asyncio.create_task(lim.acquire()) for _ in range(8)]
        await redis_side.next_read(tasks)
        assert not any(task.done() for task in tasks)  # 2/s: most are still waiting
        lim.observe(429, {"Retry-After": "7"})
        publisher = lim._publisher
        assert publisher is not None
        for task in tasks if cancel_all else tasks[::2]:
            task.cancel()
        closing = asyncio.create_task(lim.aclose())
        await _settle(tasks)
        await closing
        assert publisher.done()
        # The pause observed before closing reached Redis although its callers were cancelled.
        assert await redis_side.client.pttl(f"{{{key}}}:hold") > 0
        await redis_side.check_clean("after-aclose")
    finally:
        await redis_side.client.aclose()
        await redis_side.pool.aclose()


async def test_aclose_cancelled_mid_flush_still_closes_own_client(redis_url: str, key: str) -> None:
    lim = RedisRateLimiter(redis_url, key)
    await lim.acquire()
    connections = list(lim._client.connection_pool._available_connections)
    lim.observe(429, {"Retry-After": "3"})
    closing = asyncio.create_task(lim.aclose())
    await asyncio.sleep(0)  # aclose() is now inside flush()
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    await lim.aclose()
    assert [conn.is_connected for conn in connections] == [False]


async def test_waits_are_announced_to_the_wait_listener(
    redis_client: redis_asyncio.Redis, key: str
) -> None:
    from awork_async._ratelimit import wait_listener

    fake = FakeTime()
    admitted: list[float] = []
    lim = recording(redis_client, key, fake, admitted, per_second=2, per_minute=100)
    heard: list[float] = []

    async def listener(seconds: float) -> None:
        heard.append(seconds)

    with wait_listener(listener):
        for _ in range(3):
            await lim.acquire()
    assert admitted == [0.0, 0.0, 1.0]
    assert heard == [1.0]  # the third waited for the second window, and said so first
