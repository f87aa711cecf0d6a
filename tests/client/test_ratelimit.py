"""Tests for the local rate limiter, its pure core and the hold policy (notes §4).

All timing runs on a fake clock: ``FakeTime.sleep`` either advances the clock at once (auto mode)
or parks the sleeper until the test wakes it (manual mode). No test waits on wall time.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Coroutine, Mapping, Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awork_async._ratelimit import (
    HoldPolicy,
    LocalRateLimiter,
    NoRateLimiter,
    RateLimiter,
    RateLimits,
    SlidingWindowLog,
    WindowedAdmission,
)
from awork_async._ratelimit_headers import RateLimitInfo

# --------------------------------------------------------------------------- helpers


class FakeTime:
    """A fake monotonic clock with an injectable ``sleep``."""

    def __init__(self, *, auto: bool = True) -> None:
        self.now = 0.0
        self.auto = auto
        self.sleeps: list[float] = []
        self._parked: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self.now + seconds
        if self.auto:
            self.now = max(self.now, target)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked.put_nowait((target, future))
        await future

    async def next_sleeper(self) -> tuple[float, asyncio.Future[None]]:
        """Wait until some coroutine sleeps; return its wake-up time and future."""
        return await self._parked.get()

    def wake(self, sleeper: tuple[float, asyncio.Future[None]]) -> None:
        target, future = sleeper
        self.now = max(self.now, target)
        future.set_result(None)


def max_in_window(times: Sequence[float], window: float) -> int:
    """Largest number of ``times`` inside any half-open interval ``[a, a + window)``."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + window) - i)
    return best


def limiter(
    fake: FakeTime, per_second: int = 50, per_minute: int = 1000, **kwargs: float
) -> LocalRateLimiter:
    return LocalRateLimiter(
        per_second,
        per_minute,
        window_margin=kwargs.pop("window_margin", 0.0),
        reserve=int(kwargs.pop("reserve", 1)),
        clock=fake.clock,
        sleep=fake.sleep,
        **kwargs,
    )


async def admit_all(lim: RateLimiter, fake: FakeTime, count: int) -> list[float]:
    """Start ``count`` concurrent acquirers; return their admission times in admission order."""
    times: list[float] = []

    async def one() -> None:
        await lim.acquire()
        times.append(fake.now)

    await asyncio.gather(*(one() for _ in range(count)))
    return times


# --------------------------------------------------------------------------- RateLimits


def test_presets() -> None:
    assert RateLimits(50, 1000) == RateLimits.STANDARD
    assert RateLimits(50, 3000) == RateLimits.ENTERPRISE
    assert RateLimits() == RateLimits.STANDARD


@pytest.mark.parametrize(("per_second", "per_minute"), [(0, 1000), (50, -1), (True, 10)])
def test_limits_must_be_positive_ints(per_second: int, per_minute: int) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        RateLimits(per_second, per_minute)


def test_limits_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RateLimits.STANDARD.per_minute = 5  # type: ignore[misc]


def test_from_limits_uses_preset() -> None:
    lim = LocalRateLimiter.from_limits(RateLimits.ENTERPRISE)
    assert lim.limits == RateLimits(50, 3000)


def test_negative_margin_rejected() -> None:
    with pytest.raises(ValueError, match="window_margin"):
        LocalRateLimiter(window_margin=-0.1)


def test_all_limiters_satisfy_protocol() -> None:
    assert isinstance(LocalRateLimiter(), RateLimiter)
    assert isinstance(NoRateLimiter(), RateLimiter)


# --------------------------------------------------------------------------- pure core


def test_sliding_window_log_wait_and_expiry() -> None:
    log = SlidingWindowLog(2, 1.0)
    assert log.wait_time(0.0) == 0.0
    log.record(0.0)
    log.record(0.4)
    assert log.wait_time(0.5) == pytest.approx(0.5)
    assert log.wait_time(1.0) == 0.0  # the entry at 0.0 leaves at exactly 1.0
    assert len(log) == 1


def test_sliding_window_log_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlidingWindowLog(0, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=1, max_size=60),
    limits=st.tuples(st.integers(1, 5), st.integers(1, 12)),
    windows=st.tuples(st.floats(0.5, 2.0), st.floats(2.0, 10.0)),
)
def test_core_never_exceeds_and_never_waits_needlessly(
    gaps: list[float], limits: tuple[int, int], windows: tuple[float, float]
) -> None:
    core = WindowedAdmission(
        (SlidingWindowLog(limits[0], windows[0]), SlidingWindowLog(limits[1], windows[1]))
    )
    arrival = 0.0
    admitted: list[float] = []
    for gap in gaps:
        arrival = max(arrival + gap, admitted[-1] if admitted else 0.0)
        now = arrival
        while (wait := core.try_acquire(now)) > 0:
            now += wait
        admitted.append(now)
        # Greedy: a delayed admission happens exactly when an earlier one leaves a window.
        if now > arrival:
            assert any(
                math.isclose(now, earlier + window, abs_tol=1e-6)
                for earlier in admitted[:-1]
                for window in windows
            )
    for limit, window in zip(limits, windows, strict=True):
        assert max_in_window(admitted, window - 1e-6) <= limit


def test_hold_blocks_until_deadline_and_keeps_longest() -> None:
    core = WindowedAdmission((SlidingWindowLog(10, 1.0),))
    core.hold(0.0, 5.0)
    core.hold(1.0, 2.0)  # shorter: ignored
    assert core.try_acquire(1.0) == pytest.approx(4.0)
    assert core.try_acquire(5.0) == 0.0


# --------------------------------------------------------------------------- hold policy

POLICY = HoldPolicy(reserve=1, default_pause=1.0, max_hold=120.0)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {}, 1.0),
        (429, {"Retry-After": "4"}, 4.0),
        (429, {"RateLimit-Reset": "9"}, 9.0),
        (429, {"Retry-After": "2", "RateLimit-Reset": "9"}, 2.0),
        (429, {"Retry-After": "3600"}, 1.0),  # implausible: ignored, the default pause
        (429, {"Retry-After": "1e12", "RateLimit-Reset": "1e308"}, 1.0),
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "1e308"}, 0.0),
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "nan"}, 0.0),
        (200, {}, 0.0),
        (200, {"X-RateLimit-Remaining-Second": "2"}, 0.0),
        (200, {"X-RateLimit-Remaining-Second": "1"}, 1.0),
        (
            200,
            {
                "X-RateLimit-Remaining-Second": "0",
                "X-RateLimit-Limit-Second": "50",
                "RateLimit-Limit": "50",
                "RateLimit-Reset": "0.25",
            },
            0.25,
        ),
        (
            200,
            {
                "X-RateLimit-Remaining-Second": "0",
                "X-RateLimit-Limit-Second": "50",
                "RateLimit-Limit": "1000",
                "RateLimit-Reset": "0.25",
            },
            1.0,
        ),
        (
            200,
            {
                "X-RateLimit-Remaining-Second": "0",
                "X-RateLimit-Limit-Second": "50",
                "RateLimit-Limit": "50",
                "RateLimit-Reset": "47",
            },
            1.0,
        ),
        (200, {"X-RateLimit-Remaining-Minute": "0"}, 60.0),
        (200, {"X-RateLimit-Remaining-Minute": "1", "RateLimit-Reset": "17"}, 17.0),
        (200, {"X-RateLimit-Remaining-Minute": "0", "RateLimit-Reset": "500"}, 60.0),
        (200, {"X-RateLimit-Remaining-Minute": "5", "RateLimit-Reset": "17"}, 0.0),
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "3"}, 3.0),
        (200, {"RateLimit-Remaining": "0"}, 0.0),
        (
            200,
            {
                "X-RateLimit-Remaining-Second": "0",
                "X-RateLimit-Remaining-Minute": "0",
                "RateLimit-Reset": "30",
            },
            30.0,
        ),
        (503, {"Retry-After": "10"}, 0.0),
    ],
)
def test_hold_policy(status: int, headers: Mapping[str, str], expected: float) -> None:
    assert POLICY.hold_seconds(status, RateLimitInfo.from_headers(headers)) == expected


# --------------------------------------------------------------------------- LocalRateLimiter


async def test_full_rate_and_both_windows_hold() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    times = await admit_all(lim, fake, 1120)
    # Bursts of 50 every second until the minute budget (1000) is spent, then the next minute.
    expected = [float(second) for second in range(20) for _ in range(50)]
    expected += [60.0] * 50 + [61.0] * 50 + [62.0] * 50
    assert times == expected[:1120]
    assert max_in_window(times, 1.0) == 50
    assert max_in_window(times, 60.0) == 1000


async def test_enterprise_minute_budget() -> None:
    fake = FakeTime()
    lim = LocalRateLimiter.from_limits(
        RateLimits.ENTERPRISE, window_margin=0.0, clock=fake.clock, sleep=fake.sleep
    )
    times = await admit_all(lim, fake, 3050)
    assert times[2999] == 59.0
    assert times[3000] == 60.0
    assert max_in_window(times, 60.0) == 3000
    assert max_in_window(times, 1.0) == 50


async def test_window_margin_widens_windows() -> None:
    fake = FakeTime()
    lim = limiter(fake, per_second=2, per_minute=100, window_margin=0.25)
    times = await admit_all(lim, fake, 5)
    assert times == [0.0, 0.0, 1.25, 1.25, 2.5]


async def test_default_margin_absorbs_a_busy_loop_between_admission_and_count() -> None:
    # The server counts a request up to tens of ms after the limiter admitted it (a page being
    # decoded on the loop, network jitter): 0.02 s let the bench run into 429s, 0.1 s did not.
    fake = FakeTime()
    lim = LocalRateLimiter(2, 100, clock=fake.clock, sleep=fake.sleep)
    times = await admit_all(lim, fake, 3)
    assert times == [0.0, 0.0, pytest.approx(1.1)]


async def test_sliding_not_fixed_windows() -> None:
    fake = FakeTime()
    lim = limiter(fake, per_second=3, per_minute=100)
    times: list[float] = []
    for start in (0.0, 0.9, 0.9, 1.0, 1.0, 1.0):
        fake.now = max(fake.now, start)
        await lim.acquire()
        times.append(fake.now)
    # A fixed-window counter would admit the three at 1.0 at once; any 1 s interval holds <= 3.
    assert times == [0.0, 0.9, 0.9, 1.0, 1.9, 1.9]
    assert max_in_window(times, 1.0) == 3


async def test_adaptive_hold_on_spent_minute_window() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    await lim.acquire()
    fake.now = 5.0
    lim.observe(200, {"x-ratelimit-remaining-minute": "0", "ratelimit-reset": "30"})
    assert lim.paused_until == 35.0
    times = await admit_all(lim, fake, 3)
    assert times == [35.0, 35.0, 35.0]


async def test_adaptive_hold_on_spent_second_window() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    fake.now = 2.5
    lim.observe(200, {"x-ratelimit-remaining-second": "1"})
    assert await admit_all(lim, fake, 2) == [3.5, 3.5]


async def test_spent_window_explained_by_own_requests_does_not_hold() -> None:
    fake = FakeTime()
    lim = limiter(fake, per_second=5, per_minute=100)
    assert await admit_all(lim, fake, 5) == [0.0] * 5
    # The server saw exactly this limiter's five requests: its own log already blocks the sixth.
    lim.observe(200, {"x-ratelimit-limit-second": "5", "x-ratelimit-remaining-second": "0"})
    assert lim.paused_until == float("-inf")
    assert await admit_all(lim, fake, 1) == [1.0]


async def test_spent_window_used_by_other_clients_holds() -> None:
    fake = FakeTime()
    lim = limiter(fake, per_second=5, per_minute=100)
    await lim.acquire()
    # Only one request is ours; the server counts five: other clients share the budget.
    lim.observe(200, {"x-ratelimit-limit-second": "5", "x-ratelimit-remaining-second": "0"})
    assert lim.paused_until == 1.0
    fake.now = 0.2
    lim.observe(200, {"x-ratelimit-limit-minute": "100", "x-ratelimit-remaining-minute": "0"})
    assert lim.paused_until == pytest.approx(60.2)


async def test_plenty_remaining_does_not_hold() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    lim.observe(200, {"x-ratelimit-remaining-second": "40", "x-ratelimit-remaining-minute": "900"})
    lim.observe(204, {})
    assert await admit_all(lim, fake, 3) == [0.0, 0.0, 0.0]
    assert fake.sleeps == []


async def test_429_gates_every_pending_acquirer() -> None:
    fake = FakeTime(auto=False)
    lim = limiter(fake, per_second=5, per_minute=100)
    times: list[float] = []

    async def one() -> None:
        await lim.acquire()
        times.append(fake.now)

    tasks = [asyncio.create_task(one()) for _ in range(30)]
    first = await fake.next_sleeper()  # five admitted at 0, the sixth waits for the window
    assert first[0] == 1.0
    assert times == [0.0] * 5
    lim.observe(429, {"Retry-After": "7"})
    fake.wake(first)
    second = await fake.next_sleeper()  # woken at 1.0, the waiter now honours the gate
    assert second[0] == 7.0
    assert times == [0.0] * 5
    assert len(fake.sleeps) == 2  # one waiter at a time: no herd of sleepers or retries
    fake.auto = True
    fake.wake(second)
    await asyncio.gather(*tasks)
    assert times[5:] == [7.0] * 5 + [8.0] * 5 + [9.0] * 5 + [10.0] * 5 + [11.0] * 5
    assert max_in_window(times, 1.0) == 5


async def test_429_without_headers_pauses_default_second() -> None:
    fake = FakeTime()
    lim = limiter(fake, default_pause=1.0)
    fake.now = 10.0
    lim.observe(429, {})
    assert await admit_all(lim, fake, 2) == [11.0, 11.0]


async def test_429_falls_back_to_ratelimit_reset() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    lim.observe(429, {"RateLimit-Reset": "12"})
    assert await admit_all(lim, fake, 1) == [12.0]


async def test_hold_is_capped() -> None:
    fake = FakeTime()
    lim = limiter(fake, max_hold=30.0)
    lim.observe(429, {"Retry-After": "60"})
    assert await admit_all(lim, fake, 1) == [30.0]


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "1e308"}),
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "-5"}),
        (200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "inf"}),
        (429, {"Retry-After": "1e12"}),
        (429, {"Retry-After": "nan", "RateLimit-Reset": "1e308"}),
    ],
)
async def test_one_bogus_answer_does_not_hold_later_calls(
    status: int, headers: Mapping[str, str]
) -> None:
    fake = FakeTime()
    lim = limiter(fake, default_pause=1.0, max_hold=120.0)
    lim.observe(status, headers)
    # At most the default pause after a 429 (the bogus wait is noise), never max_hold.
    expected = 1.0 if status == 429 else 0.0
    assert await admit_all(lim, fake, 1) == [expected]


@attrs.define
class FixedWindowServer:
    """A fake awork: fixed one-second windows of ``limit`` requests, optional headers."""

    limit: int
    send_remaining: bool
    counts: dict[int, int] = attrs.field(factory=dict)
    rejected: list[float] = attrs.field(factory=list)

    def handle(self, now: float) -> tuple[int, dict[str, str]]:
        window = math.floor(now)
        used = self.counts.get(window, 0)
        reset = f"{window + 1 - now:.6f}"
        if used >= self.limit:
            self.rejected.append(now)
            return 429, {"Retry-After": reset}
        self.counts[window] = used + 1
        if not self.send_remaining:
            return 200, {}
        return 200, {"X-RateLimit-Remaining-Second": str(self.limit - used - 1)}


async def run_clients(lim: LocalRateLimiter, fake: FakeTime, server: FixedWindowServer) -> int:
    """200 concurrent requests, each retried after a 429 until it succeeds; returns successes."""
    done = 0

    async def request() -> None:
        nonlocal done
        while True:
            await lim.acquire()
            status, headers = server.handle(fake.now)
            lim.observe(status, headers)
            if status == 200:
                done += 1
                return

    await asyncio.gather(*(request() for _ in range(200)))
    return done


async def test_one_429_per_window_not_a_storm() -> None:
    # Other clients of the workspace use most of the budget: the server lets 10/s through.
    fake = FakeTime()
    lim = limiter(fake)
    server = FixedWindowServer(limit=10, send_remaining=False)
    assert await run_clients(lim, fake, server) == 200
    windows_hit = {math.floor(t) for t in server.rejected}
    assert len(server.rejected) == len(windows_hit)  # at most one 429 per server window
    assert len(server.rejected) <= 20


async def test_adaptive_headers_avoid_429() -> None:
    fake = FakeTime()
    lim = limiter(fake, reserve=0)
    server = FixedWindowServer(limit=10, send_remaining=True)
    assert await run_clients(lim, fake, server) == 200
    assert server.rejected == []
    assert max(server.counts.values()) == 10


async def test_cancelled_waiter_frees_its_turn() -> None:
    fake = FakeTime(auto=False)
    lim = limiter(fake, per_second=1, per_minute=100)
    await lim.acquire()
    waiter = asyncio.create_task(lim.acquire())
    sleeper = await fake.next_sleeper()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    fake.now = sleeper[0]
    assert _completes_without_suspending(lim.acquire())  # the lock was released, the slot is free
    assert fake.now == 1.0


def _completes_without_suspending(awaitable: Coroutine[object, None, None]) -> bool:
    """Whether the coroutine finishes on its first step (it never waited for anything)."""
    try:
        awaitable.send(None)
    except StopIteration:
        return True
    awaitable.close()
    return False


async def test_aclose_is_harmless() -> None:
    fake = FakeTime()
    lim = limiter(fake, per_second=2)
    await lim.aclose()
    assert _completes_without_suspending(lim.acquire())  # still admits...
    assert _completes_without_suspending(lim.acquire())
    assert not _completes_without_suspending(lim.acquire())  # ...and still counts
    assert fake.sleeps == [1.0]


async def test_no_rate_limiter_never_waits() -> None:
    lim = NoRateLimiter()
    lim.observe(429, {"Retry-After": "60"})
    assert all(_completes_without_suspending(lim.acquire()) for _ in range(1000))
    assert _completes_without_suspending(lim.aclose())
