"""What a consistent walk keeps in memory: a page leaves the lane once handed over.

A lane whose page went to the spill file (a consumer slower than the network, such as a
database) must not keep that page while it requests the next one: with 32 lanes that was
32 pages more in memory (issue 13: the mirror's peak RSS grew with the data). The pages are
followed with weak references to their entry lists (freed by reference counting: no collector
run); no clock, the in-process sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import pytest

from awork_async import _constants
from awork_async._json_pages import _JsonPage
from awork_async._keyset_walk import _Window
from awork_async._partitions import Partition, partition_count
from awork_async.export import KeysetCursor, KeysetWalk
from awork_async.sandbox import Sandbox

PAGE = 10

pytestmark = [pytest.mark.awork_sandbox(entries=400, seed=11), pytest.mark.sandbox_clock]


class _Entries(list):  # type: ignore[type-arg]
    """A page's entry list that a weak reference can follow."""


class _Spilling:
    """A lane context whose pages go elsewhere at once (counted, not kept), like a spill."""

    def __init__(self) -> None:
        self.pages = 0

    async def put(self, page: _JsonPage) -> None:
        self.pages += 1

    async def turn(self) -> None:
        return None

    def offer(self) -> None:
        return None


def _alive(refs: list[weakref.ref[_Entries]]) -> int:
    # No gc.collect(): a page let go is freed by reference counting at once (a page kept
    # alive only until the cyclic collector runs would still be held through a request).
    # A full collection per request also cost ~1 s each late in the whole suite (a big heap).
    return sum(ref() is not None for ref in refs)


async def test_a_lane_holds_no_page_while_it_requests_the_next(
    sb: Sandbox, sandbox_client: Any
) -> None:
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE)
    walk._planned = True  # one partition: this lane alone
    fetch = walk._fetch
    answered: list[weakref.ref[_Entries]] = []
    alive_at_request: list[int] = []

    async def windows(cursor: KeysetCursor, upper: Any = None) -> _Window:
        alive_at_request.append(_alive(answered))
        window = await fetch(cursor, upper)
        entries = _Entries(window.entries)
        answered.append(weakref.ref(entries))
        return window._replace(entries=entries)

    walk._fetch = windows  # type: ignore[method-assign]
    # Its first window read already (as an offset page is): the lane must let it go too.
    opening = await fetch(KeysetCursor())
    entries = _Entries(opening.entries)
    answered.append(weakref.ref(entries))
    lane = walk._lane(
        Partition(hi=None), KeysetCursor(), walk._read_checked(KeysetCursor(), entries, opening.raw)
    )
    del opening, entries
    ctx = _Spilling()
    await lane(ctx)  # type: ignore[arg-type]
    assert ctx.pages >= len(sb.store.entries) // PAGE
    assert len(alive_at_request) == len(answered) - 1 > 10
    assert alive_at_request == [0] * len(alive_at_request)


async def test_pages_in_memory_are_only_those_the_engine_keeps_when_the_consumer_stalls(
    sb: Sandbox, sandbox_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quantile-planned walk whose consumer takes a page only now and then: at every
    request, the pages alive are those the engine keeps in memory, the consumer's, the next
    page of the lane being consumed (it waits for its turn), the offset pages waiting for
    their lane and the first window while the partitions are planned (it waits for its
    bound); every other page read is on disk only."""
    monkeypatch.setattr(_constants, "MAX_MEMORY_PAGES", 0)  # every page ahead is spilled
    concurrency = 4
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=concurrency)
    fetch, offset = walk._fetch, walk._fetch_offset
    answered: list[weakref.ref[_Entries]] = []
    excess: list[int] = []
    planning = [0]
    plan = walk._plan

    async def planned(*args: Any) -> None:
        planning[0] = 1
        try:
            await plan(*args)
        finally:
            planning[0] = 0

    def check() -> None:
        engine, starts = walk._engine, walk._starts
        assert engine is not None
        # Kept by the engine, the consumer's page, the head lane's next one, the first
        # window while it is planned.
        allowed = engine._in_memory + 2 + planning[0]
        if starts is not None:
            allowed += len(starts._firsts) + sum(t.done() for t in starts._fetches.values())
        excess.append(max(0, _alive(answered) - allowed))

    async def windows(cursor: KeysetCursor, upper: Any = None) -> _Window:
        check()
        window = await fetch(cursor, upper)
        entries = _Entries(window.entries)
        answered.append(weakref.ref(entries))
        return window._replace(entries=entries)

    async def offsets(cursor: KeysetCursor, page: int, size: int) -> Any:
        check()
        got, raw = await offset(cursor, page, size)
        entries = _Entries(got)
        answered.append(weakref.ref(entries))
        return entries, raw

    walk._fetch = windows  # type: ignore[method-assign]
    walk._fetch_offset = offsets  # type: ignore[method-assign]
    walk._plan = planned  # type: ignore[method-assign]
    ids: list[str] = []
    async with contextlib.aclosing(walk.rows()) as rows:
        async for row, _ in rows:
            ids.append(str(row["id"]))
            for _ in range(20):  # a slow consumer: the lanes go on meanwhile
                await asyncio.sleep(0)
    assert len(ids) == len(set(ids)) == len(sb.store.entries)
    assert partition_count(len(ids), PAGE, concurrency) > concurrency
    assert walk.partitions > concurrency
    assert len(excess) > 2 * concurrency
    assert excess == [0] * len(excess), excess
