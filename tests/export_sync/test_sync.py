"""Incremental sync against the sandbox: changes since a checkpoint, overlap, de-duplication."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from _helpers import SandboxClock

from awork_async import APIResponseValidationError, AworkClient
from awork_async._timeutil import format_datetime, parse_utc_datetime
from awork_async.models import TimeEntryCreate, TimeEntryUpdate
from awork_async.sandbox import Sandbox
from awork_async.sync import (
    IncrementalSync,
    SyncCheckpoint,
    SyncPage,
    changes_since,
    load_checkpoint,
    save_checkpoint,
)

UTC = timezone.utc


pytestmark = [pytest.mark.awork_sandbox(entries=80, seed=3), pytest.mark.sandbox_clock]


async def _run(
    awork: AworkClient, checkpoint: SyncCheckpoint | None, **options: object
) -> tuple[list[str], IncrementalSync]:
    changes = changes_since(awork, checkpoint, page_size=9, **options)  # type: ignore[arg-type]
    ids = [str(entry.id) async for entry in changes]
    return ids, changes


def _type_of_work(sandbox: Sandbox) -> str:
    return next(i for i, t in sandbox.store.types_of_work.items() if not t.get("isArchived"))


async def _modify(awork: AworkClient, sandbox: Sandbox, entry_id: str, note: str) -> None:
    start = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
    form = TimeEntryUpdate.from_span(
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/Berlin",
        type_of_work_id=_type_of_work(sandbox),
        note=note,
    )
    await awork.time_entries.update(entry_id, form)


async def _create(awork: AworkClient, sandbox: Sandbox) -> str:
    start = datetime(2025, 8, 2, 9, 0, tzinfo=UTC)
    form = TimeEntryCreate.from_span(
        start=start,
        duration=1800,
        timezone="Europe/Berlin",
        type_of_work_id=_type_of_work(sandbox),
        user_id=sandbox.store.me_id,
    )
    return str((await awork.time_entries.create(form)).id)


async def test_first_run_then_changes_then_nothing(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock
) -> None:
    first, run = await _run(sandbox_client, None)
    assert sorted(first) == sorted(sb.store.entries)
    assert len(first) == len(set(first))
    checkpoint = run.checkpoint
    assert checkpoint.updated_on == max(
        datetime.fromisoformat(e["updatedOn"].replace("Z", "+00:00"))
        for e in sb.store.entries.values()
    )

    changed = sorted(sb.store.entries)[10:15]
    expected = set(changed)
    for n, entry_id in enumerate(changed):
        clock.tick(0.0004)  # several writes inside one millisecond: identical updatedOn
        await _modify(sandbox_client, sb, entry_id, f"edit {n}")
    for _ in range(4):
        clock.tick(2)
        expected.add(await _create(sandbox_client, sb))
    await _modify(sandbox_client, sb, changed[0], "edited twice")  # latest version only

    second, run = await _run(sandbox_client, SyncCheckpoint.from_json(checkpoint.to_json()))
    assert sorted(second) == sorted(expected)
    assert run.checkpoint.updated_on == clock.now

    third, run3 = await _run(sandbox_client, run.checkpoint)
    assert third == []
    assert run3.skipped > 0, "the overlap re-read entries without delivering them again"
    assert run3.checkpoint == run.checkpoint


async def test_overlap_catches_late_commits_without_duplicates(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    _, run = await _run(sandbox_client, None)
    checkpoint = run.checkpoint
    assert checkpoint.updated_on is not None
    watermark = checkpoint.updated_on
    store = sb.store
    late, too_late = sorted(store.entries)[:2]

    def commit(entry_id: str, at: datetime) -> None:
        store.entries[entry_id]["updatedOn"] = format_datetime(at)
        store.entries[entry_id]["resourceVersion"] += 1
        store.touch()

    commit(late, watermark - timedelta(minutes=2))  # committed late, stamped in the past
    commit(too_late, watermark - timedelta(minutes=20))  # older than the overlap: invisible
    second, run2 = await _run(sandbox_client, checkpoint)
    assert second == [late]
    third, _ = await _run(sandbox_client, run2.checkpoint)
    assert third == []

    wide, _ = await _run(sandbox_client, checkpoint, overlap=timedelta(hours=1))
    assert sorted(wide) == sorted([late, too_late])


async def test_seen_set_stays_bounded(sb: Sandbox, sandbox_client: AworkClient) -> None:
    _, run = await _run(sandbox_client, None, overlap=timedelta(minutes=5))
    checkpoint = run.checkpoint
    assert checkpoint.updated_on is not None
    floor = checkpoint.updated_on - timedelta(minutes=5)
    inside = {
        (UUID(i), e["resourceVersion"])
        for i, e in sb.store.entries.items()
        if datetime.fromisoformat(e["updatedOn"].replace("Z", "+00:00")) >= floor
    }
    assert set(checkpoint.seen) == inside
    assert len(checkpoint.seen) < len(sb.store.entries)


async def test_tie_group_of_updated_on(sb: Sandbox, sandbox_client: AworkClient) -> None:
    _, run = await _run(sandbox_client, None)
    bulk = sorted(sb.store.entries)[20:41]
    for entry_id in bulk:  # a batch operation stamps many entries with one instant
        sb.store.entries[entry_id]["updatedOn"] = "2026-01-01T00:00:00Z"
        sb.store.entries[entry_id]["resourceVersion"] += 1
    sb.store.touch()
    second, run2 = await _run(sandbox_client, run.checkpoint)
    assert sorted(second) == sorted(bulk)
    assert len(run2.checkpoint.seen) == len(bulk)
    third, _ = await _run(sandbox_client, run2.checkpoint)
    assert third == []


async def test_filter_restricts_the_sync(sb: Sandbox, sandbox_client: AworkClient) -> None:
    ids, _ = await _run(sandbox_client, None, filterby="isBillable eq true")
    assert sorted(ids) == sorted(i for i, e in sb.store.entries.items() if e["isBillable"])


async def test_checkpoint_only_after_full_consumption(sandbox_client: AworkClient) -> None:
    changes = changes_since(sandbox_client, None, page_size=5)
    with pytest.raises(RuntimeError, match="iterated to the end"):
        _ = changes.checkpoint
    async for _ in changes:
        break
    assert not changes.complete
    with pytest.raises(RuntimeError, match="iterated to the end"):
        _ = changes.checkpoint
    with pytest.raises(RuntimeError, match="only once"):
        changes.__aiter__()
    batch = await changes_since(sandbox_client, None).collect()
    assert len(batch.entries) == 80
    assert batch.checkpoint.updated_on is not None


def test_sync_checkpoint_json_round_trip(tmp_path: Path) -> None:
    checkpoint = SyncCheckpoint(
        updated_on=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        seen=((UUID(int=7), 638_700_000_000_000_123), (UUID(int=8), 1)),
    )
    assert SyncCheckpoint.from_json(checkpoint.to_json()) == checkpoint
    assert SyncCheckpoint.from_json(SyncCheckpoint().to_json()) == SyncCheckpoint()
    path = tmp_path / "state.json"
    assert load_checkpoint(path) is None
    save_checkpoint(path, checkpoint)
    assert load_checkpoint(path) == checkpoint
    assert not (tmp_path / "state.json.tmp").exists()


@pytest.mark.parametrize(
    "text",
    [
        "nope",
        '{"version": 2}',
        '{"version": 1, "updatedOn": 5}',
        '{"version": 1, "seen": {}}',
        '{"version": 1, "seen": [["x"]]}',
        '{"version": 1, "seen": [["00000000-0000-0000-0000-000000000001", true]]}',
    ],
)
def test_sync_checkpoint_rejects_malformed_json(text: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        SyncCheckpoint.from_json(text)


def test_overlap_must_not_be_negative() -> None:
    client = AworkClient(token="t", base_url="http://127.0.0.1:1/api/v1")
    with pytest.raises(ValueError, match="overlap"):
        changes_since(client, None, overlap=timedelta(seconds=-1))


async def test_raw_mode_yields_the_json_objects_and_the_same_checkpoint(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    typed = changes_since(sandbox_client, None, page_size=9)
    entries = [entry async for entry in typed]
    raw = changes_since(sandbox_client, None, page_size=9, raw=True)
    rows = [row async for row in raw]
    assert all(isinstance(row, dict) for row in rows)
    assert [row["id"] for row in rows] == [str(entry.id) for entry in entries]
    assert [row["resourceVersion"] for row in rows] == [e.resource_version for e in entries]
    assert raw.checkpoint == typed.checkpoint
    again = changes_since(sandbox_client, raw.checkpoint, page_size=9, raw=True)
    assert [row async for row in again] == []
    assert again.skipped > 0


async def test_raw_mode_refuses_a_wrong_typed_resource_version(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    bad = sorted(sb.store.entries)[3]
    sb.store.entries[bad]["resourceVersion"] = "7"
    with pytest.raises(APIResponseValidationError, match="resourceVersion") as caught:
        async for _row in changes_since(sandbox_client, None, page_size=9, raw=True):
            pass
    assert bad in str(caught.value)


async def test_raw_pages_give_each_entry_as_its_json_with_the_same_run(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """``raw_pages()``: the entries of a ``raw=True`` run, a page at a time, each as the JSON
    awork sent (bytes), with their ids, updatedOn and resourceVersion; the same checkpoint."""
    raw = changes_since(sandbox_client, None, page_size=9, raw=True)
    rows = [row async for row in raw]
    paged = changes_since(sandbox_client, None, page_size=9)
    pages = [page async for page in paged.raw_pages()]
    assert all(isinstance(page, SyncPage) and page.entries for page in pages)
    entries = [entry for page in pages for entry in page.entries]
    assert all(isinstance(entry, bytes) for entry in entries)
    assert [orjson.loads(entry) for entry in entries] == rows
    assert [i for page in pages for i in page.ids] == [UUID(row["id"]) for row in rows]
    assert [v for page in pages for v in page.versions] == [r["resourceVersion"] for r in rows]
    assert [u for page in pages for u in page.updated_on] == [
        parse_utc_datetime(row["updatedOn"]) for row in rows
    ]
    assert paged.checkpoint == raw.checkpoint
    assert paged.delivered == len(rows)
    again = changes_since(sandbox_client, paged.checkpoint, page_size=9)
    assert [page async for page in again.raw_pages()] == []
    assert again.skipped > 0
    with pytest.raises(RuntimeError, match="once"):
        paged.raw_pages()


async def test_raw_pages_refuse_a_wrong_typed_resource_version_after_the_entries_before_it(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    bad = sorted(sb.store.entries)[3]
    sb.store.entries[bad]["resourceVersion"] = "7"
    sb.store.touch()
    got: list[bytes] = []

    async def drain() -> None:
        async for page in changes_since(sandbox_client, None, page_size=1000).raw_pages():
            got.extend(page.entries)

    with pytest.raises(APIResponseValidationError, match="resourceVersion") as caught:
        await drain()
    assert bad in str(caught.value)
    assert bad not in b"".join(got).decode()
    assert len(got) < len(sb.store.entries)
