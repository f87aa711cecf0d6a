"""End to end under faults: the client against the sandbox with injected failures (issue 5).

* Exports survive 10 % faults of every kind at once and yield every entry exactly once.
* No write is ever doubled: a POST is retried only when the server provably did not process it.
* Rate limits: the client's limiter keeps under the sandbox's windows (zero 429s), and a 429
  closes one gate for every concurrent caller.
* Cancellation leaves no task behind; read timeouts and the per-call deadline are enforced.

Backoff waits never take real time (an injected ``sleep``); the rate-limit tests run on a virtual
clock shared by the client's limiter and the sandbox, advanced only while nothing is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import pytest
from _helpers import no_sleep

from awork_async import (
    APIConnectionError,
    APITimeoutError,
    AworkClient,
    AworkError,
    Hooks,
    LocalRateLimiter,
    NoRateLimiter,
    OutcomeUnknownError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from awork_async.models import TimeEntryCreate, TimeEntryUpdate
from awork_async.sandbox import FaultConfig, RateLimitConfig, Sandbox

UTC = dt.timezone.utc
ENTRIES = 400

#: Every fault kind at 10 % at once; slow responses only wait a few milliseconds.
ALL_FAULTS: Mapping[str, Any] = {
    "rate_limit_rate": 0.1,
    "error_rate": 0.1,
    "error_statuses": (500, 502, 503),
    "drop_rate": 0.1,
    "slow_rate": 0.1,
    "slow_delay": 0.005,
    "truncate_rate": 0.1,
}


def patient_retry() -> RetryPolicy:
    """Enough attempts that 10 % faults cannot exhaust them (0.5**20 per call)."""
    return RetryPolicy(max_attempts=20, random=lambda: 0.0)


def make_client(sb: Sandbox, **kwargs: Any) -> AworkClient:
    options: dict[str, Any] = {
        "token": sb.token,
        "base_url": sb.base_url,
        "rate_limiter": NoRateLimiter(),
        "retry": patient_retry(),
        "sleep": no_sleep,
    }
    options.update(kwargs)
    return AworkClient(**options)


def a_type_of_work(sb: Sandbox) -> str:
    return next(t for t, v in sb.store.types_of_work.items() if not v.get("isArchived"))


def entry_form(sb: Sandbox, note: str, minute: int = 0) -> TimeEntryCreate:
    start = dt.datetime(2025, 2, 3, 9, minute % 60, tzinfo=UTC)
    return TimeEntryCreate.from_span(
        start=start,
        end=start + dt.timedelta(minutes=45),
        timezone="UTC",
        type_of_work_id=a_type_of_work(sb),
        user_id=sb.store.me_id,
        note=note,
    )


def notes_in_store(sb: Sandbox, prefix: str) -> Counter[str]:
    return Counter(
        e["note"] for e in sb.store.entries.values() if str(e.get("note") or "").startswith(prefix)
    )


def client_tasks() -> set[asyncio.Task[Any]]:
    """Unfinished tasks other than the test's own and the sandbox server's connection handlers."""
    current = asyncio.current_task()
    tasks = set()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        coro = task.get_coro()
        module = getattr(getattr(coro, "cr_code", None), "co_filename", "")
        if "aiohttp/web" in module or "aiohttp/base_protocol" in module:
            continue
        tasks.add(task)
    return tasks


#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=ENTRIES, seed=3, faults=FaultConfig(seed=11))


# ------------------------------------------------------------------------- exports under faults


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_export_with_every_fault_yields_each_entry_once(prefetch: int) -> None:
    faults = FaultConfig(seed=104 + prefetch, **ALL_FAULTS)
    async with Sandbox(entries=ENTRIES, seed=5, faults=faults) as sb:
        retries: list[RetryEvent] = []
        async with make_client(sb, hooks=Hooks(on_retry=[retries.append])) as awork:
            entries = await awork.time_entries.list(page_size=10, prefetch=prefetch).collect()
        ids = [str(e.id) for e in entries]
        assert len(ids) == len(set(ids)) == ENTRIES
        assert set(ids) == set(sb.store.entries)
        assert ids == [e["id"] for e in sb.store.ordered_entries()]  # and in order
        # Every kind of fault really happened, and each was survived by a retry.
        assert set(sb.stats.faults) == {"rate_limit", "error", "drop", "slow", "truncate"}
        assert sb.stats.undelivered >= 1 and sb.stats.by_status[429] >= 1
        reasons = {r.reason.split()[0] for r in retries}
        assert {"429", "APIConnectionError"} <= reasons
        assert reasons & {"500", "502", "503"}


async def test_iteration_and_pages_under_faults_match_collect() -> None:
    faults = FaultConfig(seed=7, **ALL_FAULTS)
    async with Sandbox(entries=120, seed=9, faults=faults) as sb:
        async with make_client(sb) as awork:
            streamed = [e.id async for e in awork.time_entries.list(page_size=7, prefetch=2)]
            simplified = await awork.time_entries.list_simplified(page_size=11).collect()
        assert sorted(map(str, streamed)) == sorted(sb.store.entries)
        assert sorted(str(e.id) for e in simplified) == sorted(sb.store.entries)


# ---------------------------------------------------------------------------- no doubled write


async def test_writes_under_faults_are_never_doubled() -> None:
    faults = FaultConfig(seed=21, drop_after_processing=True, **ALL_FAULTS)
    async with Sandbox(entries=100, seed=4, faults=faults) as sb:
        outcomes: Counter[str] = Counter()
        created: list[str] = []
        async with make_client(sb) as awork:
            for i in range(60):
                try:
                    entry = await awork.time_entries.create(entry_form(sb, f"dup-{i}", i))
                except OutcomeUnknownError:
                    outcomes["unknown"] += 1
                except ServerError:
                    outcomes["server"] += 1
                else:
                    outcomes["ok"] += 1
                    created.append(str(entry.id))
        stored = notes_in_store(sb, "dup-")
        assert max(stored.values()) == 1  # no create was applied twice
        assert all(i in sb.store.entries for i in created)
        writes = sb.stats.writes["POST /timeentries"]
        assert writes == sum(stored.values())
        # Each success is one write; an unknown outcome may or may not have been applied;
        # a 5xx was answered before any processing.
        assert outcomes["ok"] <= writes <= outcomes["ok"] + outcomes["unknown"]
        assert outcomes["unknown"] >= 1 and outcomes["server"] >= 1 and outcomes["ok"] >= 30
        # With drop_after_processing every drop and truncation of a POST was applied.
        assert writes > outcomes["ok"]


async def test_updates_timer_and_batches_under_faults() -> None:
    faults = FaultConfig(seed=33, drop_after_processing=True, **ALL_FAULTS)
    async with Sandbox(entries=150, seed=6, faults=faults) as sb:
        tow = a_type_of_work(sb)
        ids = [i for i, e in sb.store.entries.items() if not e.get("breaks")][:30]
        async with make_client(sb) as awork:
            # PUT is idempotent: retried through every fault, so every update lands.
            for n, entry_id in enumerate(ids[:15]):
                start = dt.datetime(2025, 1, 6, 8, n, tzinfo=UTC)
                form = TimeEntryUpdate.from_span(
                    start=start,
                    end=start + dt.timedelta(minutes=30),
                    timezone="UTC",
                    type_of_work_id=tow,
                    note=f"upd-{n}",
                )
                updated = await awork.time_entries.update(entry_id, form)
                assert updated.note == f"upd-{n}"
            assert [sb.store.entries[i]["note"] for i in ids[:15]] == [
                f"upd-{n}" for n in range(15)
            ]
            # Timer starts are POSTs: each applied at most once.
            started = unknown = 0
            for n in range(25):
                try:
                    await awork.timer.start(tow, timezone="UTC", note=f"tmr-{n}")
                    started += 1
                except OutcomeUnknownError:
                    unknown += 1
                except ServerError:
                    pass
            # Batch chunks are POSTs too.
            batch_ok = batch_unknown = 0
            for chunk in range(6):
                part = ids[chunk * 5 : chunk * 5 + 5]
                try:
                    result = await awork.time_entries.set_billable(part, True)
                    assert sorted(map(str, result.ok_ids)) == sorted(part)
                    batch_ok += 1
                except OutcomeUnknownError:
                    batch_unknown += 1
                except ServerError:
                    pass
        timer_notes = notes_in_store(sb, "tmr-")
        assert max(timer_notes.values()) == 1
        timer_writes = sb.stats.writes["POST /me/timetracking/start"]
        assert timer_writes == sum(timer_notes.values())
        assert started <= timer_writes <= started + unknown and started >= 10
        batch_writes = sb.stats.writes["POST /timeentries/batch/{operation}"]
        assert batch_ok <= batch_writes <= batch_ok + batch_unknown


async def test_retry_rules_per_method(sb: Sandbox) -> None:
    """GET/PUT/DELETE retry 5xx and lost answers; a POST only a 429; an idempotent POST all."""
    some_id = next(iter(sb.store.entries))
    async with make_client(sb) as awork:
        sb.faults.inject_next("error", status=503)
        await awork.time_entries.get(some_id)
        assert sb.stats.requests == 2

        sb.faults.inject_next("drop")
        await awork.time_entries.delete(some_id)
        assert some_id not in sb.store.entries

        sb.stats.reset()
        sb.faults.inject_next("error", status=503)
        with pytest.raises(ServerError):
            await awork.time_entries.create(entry_form(sb, "post-503"))
        assert sb.stats.requests == 1 and sb.stats.writes_total == 0

        sb.faults.inject_next("rate_limit")
        entry = await awork.time_entries.create(entry_form(sb, "post-429"))
        assert sb.stats.requests == 3 and sb.stats.writes["POST /timeentries"] == 1
        assert str(entry.id) in sb.store.entries

        sb.faults.inject_next("drop")  # dropped before processing: still unknown to the client
        with pytest.raises(OutcomeUnknownError) as info:
            await awork.time_entries.create(entry_form(sb, "post-drop"))
        assert info.value.request_sent and sb.stats.requests == 4
        assert notes_in_store(sb, "post-drop") == Counter()

        sb.faults.drop_after_processing = True
        sb.faults.inject_next("drop")
        with pytest.raises(OutcomeUnknownError):
            await awork.time_entries.create(entry_form(sb, "post-applied"))
        assert notes_in_store(sb, "post-applied") == Counter({"post-applied": 1})

        sb.faults.inject_next("truncate")
        with pytest.raises(OutcomeUnknownError):
            await awork.time_entries.create(entry_form(sb, "post-truncated"))
        assert notes_in_store(sb, "post-truncated") == Counter({"post-truncated": 1})

        # pause/resume are POSTs marked idempotent: retried after a lost answer.
        await awork.timer.start(a_type_of_work(sb), timezone="UTC")
        sb.stats.reset()
        sb.faults.inject_next("drop")
        paused = await awork.timer.pause()
        assert paused is not None and paused.open_break is not None
        assert sb.stats.requests == 2 and sb.stats.writes["POST /me/timetracking/pause"] >= 1


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_post_is_retried_after_a_refused_connection() -> None:
    """The first attempt is refused (nothing listens yet), so even a POST is sent again."""
    port = _closed_port()
    sb = Sandbox(entries=10, seed=2, port=port)
    in_backoff, go = asyncio.Event(), asyncio.Event()
    waits: list[float] = []

    async def gated_sleep(seconds: float) -> None:
        waits.append(seconds)
        in_backoff.set()
        await go.wait()

    retries: list[RetryEvent] = []
    client = AworkClient(
        token=sb.token,
        base_url=f"http://127.0.0.1:{port}/api/v1",
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(max_attempts=3, random=lambda: 0.0),
        sleep=gated_sleep,
        hooks=Hooks(on_retry=[retries.append]),
    )
    try:
        async with client:
            call = asyncio.create_task(client.time_entries.create(entry_form(sb, "refused")))
            await in_backoff.wait()
            assert len(retries) == 1
            error = retries[0].error
            assert isinstance(error, APIConnectionError) and not error.request_sent
            assert not isinstance(error, OutcomeUnknownError)
            await sb.start()  # now something listens on the port
            go.set()
            entry = await call
        assert str(entry.id) in sb.store.entries
        assert sb.stats.requests == 1 and sb.stats.writes["POST /timeentries"] == 1
        assert waits == [RetryPolicy().backoff_initial]
    finally:
        await sb.close()


# ---------------------------------------------------------------------------------- rate limits


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class VirtualTimeLimiter:
    """Wraps a limiter on a :class:`VirtualClock`; records admissions and answers in order.

    Its ``sleep`` advances the clock only once every admitted request has been answered, so a
    request reaches the sandbox at the virtual instant it was admitted (no "network jitter").
    """

    def __init__(
        self, clock: VirtualClock, per_second: int, per_minute: int, *, reserve: int = 1
    ) -> None:
        self.clock = clock
        # No jitter to absorb (see above): windows of exactly 1 s and 60 s.
        self.inner = LocalRateLimiter(
            per_second,
            per_minute,
            reserve=reserve,
            window_margin=0.0,
            clock=clock,
            sleep=self.sleep,
        )
        #: ``("admit", time, 0)`` and ``("answer", time, status)`` in the order they happened.
        self.events: list[tuple[str, float, int]] = []
        self._admitted = self._answered = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def answers(self) -> list[tuple[float, int]]:
        return [(t, status) for kind, t, status in self.events if kind == "answer"]

    def _update(self) -> None:
        if self._answered >= self._admitted:
            self._idle.set()
        else:
            self._idle.clear()

    async def sleep(self, seconds: float) -> None:
        await self._idle.wait()
        self.clock.advance(seconds)

    async def acquire(self) -> None:
        await self.inner.acquire()
        self._admitted += 1
        self.events.append(("admit", self.clock(), 0))
        self._update()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        self.inner.observe(status, headers)
        self._answered += 1
        self.events.append(("answer", self.clock(), status))
        self._update()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _hammer(awork: AworkClient, total: int, callers: int) -> None:
    remaining = [total]

    async def caller() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await awork.me()

    await asyncio.gather(*(caller() for _ in range(callers)))


@pytest.mark.parametrize(
    "reserve",
    [
        pytest.param(1, id="windows-and-adaptive-hold"),
        # A reserve below zero switches the header-driven hold off: the sliding windows alone
        # must keep under the server's fixed windows (other clients may not send headers).
        pytest.param(-1, id="windows-alone"),
    ],
)
async def test_limiter_at_the_sandbox_limits_gets_no_429(reserve: int) -> None:
    clock = VirtualClock()
    limiter = VirtualTimeLimiter(clock, per_second=20, per_minute=200, reserve=reserve)
    config = RateLimitConfig(per_second=20, per_minute=200, clock=clock)
    async with (
        Sandbox(entries=10, rate_limit=config) as sb,
        make_client(sb, rate_limiter=limiter) as awork,
    ):
        start = clock()
        await _hammer(awork, total=500, callers=32)
        elapsed = clock() - start
    assert sb.stats.rate_limited == 0 and sb.stats.by_status[429] == 0
    assert sb.stats.by_status[200] == 500
    # 500 requests at 200/min need two full minutes plus 100 more at 20/s: the limiter
    # neither overshoots (429s above) nor wastes much of the budget.
    assert 120.0 <= elapsed <= 120.0 + 5.0 + 4.0


async def test_a_429_pauses_every_concurrent_caller() -> None:
    clock = VirtualClock(start=2_000.25)
    limiter = VirtualTimeLimiter(clock, per_second=50, per_minute=1000)
    async with Sandbox(entries=10, faults=FaultConfig(retry_after=1)) as sb:
        injected = False

        def inject_after_some(event: Any) -> None:
            nonlocal injected
            if not injected and len(limiter.answers) >= 15:
                injected = True
                sb.faults.inject_next("rate_limit")

        hooks = Hooks(on_response=[inject_after_some])
        async with make_client(sb, rate_limiter=limiter, hooks=hooks) as awork:
            await _hammer(awork, total=80, callers=20)
    rejected = [n for n, (kind, _, status) in enumerate(limiter.events) if status == 429]
    assert len(rejected) == 1  # the forced one; nobody else ran into the limit
    t429 = limiter.events[rejected[0]][1]
    after = [t for kind, t, _ in limiter.events[rejected[0] :] if kind == "admit"]
    during_hold = [t for t in after if t < t429 + 1.0]
    assert during_hold == []  # one gate: nobody started a request before the reset
    # ...and the callers that waited (the retried one among them) went out together after it.
    assert after and min(after) == pytest.approx(t429 + 1.0, abs=0.05)
    assert len([t for t in after if t < t429 + 1.1]) >= 20
    assert sb.stats.by_status[200] == 80


# ---------------------------------------------------------------------------------- cancellation


async def test_cancelling_an_iteration_leaves_nothing_running(sb: Sandbox) -> None:
    """Cancelled while waiting for prefetched pages: those requests are cancelled at once."""
    sent: list[int] = []
    in_flight = asyncio.Event()
    sb.faults.slow_delay = 5.0

    def on_response(event: Any) -> None:
        if event.url.count("page=1&") and not sent:
            sent.append(1)
            sb.faults.inject_next("slow", 4)  # the prefetched pages hang on the server

    def on_request(event: Any) -> None:
        if sent:
            sent.append(1)
            if len(sent) == 5:
                in_flight.set()

    before = client_tasks()
    hooks = Hooks(on_request=[on_request], on_response=[on_response])
    async with make_client(sb, hooks=hooks) as awork:
        seen: list[uuid.UUID | None] = []

        async def export() -> None:
            async for entry in awork.time_entries.list(page_size=10, prefetch=4):
                seen.append(entry.id)

        task = asyncio.create_task(export())
        await in_flight.wait()
        assert len(client_tasks() - before) >= 5  # the export and four page requests
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() - before == set()  # prefetch tasks were cancelled and awaited
    assert len(seen) == 10 and awork.closed


async def test_closing_an_abandoned_iteration_cancels_prefetch(sb: Sandbox) -> None:
    """A consumer that leaves its loop early closes the iterator (``contextlib.aclosing``):
    the prefetched page still in flight is cancelled at once."""
    never = asyncio.Event()
    page4_in_flight = asyncio.Event()

    async def on_request(event: Any) -> None:
        if "page=4&" in event.url:  # requested once page 2 is consumed; it never gets an answer
            page4_in_flight.set()
            await never.wait()

    before = client_tasks()
    async with make_client(sb, hooks=Hooks(on_request=[on_request])) as awork:
        paginator = awork.time_entries.list(page_size=10, prefetch=2)
        items = paginator.__aiter__()
        assert isinstance(items, AsyncGenerator)
        async with contextlib.aclosing(items):
            count = 0
            async for _entry in items:
                count += 1
                if count == 21:  # the first entry of page 3
                    await page4_in_flight.wait()
                    assert client_tasks() - before  # page 4 is still being fetched
                    break
        assert client_tasks() - before == set()
        assert not never.is_set()


async def test_cancelling_during_backoff(sb: Sandbox) -> None:
    in_backoff = asyncio.Event()
    waits: list[float] = []

    async def stuck_sleep(seconds: float) -> None:
        waits.append(seconds)
        in_backoff.set()
        await asyncio.Event().wait()

    before = client_tasks()
    async with make_client(sb, sleep=stuck_sleep) as awork:
        sb.faults.inject_next("error", status=502)
        task = asyncio.create_task(awork.time_entries.get(next(iter(sb.store.entries))))
        await in_backoff.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() - before == set()
    assert waits and sb.stats.requests == 1  # never retried after the cancellation


# ------------------------------------------------------------------------------------- timeouts


#: A "slow" answer that never comes within a test (the sandbox cancels the handler when it
#: closes): only the client's own timeouts can end the call, so no test races the clock.
NEVER = 86_400.0


async def test_read_timeout_retries_a_get_but_not_a_post(sb: Sandbox) -> None:
    sb.faults.slow_delay = NEVER
    timeouts = Timeouts(read=0.05)
    some_id = next(iter(sb.store.entries))
    retries: list[RetryEvent] = []
    async with make_client(sb, timeout=timeouts, hooks=Hooks(on_retry=[retries.append])) as awork:
        sb.faults.inject_next("slow")
        entry = await awork.time_entries.get(some_id)
        assert str(entry.id) == some_id
        assert [r.reason for r in retries] == ["APITimeoutError"]

        sb.faults.inject_next("slow")
        with pytest.raises(OutcomeUnknownError) as info:
            await awork.time_entries.create(entry_form(sb, "slow-post"))
        assert "read timeout" in str(info.value)
        assert len(retries) == 1  # the POST was not retried
        assert sb.stats.by_route["POST /timeentries"] == 1


async def test_total_deadline_spans_all_retries(sb: Sandbox) -> None:
    sb.faults.slow_rate = 1.0  # no answer ever comes: only the client's timeouts end a call
    sb.faults.slow_delay = NEVER
    attempts: list[int] = []
    hooks = Hooks(on_request=[lambda e: attempts.append(e.attempt)])
    retry = RetryPolicy(
        max_attempts=1000, backoff_initial=0.001, backoff_max=0.002, random=lambda: 0.0
    )
    async with make_client(sb, retry=retry, hooks=hooks) as awork:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(APITimeoutError) as info:
            await awork.time_entries.get(
                next(iter(sb.store.entries)), timeout=Timeouts(read=0.02, total=0.5)
            )
        took = loop.time() - started
    # The deadline ended the call (not the 1000 attempts), after more than one read timeout.
    # Only lower bounds: a timer never fires early, while a loaded machine may make it late.
    # When a read timeout leaves less time than the backoff, the retry policy raises that
    # attempt's error at once (documented) instead of the deadline's: both messages are right.
    assert "deadline" in str(info.value) or "read timeout" in str(info.value)
    assert took >= 0.45
    assert 2 <= len(attempts) < 1000


async def test_a_backoff_that_would_overrun_the_deadline_is_not_started(sb: Sandbox) -> None:
    sb.faults.inject_next("error", status=503)
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    retry = RetryPolicy(backoff_initial=5.0, random=lambda: 0.0)
    async with make_client(sb, retry=retry, sleep=recording_sleep) as awork:
        with pytest.raises(ServerError):
            await awork.time_entries.get(next(iter(sb.store.entries)), timeout=2.0)
    assert waits == [] and sb.stats.requests == 1


async def test_errors_keep_the_client_usable(sb: Sandbox) -> None:
    """After a burst of failures the same client (and its pooled connections) still works."""
    sb.faults.error_rate = 1.0
    async with make_client(sb, retry=RetryPolicy(max_attempts=2, random=lambda: 0.0)) as awork:
        with pytest.raises(AworkError):
            await awork.me()
        sb.faults.reset()
        assert str((await awork.me()).id) == sb.store.me_id


async def test_post_cut_off_by_the_deadline_has_an_unknown_outcome(sb: Sandbox) -> None:
    """The deadline expires while the server is still working on a POST: it may be applied."""
    sb.faults.slow_delay = NEVER
    sb.faults.inject_next("slow")
    async with make_client(sb) as awork:
        with pytest.raises(OutcomeUnknownError) as info:
            await awork.time_entries.create(
                entry_form(sb, "cut-off"), timeout=Timeouts(read=5.0, total=0.1)
            )
    assert "deadline" in str(info.value) and info.value.request_sent
    assert sb.stats.by_route["POST /timeentries"] == 1
