"""Concurrent consistent walks: partitions, splits, churn at the boundaries, order, memory, sync.

The walks run against the in-process sandbox. Changes are applied by the test itself right
before chosen requests (a wrapper around the walk's fetch), so every scenario is deterministic
in what it changes; the assertions hold for any interleaving of the concurrent requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, cast
from uuid import UUID

import orjson
import pytest
from _helpers import CrashingWriter, SandboxClock

from awork_async import AworkClient
from awork_async import _keyset_walk as walk_module
from awork_async._partitions import Partition, SplitPlanner, offset_plan, partition_count
from awork_async._timeutil import format_datetime, parse_utc_datetime
from awork_async.export import (
    ExportCheckpoint,
    KeysetCursor,
    KeysetWalk,
    export_time_entries,
    load_checkpoint,
)
from awork_async.sandbox import Sandbox
from awork_async.sync import changes_since

UTC = timezone.utc
PAGE = 10
Fetch = Callable[..., Awaitable[Any]]


pytestmark = [pytest.mark.awork_sandbox(entries=400, seed=11), pytest.mark.sandbox_clock]


def eager(field_max: datetime) -> SplitPlanner:
    """A planner that splits small data sets (the production one waits for 34+ pages)."""
    return SplitPlanner(page_size=PAGE, now=field_max, max_extra=1.0, min_pages=1, quantiles=False)


class FixedCuts(SplitPlanner):
    """Splits at the given keys (in this order) whenever they fall inside a partition."""

    def __init__(self, cuts: list[datetime]) -> None:
        super().__init__(page_size=PAGE, max_extra=1.0, min_pages=1, quantiles=False)
        self.cuts = cuts

    def cut(self, part: Partition) -> datetime | None:
        assert part.position is not None
        for cut in self.cuts:
            if part.position < cut and (part.hi is None or cut < part.hi):
                self.cuts.remove(cut)
                return cut
        return None


def keys(sandbox: Sandbox, field: str) -> list[datetime]:
    return sorted(parse_utc_datetime(e[field]) for e in sandbox.store.entries.values())


def insert_at(sandbox: Sandbox, created: datetime) -> str:
    store = sandbox.store
    entry = store.factory.make(store.anchor, store.new_id())
    entry["createdOn"] = entry["updatedOn"] = format_datetime(created)
    store.add_entry(entry)
    return str(entry["id"])


def before_each_request(
    walk: KeysetWalk, action: Callable[[int], None], which: str = "_fetch"
) -> None:
    """Run ``action(request number)`` right before each window request of ``walk`` (or each
    offset request, with ``which="_fetch_offset"``)."""
    original: Fetch = getattr(walk, which)
    count = [0]

    async def fetch(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        action(count[0])
        return await original(*args, **kwargs)

    setattr(walk, which, fetch)


async def walk_ids(walk: KeysetWalk) -> list[tuple[str, str, KeysetCursor]]:
    return [(str(row["id"]), str(row["createdOn"]), point) async for row, point in walk.rows()]


# ------------------------------------------------------------------------------------ export


async def test_concurrent_walk_equals_the_sequential_one(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    sequential = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=1)
    concurrent = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=6)
    concurrent._planner = eager(keys(sb, "createdOn")[-1])
    one, many = await walk_ids(sequential), await walk_ids(concurrent)
    assert [i for i, _, _ in many] == [i for i, _, _ in one]  # same entries, same order
    assert [c for _, _, c in many] == [c for _, _, c in one]  # same checkpoints
    assert concurrent.partitions >= 4
    assert sequential.partitions == 1
    # Each split costs at most one request more than the sequential walk.
    assert concurrent.pages <= sequential.pages + concurrent.partitions - 1


async def test_ties_on_the_key_at_a_partition_boundary(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """35 entries (3.5 pages) share the key a partition starts at; 5 share the key before."""
    created = keys(sb, "createdOn")
    boundary = created[len(created) // 2].replace(microsecond=0) + timedelta(microseconds=7)
    tied = {insert_at(sb, boundary) for _ in range(35)}
    tied |= {insert_at(sb, boundary - timedelta(microseconds=1)) for _ in range(5)}
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=4)
    walk._planner = FixedCuts([boundary, created[len(created) // 4], created[-20]])
    got = await walk_ids(walk)
    ids = [i for i, _, _ in got]
    assert len(ids) == len(set(ids)) == len(sb.store.entries)
    assert tied <= set(ids)
    assert walk.partitions == 4
    stamps = [parse_utc_datetime(c) for _, c, _ in got]
    assert stamps == sorted(stamps)


class BoundaryChurn:
    """Before each request: inserts at and just below every partition boundary, deletions of
    entries on both sides of it (delivered or not yet), plus inserts before everything."""

    def __init__(self, sandbox: Sandbox, walk: KeysetWalk) -> None:
        self.sandbox = sandbox
        self.walk = walk
        self.initial = set(sandbox.store.entries)
        self.inserted: set[str] = set()
        self.deleted: set[str] = set()

    def __call__(self, number: int) -> None:
        store = self.sandbox.store
        bounds = sorted({p.hi for p in self.walk._partitions if p.hi is not None})
        for bound in bounds:
            self.inserted.add(insert_at(self.sandbox, bound))
            self.inserted.add(insert_at(self.sandbox, bound - timedelta(microseconds=1)))
            around = sorted(
                (abs((parse_utc_datetime(e["createdOn"]) - bound).total_seconds()), e["id"])
                for e in store.entries.values()
                if e["id"] in self.initial and e["id"] not in self.deleted
            )
            for _, entry_id in around[:2]:
                store.remove_entry(entry_id)
                self.deleted.add(entry_id)
        if number % 3 == 0:
            self.inserted.update(store.insert_entries(2, position="first"))
            self.inserted.update(store.insert_entries(1, position="random"))

    @property
    def stable(self) -> set[str]:
        return self.initial - self.deleted


@pytest.mark.parametrize("concurrency", [2, 5, 8])
async def test_churn_at_partition_boundaries_gives_exactly_once(
    sb: Sandbox, sandbox_client: AworkClient, concurrency: int
) -> None:
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=concurrency)
    walk._planner = eager(keys(sb, "createdOn")[-1])
    churn = BoundaryChurn(sb, walk)
    before_each_request(walk, churn)
    got = await walk_ids(walk)
    ids = [i for i, _, _ in got]
    assert walk.partitions >= concurrency
    assert churn.deleted, "the scenario must delete entries at the boundaries"
    assert len(ids) == len(set(ids)), "an entry was delivered twice"
    assert churn.stable <= set(ids), "an entry that existed throughout was missed"
    assert set(ids) <= churn.initial | churn.inserted
    stamps = [parse_utc_datetime(c) for _, c, _ in got]
    assert stamps == sorted(stamps), "not in createdOn order"


async def test_memory_is_bounded_by_the_concurrency(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=4)
    walk._planner = eager(keys(sb, "createdOn")[-1])
    spooled = 0
    got: list[tuple[str, KeysetCursor]] = []
    async with contextlib.aclosing(walk.rows()) as rows:
        async for row, point in rows:
            got.append((str(row["id"]), point))
            engine = walk._engine
            assert engine is not None
            assert engine._in_memory <= walk.concurrency + 1
            spooled = max(spooled, sum(s.spool.pages for s in engine._slots))
            await asyncio.sleep(0)  # a slow consumer: partitions ahead go on and spill
    assert spooled > 0  # pages ahead of the consumer waited on disk, not in memory
    sequential = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=1)
    expected = [(str(row["id"]), point) async for row, point in sequential.rows()]
    assert got == expected  # entries and cursors come back from the file unchanged


async def test_memory_is_capped_whatever_the_concurrency(
    sb: Sandbox, sandbox_client: AworkClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from awork_async import _constants

    monkeypatch.setattr(_constants, "MAX_MEMORY_PAGES", 2)
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=6)
    walk._planner = eager(keys(sb, "createdOn")[-1])
    held = 0
    async with contextlib.aclosing(walk.rows()) as rows:
        async for _ in rows:
            engine = walk._engine
            assert engine is not None
            assert engine.memory_pages == 2  # not the concurrency: more lanes spill, not RAM
            held = max(held, engine._in_memory)
            await asyncio.sleep(0)
    assert walk.partitions >= 6
    assert held <= 2 + 1


def test_default_concurrency_uses_the_rate_budget_at_one_second_per_page() -> None:
    """Little's law: awork's 1000 requests/min at 1 s per page need ~17 requests in flight."""
    from awork_async import _constants

    per_second = 1000 / 60
    assert per_second * 1.0 <= _constants.DEFAULT_CONCURRENCY
    assert _constants.MAX_MEMORY_PAGES <= _constants.DEFAULT_CONCURRENCY


def test_a_first_sync_has_more_lanes_by_default_than_an_export(
    sandbox_client: AworkClient,
) -> None:
    """It decodes every entry on the loop: longer round trips need more requests in flight
    (Little's law); the mirror, which stores the JSON undecoded, keeps the walks' default."""
    from awork_async import _constants
    from awork_async.mirror import mirror

    assert _constants.DEFAULT_SYNC_CONCURRENCY > _constants.DEFAULT_CONCURRENCY
    assert changes_since(sandbox_client, None)._walk.concurrency == 48
    assert KeysetWalk(sandbox_client, field="updatedOn").concurrency == 32
    assert inspect.signature(mirror).parameters["concurrency"].default == 32


async def test_stopping_a_concurrent_walk_leaves_no_task(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=6)
    walk._planner = eager(keys(sb, "createdOn")[-1])
    seen = 0
    async with contextlib.aclosing(walk.rows()) as rows:
        async for _ in rows:
            seen += 1
            if seen == 150:
                break
    assert walk.partitions > 1
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "_drive" in repr(t.get_coro())]


def test_planner_budget_and_minimum_size() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    planner = SplitPlanner(page_size=1000, now=now)
    part = Partition(hi=None, position=now - timedelta(days=100), left=50_000, density=0.01)
    assert planner.choose([part]) is None  # no total seen yet: no budget
    planner.observe_total(50_000)  # 50 pages: 3 splits allowed (half a request each)
    assert planner.budget == 3
    small = Partition(hi=None, position=part.position, left=33_999, density=0.01)
    assert planner.choose([small]) is None  # halves under 17 pages: not worth a request
    choice = planner.choose([small, part])
    assert choice is not None
    assert choice[0] is part
    for _ in range(3):
        planner.split(part, planner.cut(part) or now)
        part.left = 50_000
    assert planner.choose([part]) is None  # budget spent


# -------------------------------------------------------------------------------------- sync


async def test_first_sync_is_concurrent_and_a_quiet_poll_costs_one_request(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock
) -> None:
    first = changes_since(sandbox_client, None, page_size=PAGE, concurrency=5)
    first._walk._planner = eager(keys(sb, "updatedOn")[-1])
    ids = [str(e.id) async for e in first]
    assert sorted(ids) == sorted(sb.store.entries)
    assert first._walk.partitions >= 5
    requests = sb.stats.requests
    poll = changes_since(sandbox_client, first.checkpoint, page_size=PAGE, concurrency=5)
    assert [e async for e in poll] == []
    assert poll.pages == 1
    assert sb.stats.requests == requests + 1


async def test_sync_under_updates_that_move_entries_across_partitions(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock
) -> None:
    """Entries updated during the walk move to the open last partition (their updatedOn is
    now). Guarantee: entries not changed during the run come exactly once; a changed one
    comes at most once per version, versions in order; the next run delivers every final
    version not delivered yet."""
    store = sb.store
    clock.now = keys(sb, "updatedOn")[-1] + timedelta(seconds=1)
    initial = {i: e["resourceVersion"] for i, e in store.entries.items()}
    changed: set[str] = set()
    run = changes_since(sandbox_client, None, page_size=PAGE, concurrency=6)
    walk = run._walk
    walk._planner = eager(clock.now)
    order = sorted(store.entries, key=lambda i: store.entries[i]["updatedOn"])

    def update(number: int) -> None:
        clock.now += timedelta(seconds=1)
        for victim in (order[(number * 37) % len(order)], order[-1 - (number * 11) % 50]):
            entry = dict(store.entries[victim])
            entry["updatedOn"] = format_datetime(clock.now)
            entry["resourceVersion"] = int(entry["resourceVersion"]) + 1
            entry["note"] = f"changed {number}"
            store.add_entry(entry)
            changed.add(victim)

    before_each_request(walk, update)
    delivered = [(str(e.id), e.resource_version, e.updated_on) async for e in run]
    assert walk.partitions >= 6
    ids = [i for i, _, _ in delivered]
    for entry_id in set(initial) - changed:
        assert ids.count(entry_id) == 1, entry_id
    pairs = [(i, v) for i, v, _ in delivered]
    assert len(pairs) == len(set(pairs)), "a version was delivered twice"
    for entry_id in changed:
        versions = [v for i, v, _ in delivered if i == entry_id]
        assert versions == sorted(versions)
    stamps = [u for _, _, u in delivered]
    assert stamps == sorted(stamps)
    after = [
        (str(e.id), e.resource_version) async for e in changes_since(sandbox_client, run.checkpoint)
    ]
    final = {(i, store.entries[i]["resourceVersion"]) for i in changed}
    assert final <= set(pairs) | set(after)


# ------------------------------------------------------------------------------- checkpoints


async def test_crash_at_every_checkpoint_then_resume_is_byte_identical(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = keys(sb, "createdOn")[-1]
    monkeypatch.setattr(walk_module, "SplitPlanner", lambda page_size: eager(latest))
    options: dict[str, Any] = {"format": "jsonl", "page_size": PAGE, "concurrency": 4}
    whole = tmp_path / "whole.jsonl"
    with whole.open("wb") as output:
        await export_time_entries(sandbox_client, output, **options)
    expected = whole.read_bytes()
    total = len(sb.store.entries)
    every = 50
    # Pages are written whole, cut where a checkpoint (or a progress call) falls: crash at
    # every write of such a run (each ends at a checkpoint, a page end or a progress call).
    counting = CrashingWriter(cast(BinaryIO, io.BytesIO()), crash_at=0)
    await export_time_entries(
        sandbox_client,
        cast(BinaryIO, counting),
        checkpoint_path=tmp_path / "count.cp",
        checkpoint_every=every,
        **options,
    )
    assert counting.calls > total // every
    crash_points = range(2, counting.calls + 1)
    frontiers = crashed = 0
    for crash_at in crash_points:
        target, checkpoint = tmp_path / f"part{crash_at}.jsonl", tmp_path / f"{crash_at}.cp"
        with target.open("wb") as raw_output:
            writer = CrashingWriter(raw_output, crash_at, "power cut")
            try:
                await export_time_entries(
                    sandbox_client,
                    cast(BinaryIO, writer),
                    checkpoint_path=checkpoint,
                    checkpoint_every=every,
                    **options,
                )
            except OSError:
                if writer.calls != crash_at:
                    raise
                crashed += 1
            else:  # pages cut at partition bounds may differ from run to run: fewer writes
                assert crash_at > counting.calls - 8
                continue
        saved = load_checkpoint(checkpoint)
        if saved is not None:
            assert saved.count % every == 0
            frontiers += bool(saved.partitions)
            assert all(cut > (saved.created_on or cut) for cut in saved.partitions)
        with target.open("r+b") as output:
            await export_time_entries(
                sandbox_client,
                output,
                checkpoint_path=checkpoint,
                resume=True,
                checkpoint_every=every,
                **options,
            )
        assert target.read_bytes() == expected, f"crash at write {crash_at}"
        done = load_checkpoint(checkpoint)
        assert done is not None
        assert done.complete
    assert frontiers > 0, "no checkpoint recorded partitions ahead of the cursor"
    assert crashed > len(crash_points) - 8


async def test_a_resumed_walk_starts_with_the_recorded_partitions(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    created = keys(sb, "createdOn")
    cursor = KeysetCursor(created[40])
    cuts = (created[30], created[100], created[200], created[300])  # the first is behind it
    walk = KeysetWalk(
        sandbox_client, field="createdOn", page_size=PAGE, cursor=cursor, partitions=cuts
    )
    assert walk.cuts_after(cursor.key) == cuts[1:]
    got = await walk_ids(walk)
    assert walk.partitions >= 4
    sequential = KeysetWalk(
        sandbox_client, field="createdOn", page_size=PAGE, cursor=cursor, concurrency=1
    )
    assert [i for i, _, _ in got] == [i for i, _, _ in await walk_ids(sequential)]


def test_frontier_checkpoint_json_is_version_3_and_unknown_versions_are_refused() -> None:
    cuts = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, 0, 0, 0, 5, tzinfo=UTC))
    point = ExportCheckpoint(created_on=datetime(2024, 12, 1, tzinfo=UTC), count=3, partitions=cuts)
    data = orjson.loads(point.to_json())
    assert data["version"] == 3
    assert ExportCheckpoint.from_json(point.to_json()) == point
    assert orjson.loads(ExportCheckpoint(count=1).to_json())["version"] == 1
    data["version"] = 5
    with pytest.raises(ValueError, match="version 5, which this release of awork-async cannot"):
        ExportCheckpoint.from_json(orjson.dumps(data))
    data["version"] = 3
    data["partitions"] = [data["partitions"][1], data["partitions"][0]]
    with pytest.raises(ValueError, match="increasing"):
        ExportCheckpoint.from_json(orjson.dumps(data))


async def test_a_cut_made_while_a_page_waits_to_be_handed_over_lies_after_it(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """The lane of the page being read has its next page fetched and waits (prefetch 1): a cut
    chosen now must not fall inside that page, or its entries would come twice."""
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, concurrency=2)
    planner = FixedCuts([])
    walk._planner = planner
    second = asyncio.Event()
    original: Fetch = walk._fetch

    async def fetch(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        if walk.pages == 2:
            second.set()
        return result

    walk._fetch = fetch  # type: ignore[method-assign]
    ids: list[str] = []
    async with contextlib.aclosing(walk.rows()) as rows:
        row, _ = await rows.__anext__()
        ids.append(str(row["id"]))
        await second.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # the second page is scanned and waits to be handed over
        page_two = sorted(sb.store.entries.values(), key=lambda e: (e["createdOn"], e["id"]))
        inside = parse_utc_datetime(page_two[15]["createdOn"])
        planner.observe_total(len(sb.store.entries))
        planner.cuts = [inside]
        walk._split()
        ids.extend([str(row["id"]) async for row, _ in rows])
    assert len(ids) == len(set(ids)), "entries of the waiting page came twice"
    assert len(ids) == len(sb.store.entries)


@pytest.mark.parametrize(
    "start",
    [
        KeysetCursor(),
        KeysetCursor(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), (UUID(int=1), UUID(int=2))),
        KeysetCursor(datetime(2025, 1, 2, 3, 4, 5, 7, tzinfo=UTC), (UUID(int=1),), True, None),
    ],
)
def test_spilled_pages_round_trip_exactly(start: KeysetCursor) -> None:
    """A page goes to the temporary file as its entries' bytes, length-prefixed, and comes back
    the same (entries byte for byte, start cursor, and the keys and cursors read again)."""
    from awork_async._json_pages import _dump_page, _JsonPage, _load_page

    entries = [
        orjson.dumps({"id": str(UUID(int=3)), "createdOn": "2025-01-02T03:04:05Z", "n": [1]}),
        orjson.dumps({"id": str(UUID(int=2**127 + 5)), "createdOn": "2025-01-02T03:04:06Z"}),
        orjson.dumps({"id": str(UUID(int=9)), "createdOn": "2025-01-02T03:04:06Z", "note": "é"}),
    ]
    page = _JsonPage(entries, start, "createdOn")
    back = _load_page(_dump_page(page))
    assert back.entries == entries
    assert back.start == start
    assert back.field == "createdOn"
    assert back.keys == page.keys
    assert back.ids == page.ids
    assert back.cursors() == page.cursors()
    assert [back.cursor_after(i) for i in range(3)] == page.cursors()
    empty = _load_page(_dump_page(_JsonPage([], start, "updatedOn")))
    assert (empty.entries, empty.start, empty.field) == ([], start, "updatedOn")


# --------------------------------------------------------------------- offset-quantile partitions


@pytest.mark.parametrize(
    ("total", "page_size", "first", "count"),
    [
        (200_000, 1000, 1000, 20),
        (1_000_000, 1000, 1000, 20),
        (200_000, 1000, 1000, partition_count(200_000, 1000, 20)),
        (1_000_000, 1000, 1000, partition_count(1_000_000, 1000, 20)),
        (400, 10, 10, 20),
        (5_000, 100, 99, 7),
    ],
)
def test_offset_plan_starts_are_aligned_and_about_even(
    total: int, page_size: int, first: int, count: int
) -> None:
    """Partition i starts after the first entry of offset page i, and each further window
    brings ``page_size - 1`` new entries: the starts are chosen so that every partition's
    last window is (about) full, near even shares of the range."""
    plan = offset_plan(total, page_size, first, count)
    assert 0 < len(plan) <= count - 1
    starts = [(page - 1) * size for page, size in plan]
    assert starts == sorted(set(starts))
    assert starts[0] > first
    assert all(start + size <= total for start, (_, size) in zip(starts, plan, strict=True))
    assert all(page_size // 2 <= size <= page_size for _, size in plan)
    end, waste = first, 0.0
    for start, (_, size) in zip(starts, plan, strict=True):
        # What the offset page lacks of a full one, and what the last window of the
        # partition before it lacks of a full one (in requests).
        waste += (page_size - size) / page_size
        waste += (end - 1 - start) % (page_size - 1) / (page_size - 1)
        end = start + size
    widths = [b - a for a, b in itertools.pairwise([0, *starts, total])]
    # The first partition also takes the windows the others' aligned shares leave over.
    assert max(widths[1:]) <= total / (len(plan) + 1) + 2 * page_size
    assert widths[0] <= total / (len(plan) + 1) + 2 * page_size + len(plan) * page_size / 100
    if page_size >= 100:
        assert waste <= 1.0 + len(plan) / 1000  # a 1000th of a request per partition


def quantile_walk(client: AworkClient, concurrency: int = 6, page_size: int = PAGE) -> KeysetWalk:
    walk = KeysetWalk(client, field="createdOn", page_size=page_size, concurrency=concurrency)
    return walk


def before_each_offset(walk: KeysetWalk, action: Callable[[int], None]) -> None:
    """Run ``action(offset request number)`` right before each offset request of ``walk``."""
    before_each_request(walk, action, "_fetch_offset")


async def test_quantile_partitions_give_the_sequential_walk_with_its_requests(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    # Pages of 20: 10 entries leave the aligned starts too little room (see the plan test).
    size = 2 * PAGE
    sequential = KeysetWalk(sandbox_client, field="createdOn", page_size=size, concurrency=1)
    one = await walk_ids(sequential)
    concurrent = quantile_walk(sandbox_client, concurrency=4, page_size=size)
    many = await walk_ids(concurrent)
    assert [i for i, _, _ in many] == [i for i, _, _ in one]  # same entries, same order
    assert [c for _, _, c in many] == [c for _, _, c in one]  # same checkpoints
    # More partitions than lanes (started lazily, in key order).
    assert concurrent.partitions == partition_count(len(sb.store.entries), size, 4) > 4
    # The offset pages are the partitions' first windows; the partitions' last windows are
    # full. Small offset pages (a start aligned) cost a fraction of a request each.
    assert concurrent.pages <= sequential.pages + 2


class StartChurn:
    """Changes while the partitions are planned: before each offset request, entries are
    inserted (at existing keys: ties, and between them) and deleted all over the range;
    later, before each window, around every partition start."""

    def __init__(self, sandbox: Sandbox, walk: KeysetWalk) -> None:
        self.sandbox = sandbox
        self.walk = walk
        self.initial = set(sandbox.store.entries)
        self.inserted: set[str] = set()
        self.deleted: set[str] = set()

    def _delete(self, entry_id: str) -> None:
        if entry_id in self.sandbox.store.entries:
            self.sandbox.store.remove_entry(entry_id)
            self.deleted.add(entry_id)

    def offsets(self, number: int) -> None:
        order = self.sandbox.store.ordered_entries()
        for index in range(number, len(order), 23):
            self.inserted.add(
                insert_at(self.sandbox, parse_utc_datetime(order[index]["createdOn"]))
            )
        for index in range(number * 3, len(order), 31):
            self._delete(str(order[index]["id"]))

    def windows(self, number: int) -> None:
        if number < 2:
            return
        store = self.sandbox.store
        initial = [
            (parse_utc_datetime(e["createdOn"]), e["id"])
            for e in store.entries.values()
            if e["id"] in self.initial
        ]
        for part in self.walk._partitions:
            if part.hi is None:
                continue
            self.inserted.add(insert_at(self.sandbox, part.hi))
            self.inserted.add(insert_at(self.sandbox, part.hi - timedelta(microseconds=1)))
            # The initial entry still there nearest to the start (the smallest id of a tie).
            nearest = min(
                (
                    (abs((created - part.hi).total_seconds()), entry_id)
                    for created, entry_id in initial
                    if entry_id in store.entries
                ),
                default=None,
            )
            if nearest is not None:
                self._delete(str(nearest[1]))

    @property
    def stable(self) -> set[str]:
        return self.initial - self.deleted


@pytest.mark.parametrize("concurrency", [3, 8, 20])
async def test_churn_while_partitions_are_planned_gives_exactly_once(
    sb: Sandbox, sandbox_client: AworkClient, concurrency: int
) -> None:
    walk = quantile_walk(sandbox_client, concurrency=concurrency)
    churn = StartChurn(sb, walk)
    before_each_offset(walk, churn.offsets)
    before_each_request(walk, churn.windows)
    got = await walk_ids(walk)
    ids = [i for i, _, _ in got]
    assert walk.partitions > 1
    assert churn.deleted and churn.inserted
    assert len(ids) == len(set(ids)), "an entry was delivered twice"
    assert churn.stable <= set(ids), "an entry that existed throughout was missed"
    assert set(ids) <= churn.initial | churn.inserted
    stamps = [parse_utc_datetime(c) for _, c, _ in got]
    assert stamps == sorted(stamps), "not in createdOn order"


async def test_tie_groups_at_the_starts_and_an_offset_page_of_one_tie_group(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """Every offset page starts inside a tie group (the group stays in the partition before);
    one offset page is a single tie group (no start there: merged with the one before)."""
    order = sb.store.ordered_entries()
    created = [parse_utc_datetime(e["createdOn"]) for e in order]
    tied: set[str] = set()
    for index in range(0, len(created), 40):  # offset pages start every 40 or so (concurrency 10)
        tied |= {insert_at(sb, created[index]) for _ in range(3)}
    big = created[len(created) // 2]
    tied |= {insert_at(sb, big) for _ in range(3 * PAGE)}  # more than a page: a whole offset page
    walk = quantile_walk(sandbox_client, concurrency=10)
    got = await walk_ids(walk)
    ids = [i for i, _, _ in got]
    assert len(ids) == len(set(ids)) == len(sb.store.entries)
    assert tied <= set(ids)
    # At least the single-tie-group page added no partition.
    assert 1 < walk.partitions < partition_count(len(sb.store.entries), PAGE, 10)
    stamps = [parse_utc_datetime(c) for _, c, _ in got]
    assert stamps == sorted(stamps)
    bounds = [p.hi for p in walk._partitions if p.hi is not None]
    assert big not in bounds


async def test_empty_offset_pages_add_no_partition(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """Entries deleted between the first window and the offset requests: the last offset
    pages are empty, their ranges stay with the partition before."""
    initial = set(sb.store.entries)
    order = [str(e["id"]) for e in sb.store.ordered_entries()]
    deleted: set[str] = set()

    def delete_the_second_half(number: int) -> None:
        if number == 1:
            for entry_id in order[len(order) // 2 :]:
                sb.store.remove_entry(entry_id)
                deleted.add(entry_id)

    walk = quantile_walk(sandbox_client, concurrency=8)
    before_each_offset(walk, delete_the_second_half)
    got = await walk_ids(walk)
    ids = [i for i, _, _ in got]
    assert len(ids) == len(set(ids))
    assert set(ids) == initial - deleted
    assert 1 < walk.partitions < partition_count(len(initial), PAGE, 8)


async def test_a_lazy_walk_or_one_page_plans_no_partitions(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    lazy = KeysetWalk(sandbox_client, field="createdOn", page_size=PAGE, prefetch=0)
    offsets: list[int] = []
    before_each_offset(lazy, offsets.append)
    assert len(await walk_ids(lazy)) == len(sb.store.entries)
    assert offsets == []  # a walk asked one window at a time reads nothing ahead
    whole = KeysetWalk(sandbox_client, field="createdOn", page_size=1000)
    assert len(await walk_ids(whole)) == len(sb.store.entries)
    assert (whole.partitions, whole.pages) == (1, 1)


async def test_partitions_start_lazily_in_key_order(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """Many more partitions than lanes: their offset pages are read a few at a
    time as lanes free up (not all at once before the first page), each once."""
    walk = quantile_walk(sandbox_client, concurrency=3)
    pages: list[int] = []
    original: Fetch = walk._fetch_offset

    async def fetch(cursor: KeysetCursor, page: int, size: int) -> Any:
        pages.append(page)
        return await original(cursor, page, size)

    walk._fetch_offset = fetch  # type: ignore[method-assign]
    at_first_row: int | None = None
    ids: list[str] = []
    async for row, _ in walk.rows():
        if at_first_row is None:
            at_first_row = len(pages)
        ids.append(str(row["id"]))
    planned = partition_count(len(sb.store.entries), PAGE, 3) - 1
    assert len(ids) == len(set(ids)) == len(sb.store.entries)
    assert len(pages) == planned > 3
    assert at_first_row is not None and at_first_row <= 2 * 3 + 1 < planned
    assert walk.partitions == planned + 1


async def test_offset_pages_are_held_only_until_their_lane_takes_them(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """Memory stays bounded by the lanes, not by the number of partitions: a start's offset
    page is dropped once read, and its first window once its lane took it."""
    walk = quantile_walk(sandbox_client, concurrency=3)
    held: list[int] = []
    count = 0
    async for _ in walk.rows():
        count += 1
        starts = walk._starts
        if starts is not None:
            held.append(len(starts._firsts) + len(starts._fetches))
    planned = partition_count(len(sb.store.entries), PAGE, 3) - 1
    assert count == len(sb.store.entries) and planned > 3
    assert held and max(held) <= 3 + 2 < planned


async def _settle(rounds: int = 200) -> None:
    """Let every ready task run until nothing more happens (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.mark.parametrize("field", ["createdOn", "updatedOn"])
async def test_the_lanes_fan_out_right_after_the_first_window(
    sb: Sandbox, sandbox_client: AworkClient, field: str
) -> None:
    """One round trip (the first window), not two, before the lanes are busy: the offset
    pages of the first lanes' partitions are all requested before any of them answers (the
    first partition's bound no longer has to arrive before the other lanes start)."""
    concurrency = 6
    walk = KeysetWalk(sandbox_client, field=field, page_size=PAGE, concurrency=concurrency)
    gate = asyncio.Event()
    first_window = asyncio.Event()
    requested: list[tuple[int, int]] = []
    fetch: Fetch = walk._fetch
    offset: Fetch = walk._fetch_offset

    async def windows(*args: Any) -> Any:
        answer = await fetch(*args)
        first_window.set()
        return answer

    async def offsets(cursor: KeysetCursor, page: int, size: int) -> Any:
        requested.append((page, size))
        await gate.wait()  # a slow server: no offset page answers until the gate opens
        return await offset(cursor, page, size)

    walk._fetch = windows  # type: ignore[method-assign]
    walk._fetch_offset = offsets  # type: ignore[method-assign]
    run = asyncio.ensure_future(walk_ids(walk))
    await first_window.wait()
    await _settle()
    planned = partition_count(len(sb.store.entries), PAGE, concurrency) - 1
    assert planned > concurrency
    # Every lane's own offset page plus the next one (its upper bound), at once.
    assert len(requested) == len(set(requested)) == concurrency
    gate.set()
    got = await run
    assert len({i for i, _, _ in got}) == len(got) == len(sb.store.entries)


@pytest.mark.parametrize(
    ("total", "page_size", "concurrency"),
    [(200_000, 1000, 32), (1_000_000, 1000, 32), (1_779_197, 1000, 32), (400, 20, 4)],
)
def test_the_windows_that_do_not_fit_go_to_the_first_partition(
    total: int, page_size: int, concurrency: int
) -> None:
    """Aligned partitions hold a little less than an even share: the rest takes extra windows
    in the *first* partition (walked while every lane is busy), not in the last ones (started
    last: one lane walking on alone at the end of the walk), for the same requests."""
    count = partition_count(total, page_size, concurrency)
    plan = offset_plan(total, page_size, first=page_size, partitions=count)
    period = page_size - 1
    starts = [(page - 1) * size for page, size in plan]
    pages = [(0, page_size), *((s, size) for s, (_, size) in zip(starts, plan, strict=True))]
    requests = []
    for (start, size), end in zip(pages, [*starts, total - 1], strict=True):
        # Its first page, then windows of ``period`` new entries up to the next page's first.
        requests.append(1 + max(1, -(-(end - (start + size - 1)) // period)))
    sequential = 1 + -(-(total - page_size) // period)
    assert sum(requests) <= sequential + 2
    assert max(requests[1:]) == 2  # every partition but the first: its page and one window
    assert requests[0] > 2


async def test_the_last_partitions_take_no_more_windows_than_the_others(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """Against the sandbox: every partition but the first reads its offset page and one window
    (the first partition walks the windows that do not fit), for the sequential requests."""
    size = 2 * PAGE
    sequential = KeysetWalk(sandbox_client, field="createdOn", page_size=size, concurrency=1)
    one = await walk_ids(sequential)
    walk = quantile_walk(sandbox_client, concurrency=4, page_size=size)
    uppers: list[datetime | str | None] = []
    fetch: Fetch = walk._fetch

    async def windows(cursor: KeysetCursor, upper: datetime | None = None) -> Any:
        uppers.append("first window" if cursor.key is None else upper)
        return await fetch(cursor, upper)

    walk._fetch = windows  # type: ignore[method-assign]
    many = await walk_ids(walk)
    assert [i for i, _, _ in many] == [i for i, _, _ in one]
    assert walk.pages <= sequential.pages + 2  # as in the test above (ties at starts)
    first_bound = walk._partitions[0].hi
    per_partition = {bound: uppers.count(bound) for bound in set(uppers)}
    assert per_partition.pop("first window") == 1
    assert per_partition.pop(first_bound) >= 2  # the windows that do not fit elsewhere
    assert walk.partitions > 4 and set(per_partition.values()) == {1}
