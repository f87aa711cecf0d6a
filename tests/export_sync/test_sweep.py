"""``find_deleted``: the deletion sweep, its strategies and its request cost."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator

import pytest

from awork_async import AworkClient, find_deleted
from awork_async.sandbox import Sandbox

ENTRIES = 300


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(entries=ENTRIES, seed=11) as sb:
        yield sb


def _requests(sb: Sandbox) -> int:
    return sb.stats.by_route["GET /timeentries"]


@pytest.mark.parametrize("strategy", ["auto", "chunks", "walk"])
async def test_the_sweep_finds_every_deletion(
    sandbox: Sandbox, awork: AworkClient, strategy: str
) -> None:
    known = [uuid.UUID(i) for i in sandbox.store.entries]
    gone = {uuid.UUID(i) for i in sandbox.store.delete_entries(40)}
    never = {uuid.uuid4() for _ in range(3)}
    found = await find_deleted(awork, [*known, *never], strategy=strategy, page_size=50)  # type: ignore[arg-type]
    assert found == gone | never


async def test_chunks_cost_one_request_per_chunk(sandbox: Sandbox, awork: AworkClient) -> None:
    ids = [uuid.UUID(i) for i in list(sandbox.store.entries)[:60]]
    sandbox.store.remove_entry(str(ids[7]))
    before = _requests(sandbox)
    assert await find_deleted(awork, ids, strategy="chunks", chunk_size=25) == {ids[7]}
    assert _requests(sandbox) - before == math.ceil(60 / 25)


async def test_walk_cost_is_bounded_by_the_pages(sandbox: Sandbox, awork: AworkClient) -> None:
    ids = [uuid.UUID(i) for i in sandbox.store.entries]
    sandbox.store.remove_entry(str(ids[0]))
    total = len(sandbox.store.entries)
    before = _requests(sandbox)
    assert await find_deleted(awork, ids, strategy="walk", page_size=100) == {ids[0]}
    assert _requests(sandbox) - before <= math.ceil(total / 100) + 1


async def test_walk_stops_once_every_id_was_seen(sandbox: Sandbox, awork: AworkClient) -> None:
    rows = sorted(sandbox.store.entries.values(), key=lambda e: (e["createdOn"], e["id"]))
    early = [uuid.UUID(e["id"]) for e in rows[:10]]
    before = _requests(sandbox)
    assert await find_deleted(awork, early, strategy="walk", page_size=50) == set()
    assert _requests(sandbox) - before == 1


async def test_auto_picks_the_cheaper_way(sandbox: Sandbox, awork: AworkClient) -> None:
    few = [uuid.UUID(i) for i in list(sandbox.store.entries)[:20]]
    before = _requests(sandbox)
    assert await find_deleted(awork, few) == set()
    assert _requests(sandbox) - before == 1  # n <= chunk_size: one filtered request

    many = [uuid.UUID(i) for i in sandbox.store.entries]
    before = _requests(sandbox)
    assert await find_deleted(awork, many, page_size=1000) == set()
    # probe + a one-window walk (300 entries), instead of 12 chunks
    assert _requests(sandbox) - before <= 1 + math.ceil(ENTRIES / 1000) + 1

    fifty = [uuid.UUID(i) for i in list(sandbox.store.entries)[:50]]
    before = _requests(sandbox)
    assert await find_deleted(awork, fifty, page_size=10) == set()
    # probe + 2 chunks, instead of a 31-window walk
    assert _requests(sandbox) - before == 3


async def test_nothing_to_check_sends_nothing(sandbox: Sandbox, awork: AworkClient) -> None:
    before = sandbox.stats.requests
    assert await find_deleted(awork, []) == set()
    assert sandbox.stats.requests == before


async def test_bad_input_raises_before_any_request(sandbox: Sandbox, awork: AworkClient) -> None:
    before = sandbox.stats.requests
    with pytest.raises(TypeError, match="single id"):
        await find_deleted(awork, str(uuid.uuid4()))
    with pytest.raises(ValueError, match="not a UUID"):
        await find_deleted(awork, ["nope"])
    with pytest.raises(TypeError, match="UUIDs or strings"):
        await find_deleted(awork, [1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="strategy"):
        await find_deleted(awork, [], strategy="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        await find_deleted(awork, [], chunk_size=0)
    with pytest.raises(ValueError, match=r"page_size|pageSize|1000"):
        await find_deleted(awork, [], page_size=5000)
    assert sandbox.stats.requests == before


async def test_largest_chunk_fits_the_filter_node_bound(
    sandbox: Sandbox, awork: AworkClient
) -> None:
    # 25 ids make a 99-node filter: the sandbox (like OData's MaxNodeCount) refuses more than 100.
    entries = await awork.time_entries.list().collect(max_items=25)
    ids = [entry.id for entry in entries]
    assert len(ids) == 25
    assert await find_deleted(awork, ids, strategy="chunks", chunk_size=25) == set()
    before = sandbox.stats.requests
    with pytest.raises(ValueError, match="chunk_size"):
        await find_deleted(awork, ids, chunk_size=26)
    assert sandbox.stats.requests == before
