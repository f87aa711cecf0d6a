"""The page engine: order, bounds on lanes in flight and pages in memory, spilling, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import pytest

from awork_async._pages import Lane, LaneContext, PageEngine
from awork_async._transport import body_reads


class Gates:
    """Lanes that each put ``pages`` pages, every fetch waiting on its own event."""

    def __init__(self) -> None:
        self.events: dict[tuple[int, int], asyncio.Event] = {}
        self.running = 0
        self.max_running = 0
        self.started: list[int] = []
        self.fetches: list[tuple[int, int]] = []
        self.opened = False

    def event(self, lane: int, page: int) -> asyncio.Event:
        event = self.events.setdefault((lane, page), asyncio.Event())
        if self.opened:
            event.set()
        return event

    def lane(self, number: int, pages: int = 1, fail_at: int | None = None) -> Lane[str]:
        async def run(ctx: LaneContext[str]) -> None:
            self.started.append(number)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            try:
                for page in range(pages):
                    await ctx.turn()
                    self.fetches.append((number, page))
                    await self.event(number, page).wait()
                    if page == fail_at:
                        raise RuntimeError(f"lane {number} failed")
                    await ctx.put(f"{number}.{page}")
            finally:
                self.running -= 1

        return run

    def open_all(self) -> None:
        self.opened = True
        for event in self.events.values():
            event.set()


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _drain(gen: AsyncGenerator[str, None]) -> list[str]:
    return [page async for page in gen]


async def test_pages_come_in_lane_order_whatever_order_they_arrive_in() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=4, prefetch=4, spill=True)
    consumer = asyncio.ensure_future(_drain(engine.run([gates.lane(i, 2) for i in range(4)])))
    await _settle()
    for lane in (3, 2, 1, 0):  # the last lane finishes first
        for page in (0, 1):
            gates.event(lane, page).set()
            await _settle()
    assert await consumer == [f"{i}.{p}" for i in range(4) for p in (0, 1)]
    assert gates.max_running == 4


async def test_lanes_in_flight_never_exceed_concurrency() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=3, prefetch=3)
    consumer = asyncio.ensure_future(_drain(engine.run(gates.lane(i) for i in range(10))))
    await _settle()
    assert gates.started == [0, 1, 2]
    for _ in range(10):
        gates.open_all()
        await _settle()
    assert await consumer == [f"{i}.0" for i in range(10)]
    assert gates.max_running == 3


async def test_without_spill_lanes_ahead_wait_when_memory_is_full() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=3, prefetch=1, memory_pages=2)
    consumer = asyncio.ensure_future(_drain(engine.run([gates.lane(i, 5) for i in range(3)])))
    await _settle()
    for lane in (1, 2):
        for page in range(5):
            gates.event(lane, page).set()
    await _settle()
    # Lanes 1 and 2 hold two pages in memory between them, then wait for room.
    assert engine._in_memory == 2
    assert gates.running == 3
    gates.open_all()
    assert await consumer == [f"{i}.{p}" for i in range(3) for p in range(5)]


async def test_with_spill_lanes_ahead_finish_and_their_pages_wait_on_disk() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=3, prefetch=1, memory_pages=2, spill=True)
    consumer = asyncio.ensure_future(_drain(engine.run([gates.lane(i, 5) for i in range(3)])))
    await _settle()
    for lane in (1, 2):
        for page in range(5):
            gates.event(lane, page).set()
    await _settle()
    assert gates.started == [0, 1, 2]
    assert gates.running == 1  # lanes 1 and 2 are done: 2 pages in memory, 8 on disk
    assert engine._in_memory == 2
    assert sum(slot.spool.pages for slot in engine._slots) == 8
    gates.open_all()
    assert await consumer == [f"{i}.{p}" for i in range(3) for p in range(5)]


async def test_a_lane_error_comes_after_the_pages_before_it() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=3, prefetch=3, spill=True)
    lanes = [gates.lane(0, 2), gates.lane(1, 3, fail_at=1), gates.lane(2, 1)]
    got: list[str] = []
    gates.open_all()
    for lane, pages in ((0, 2), (1, 3), (2, 1)):
        for page in range(pages):
            gates.event(lane, page).set()

    async def consume() -> None:
        async for page in engine.run(lanes):
            got.append(page)

    with pytest.raises(RuntimeError, match="lane 1 failed"):
        await consume()
    assert got == ["0.0", "0.1", "1.0"]


async def test_closing_cancels_and_awaits_every_lane() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=4, prefetch=4, spill=True)
    gates.event(0, 0).set()
    async with contextlib.aclosing(engine.run([gates.lane(i, 3) for i in range(6)])) as pages:
        assert await pages.__anext__() == "0.0"
        await _settle()
        assert gates.running == 4
    assert gates.running == 0  # every lane was cancelled and awaited before aclose returned
    assert all(slot.task is None or slot.task.done() for slot in engine._slots)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "_drive" in repr(t.get_coro())]


async def test_a_cancelled_consumer_leaves_no_task_running() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=3, prefetch=3)

    async def consume() -> list[str]:
        async with contextlib.aclosing(engine.run([gates.lane(i, 2) for i in range(5)])) as gen:
            return [page async for page in gen]

    task = asyncio.ensure_future(consume())
    await _settle()
    assert gates.running == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gates.running == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "_drive" in repr(t.get_coro())]


async def test_prefetch_zero_requests_only_when_the_consumer_asks() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=1, prefetch=0)
    gates.open_all()
    gen = engine.run([gates.lane(0, 3)])
    assert await gen.__anext__() == "0.0"
    await _settle()
    assert gates.fetches == [(0, 0)]  # the lane waits for its turn: no request ahead
    assert await gen.__anext__() == "0.1"
    await _settle()
    assert gates.fetches == [(0, 0), (0, 1)]
    await gen.aclose()


async def test_prefetch_one_requests_one_page_ahead_of_the_consumer() -> None:
    gates = Gates()
    engine: PageEngine[str] = PageEngine(concurrency=1, prefetch=1)
    gates.open_all()
    gen = engine.run([gates.lane(0, 5)])
    assert await gen.__anext__() == "0.0"
    await _settle()
    # Page 1 was fetched while the consumer holds page 0; it waits, page 2 is not asked for.
    assert gates.fetches == [(0, 0), (0, 1)]
    await gen.aclose()


async def test_lanes_inserted_after_a_lane_come_right_after_it() -> None:
    async def first(ctx: LaneContext[str]) -> None:
        await ctx.put("a")
        ctx.insert_after(lane("c"))
        ctx.insert_after(lane("b"))  # inserted right after "a": before "c"
        ctx.follow(lane(x) for x in ("a1", "a2"))  # before both

    def lane(name: str) -> Lane[str]:
        async def run(ctx: LaneContext[str]) -> None:
            await ctx.put(name)

        return run

    engine: PageEngine[str] = PageEngine(concurrency=2, prefetch=2, spill=True)
    assert await _drain(engine.run([first, lane("z")])) == ["a", "a1", "a2", "b", "c", "z"]
    assert engine.pages == 6


async def test_on_idle_may_split_work_into_free_slots() -> None:
    calls: list[int] = []
    engine: PageEngine[str] = PageEngine(concurrency=2, prefetch=1, spill=True)
    contexts: list[LaneContext[str]] = []

    async def long(ctx: LaneContext[str]) -> None:
        contexts.append(ctx)
        await ctx.put("long")
        await asyncio.sleep(0)  # idle meanwhile: a free slot is offered

    async def extra(ctx: LaneContext[str]) -> None:
        await ctx.put("extra")

    def idle() -> None:
        calls.append(engine.running_lanes())
        if len(contexts) == 1:  # once, while the lane runs
            contexts[0].insert_after(extra)
            contexts.append(contexts[0])

    engine._on_idle = idle
    assert await _drain(engine.run([long])) == ["long", "extra"]
    assert calls


async def test_a_consumer_taking_waiting_pages_lets_the_lanes_run_between_them() -> None:
    """Pages already waiting are handed over one after another, but the loop runs between
    two of them: a lane whose answer has arrived reads it (and sends its next request) while
    the consumer works through the pages, instead of after all of them."""
    engine: PageEngine[str] = PageEngine(concurrency=2, prefetch=4, spill=True)
    answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def ready(ctx: LaneContext[str]) -> None:
        for page in ("a0", "a1", "a2", "a3"):
            await ctx.put(page)

    async def slow(ctx: LaneContext[str]) -> None:
        await answer  # its answer arrives while the consumer holds the first page
        seen.append("answer read")
        await ctx.put("b0")

    gen = engine.run([ready, slow])
    seen.append(await gen.__anext__())  # waited for the first page: the lanes have run
    answer.set_result(None)
    for _ in range(3):  # the consumer never awaits anything else between pages
        seen.append(await gen.__anext__())
    assert seen[:3] == ["a0", "answer read", "a1"]
    assert await _drain(gen) == ["b0"]


async def test_lanes_read_at_most_body_reads_bodies_at_once() -> None:
    """Every lane's task (and the tasks it starts) sees the engine's one bound on bodies read
    at once (``_transport.body_reads``): with 6 lanes whose answers all arrive and a bound of
    2, two read while four wait; the consumer's own context has no bound."""
    engine: PageEngine[str] = PageEngine(concurrency=6, prefetch=6, body_reads=2, spill=True)
    reading = 0
    most = 0
    arrived: list[int] = []
    finish = asyncio.Event()
    gates: set[int] = set()

    def lane(number: int) -> Lane[str]:
        async def run(ctx: LaneContext[str]) -> None:
            async def fetch() -> str:  # like _Starts' offset pages: a task the lane starts
                nonlocal reading, most
                gate = body_reads.get()
                assert gate is not None
                gates.add(id(gate))
                arrived.append(number)
                async with gate:
                    reading += 1
                    most = max(most, reading)
                    await finish.wait()
                    reading -= 1
                return f"page {number}"

            await ctx.put(await asyncio.ensure_future(fetch()))

        return run

    gen = engine.run([lane(n) for n in range(6)])
    first = asyncio.ensure_future(gen.__anext__())
    await _settle()
    assert sorted(arrived) == list(range(6))  # every answer arrived ...
    assert reading == 2  # ... two bodies are read, the others wait
    finish.set()
    assert await first == "page 0"
    assert await _drain(gen) == [f"page {n}" for n in range(1, 6)]
    assert most == 2
    assert len(gates) == 1  # one bound for the whole walk
    assert body_reads.get() is None


def test_body_reads_is_checked() -> None:
    with pytest.raises(ValueError, match="body_reads"):
        PageEngine(concurrency=2, prefetch=1, body_reads=0)
