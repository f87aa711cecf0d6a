"""``find_deleted``: the deletion sweep, its strategies and its request cost."""

from __future__ import annotations

import math
import uuid

import pytest

from awork_async import AworkClient, find_deleted
from awork_async.sandbox import Sandbox

ENTRIES = 300


pytestmark = pytest.mark.awork_sandbox(entries=ENTRIES, seed=11)


def _requests(sb: Sandbox) -> int:
    return sb.stats.by_route["GET /timeentries"]


@pytest.mark.parametrize("strategy", ["auto", "chunks", "walk"])
async def test_the_sweep_finds_every_deletion(
    sb: Sandbox, sandbox_client: AworkClient, strategy: str
) -> None:
    known = [uuid.UUID(i) for i in sb.store.entries]
    gone = {uuid.UUID(i) for i in sb.store.delete_entries(40)}
    never = {uuid.uuid4() for _ in range(3)}
    found = await find_deleted(sandbox_client, [*known, *never], strategy=strategy, page_size=50)  # type: ignore[arg-type]
    assert found == gone | never


async def test_chunks_cost_one_request_per_chunk(sb: Sandbox, sandbox_client: AworkClient) -> None:
    ids = [uuid.UUID(i) for i in list(sb.store.entries)[:60]]
    sb.store.remove_entry(str(ids[7]))
    before = _requests(sb)
    assert await find_deleted(sandbox_client, ids, strategy="chunks", chunk_size=25) == {ids[7]}
    assert _requests(sb) - before == math.ceil(60 / 25)


async def test_walk_cost_is_bounded_by_the_pages(sb: Sandbox, sandbox_client: AworkClient) -> None:
    ids = [uuid.UUID(i) for i in sb.store.entries]
    sb.store.remove_entry(str(ids[0]))
    total = len(sb.store.entries)
    before = _requests(sb)
    assert await find_deleted(sandbox_client, ids, strategy="walk", page_size=100) == {ids[0]}
    assert _requests(sb) - before <= math.ceil(total / 100) + 1


async def test_walk_stops_once_every_id_was_seen(sb: Sandbox, sandbox_client: AworkClient) -> None:
    rows = sorted(sb.store.entries.values(), key=lambda e: (e["createdOn"], e["id"]))
    early = [uuid.UUID(e["id"]) for e in rows[:10]]
    before = _requests(sb)
    assert await find_deleted(sandbox_client, early, strategy="walk", page_size=50) == set()
    assert _requests(sb) - before == 1


async def test_auto_picks_the_cheaper_way(sb: Sandbox, sandbox_client: AworkClient) -> None:
    few = [uuid.UUID(i) for i in list(sb.store.entries)[:20]]
    before = _requests(sb)
    assert await find_deleted(sandbox_client, few) == set()
    assert _requests(sb) - before == 1  # n <= chunk_size: one filtered request

    many = [uuid.UUID(i) for i in sb.store.entries]
    before = _requests(sb)
    assert await find_deleted(sandbox_client, many, page_size=1000) == set()
    # probe + a one-window walk (300 entries), instead of 12 chunks
    assert _requests(sb) - before <= 1 + math.ceil(ENTRIES / 1000) + 1

    fifty = [uuid.UUID(i) for i in list(sb.store.entries)[:50]]
    before = _requests(sb)
    assert await find_deleted(sandbox_client, fifty, page_size=10) == set()
    # probe + 2 chunks, instead of a 31-window walk
    assert _requests(sb) - before == 3


async def test_nothing_to_check_sends_nothing(sb: Sandbox, sandbox_client: AworkClient) -> None:
    before = sb.stats.requests
    assert await find_deleted(sandbox_client, []) == set()
    assert sb.stats.requests == before


async def test_bad_input_raises_before_any_request(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    before = sb.stats.requests
    with pytest.raises(TypeError, match="single id"):
        await find_deleted(sandbox_client, str(uuid.uuid4()))
    with pytest.raises(ValueError, match="not a UUID"):
        await find_deleted(sandbox_client, ["nope"])
    with pytest.raises(TypeError, match="UUIDs or strings"):
        await find_deleted(sandbox_client, [1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="strategy"):
        await find_deleted(sandbox_client, [], strategy="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        await find_deleted(sandbox_client, [], chunk_size=0)
    with pytest.raises(ValueError, match=r"page_size|pageSize|1000"):
        await find_deleted(sandbox_client, [], page_size=5000)
    assert sb.stats.requests == before


async def test_largest_chunk_fits_the_filter_node_bound(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    # 25 ids make a 99-node filter: the sandbox (like OData's MaxNodeCount) refuses more than 100.
    entries = await sandbox_client.time_entries.list().collect(max_items=25)
    ids = [entry.id for entry in entries]
    assert len(ids) == 25
    assert await find_deleted(sandbox_client, ids, strategy="chunks", chunk_size=25) == set()
    before = sb.stats.requests
    with pytest.raises(ValueError, match="chunk_size"):
        await find_deleted(sandbox_client, ids, chunk_size=26)
    assert sb.stats.requests == before
