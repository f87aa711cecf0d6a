"""Consistent export: keyset windows against the sandbox, checkpoints, JSONL/CSV, resume."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, cast
from uuid import UUID

import orjson
import pytest
from _helpers import CrashingWriter
from aioresponses import aioresponses

from awork_async import APIResponseValidationError, AworkClient
from awork_async._converter import structure
from awork_async.export import (
    CSV_COLUMNS,
    ExportCheckpoint,
    ExportFormat,
    ExportSummary,
    KeysetCursor,
    KeysetWalk,
    entry_to_json_line,
    entry_to_row,
    export_time_entries,
    iter_time_entries_consistent,
    load_checkpoint,
    window_query,
)
from awork_async.filters import F, OrderBy, desc, order_by
from awork_async.models import TimeEntry
from awork_async.sandbox import Sandbox

UTC = timezone.utc
DATA = Path(__file__).resolve().parents[1] / "data"


pytestmark = pytest.mark.awork_sandbox(entries=90, seed=7)


class Churn:
    """Deterministic concurrent changes, applied between pages by the test itself.

    Steps alternate: delete three entries already delivered (offset pages then skip) plus one
    not yet delivered (gone: it may or may not be delivered); then insert three entries before
    everything (offset pages then repeat) plus one at a random place.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.store = sandbox.store
        self.initial = set(self.store.entries)
        self.deleted: set[str] = set()
        self.inserted: set[str] = set()
        self.steps = 0

    def step(self, delivered: list[str]) -> None:
        self.steps += 1
        if self.steps % 2:
            gone = [i for i in delivered if i in self.store.entries][:3]
            pending = sorted(set(self.store.entries) - set(delivered) - self.inserted)
            if pending:
                gone.append(pending[len(pending) // 2])
            for entry_id in gone:
                self.store.remove_entry(entry_id)
            self.deleted.update(gone)
        else:
            self.inserted.update(self.store.insert_entries(3, position="first"))
            self.inserted.update(self.store.insert_entries(1, position="random"))

    @property
    def stable(self) -> set[str]:
        """Entries that existed for the whole export."""
        return self.initial - self.deleted


async def test_consistent_export_delivers_stable_entries_exactly_once(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    churn = Churn(sb)
    delivered: list[str] = []
    async for entry, point in iter_time_entries_consistent(sandbox_client, page_size=10):
        delivered.append(str(entry.id))
        assert point.count == len(delivered)
        if len(delivered) % 10 == 0:  # after each full page, before the next request
            churn.step(delivered)
    assert len(delivered) == len(set(delivered)), "an entry was delivered twice"
    assert churn.stable <= set(delivered), "an entry that existed throughout was skipped"
    assert set(delivered) <= churn.initial | churn.inserted
    assert churn.deleted, "the scenario must have deleted entries"


async def test_offset_pagination_drifts_in_the_same_scenario(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    churn = Churn(sb)
    delivered: list[str] = []
    async for page in sandbox_client.time_entries.list(
        orderby="createdOn,id", page_size=10
    ).pages():
        delivered.extend(str(entry.id) for entry in page.items)
        churn.step(delivered)
    missing = churn.stable - set(delivered)
    repeated = len(delivered) - len(set(delivered))
    assert missing, "offset pages should have skipped entries"
    assert repeated > 0, "offset pages should have repeated entries"


async def test_raw_entries_and_order(sb: Sandbox, sandbox_client: AworkClient) -> None:
    rows = [
        row async for row, _ in iter_time_entries_consistent(sandbox_client, page_size=7, raw=True)
    ]
    assert all(isinstance(row, dict) for row in rows)
    keys = [(str(row["createdOn"]), str(row["id"])) for row in rows]
    assert [k[1] for k in keys] == [
        str(e["id"]) for e in sorted(sb.store.entries.values(), key=_created_key)
    ]


def _created_key(entry: dict[str, object]) -> tuple[datetime, str]:
    return datetime.fromisoformat(str(entry["createdOn"]).replace("Z", "+00:00")), str(entry["id"])


async def test_filter_is_combined_with_the_window(sb: Sandbox, sandbox_client: AworkClient) -> None:
    expected = {i for i, e in sb.store.entries.items() if e["isBillable"]}
    got = [
        str(entry.id)
        async for entry, _ in iter_time_entries_consistent(
            sandbox_client,
            filterby=F.is_billable.eq(True),
            page_size=6,
        )
    ]
    assert sorted(got) == sorted(expected)


def _pile_up(sandbox: Sandbox, count: int, stamp: str) -> list[str]:
    """Give ``count`` entries the same ``createdOn`` (a bulk import)."""
    ids = sorted(sandbox.store.entries)[:count]
    for entry_id in ids:
        sandbox.store.entries[entry_id]["createdOn"] = stamp
    sandbox.store.touch()
    return ids


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-03-01T12:00:00Z"],
        # 7 fractional digits (server ticks) that all truncate to the same microsecond
        ["2024-03-01T12:00:00.1234567Z", "2024-03-01T12:00:00.1234569Z"],
    ],
)
async def test_more_identical_created_on_than_a_page(
    sb: Sandbox, sandbox_client: AworkClient, stamps: list[str]
) -> None:
    ids = sorted(sb.store.entries)[:23]
    for n, entry_id in enumerate(ids):
        sb.store.entries[entry_id]["createdOn"] = stamps[n % len(stamps)]
    sb.store.touch()
    before = sb.stats.requests
    delivered = [
        str(e.id) async for e, _ in iter_time_entries_consistent(sandbox_client, page_size=4)
    ]
    assert sorted(delivered) == sorted(sb.store.entries)
    assert sb.stats.requests - before < 60, "the walk must not loop"


async def test_tie_group_survives_changes_and_resumes_mid_group(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    group = _pile_up(sb, 20, "2024-03-01T12:00:00Z")
    all_ids = set(sb.store.entries)
    first: list[str] = []
    saved: ExportCheckpoint | None = None
    async for entry, point in iter_time_entries_consistent(sandbox_client, page_size=4):
        first.append(str(entry.id))
        if point.in_group and point.group_after is not None and saved is None:
            saved = point
            break
    assert saved is not None, "the walk should have entered the tie group"
    restored = ExportCheckpoint.from_json(saved.to_json())
    assert restored == saved
    rest = [
        str(e.id)
        async for e, _ in iter_time_entries_consistent(
            sandbox_client, page_size=4, checkpoint=restored
        )
    ]
    assert not set(first) & set(rest)
    assert sorted(first + rest) == sorted(all_ids)
    assert set(group) <= set(first + rest)


# --------------------------------------------------------------------------- pure helpers


def test_window_query_shapes() -> None:
    x = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    y = UUID("12345678-aaaa-bbbb-cccc-ddddeeeeffff")
    assert window_query("createdOn", KeysetCursor()) == (None, "createdOn,id")
    assert window_query("createdOn", KeysetCursor(x), "isBillable eq true or isBilled eq true") == (
        "(isBillable eq true or isBilled eq true) and "
        "createdOn ge datetime'2024-05-01T08:30:15.123456'",
        "createdOn,id",
    )
    group = KeysetCursor(x, (), in_group=True, group_after=y)
    assert window_query("updatedOn", group) == (
        "updatedOn ge datetime'2024-05-01T08:30:15.123456' and "
        "updatedOn lt datetime'2024-05-01T08:30:15.123457' and "
        "id gt guid'12345678-aaaa-bbbb-cccc-ddddeeeeffff'",
        "id",
    )


def test_checkpoint_json_round_trip() -> None:
    point = ExportCheckpoint(
        created_on=datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC),
        boundary_ids=(UUID(int=1), UUID(int=2)),
        in_group=True,
        group_after=UUID(int=3),
        count=42,
        filterby="isBillable eq true",
        byte_offset=1234,
        format="csv",
        complete=True,
    )
    assert ExportCheckpoint.from_json(point.to_json()) == point
    assert ExportCheckpoint.from_json(ExportCheckpoint().to_json()) == ExportCheckpoint()


def test_checkpoint_json_of_an_ordered_export() -> None:
    point = ExportCheckpoint(
        count=16, orderby="duration desc,id", page_size=8, start_page=3, byte_offset=99
    )
    data = orjson.loads(point.to_json())
    assert data["version"] == 2  # version-1 readers refuse it instead of misreading it
    assert (data["orderby"], data["pageSize"], data["startPage"]) == ("duration desc,id", 8, 3)
    assert ExportCheckpoint.from_json(point.to_json()) == point


def test_keyset_checkpoint_json_is_unchanged() -> None:
    # A keyset checkpoint keeps the version-1 shape, and version-1 files read with the defaults.
    data = orjson.loads(ExportCheckpoint(count=4, byte_offset=10, format="csv").to_json())
    assert data["version"] == 1
    assert not {"orderby", "pageSize", "startPage"} & set(data)
    old = '{"version": 1, "count": 4, "byteOffset": 10, "format": "csv", "complete": false}'
    restored = ExportCheckpoint.from_json(old)
    assert restored == ExportCheckpoint(count=4, byte_offset=10, format="csv")
    assert (restored.orderby, restored.page_size, restored.start_page) == (None, None, 1)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 99}',
        '{"version": 1, "count": -1}',
        '{"version": 1, "boundaryIds": [1]}',
        '{"version": 1, "inGroup": "yes"}',
        '{"version": 1, "byteOffset": true}',
        '{"version": 2, "orderby": "id", "startPage": 0}',
        '{"version": 2, "orderby": 5}',
    ],
)
def test_checkpoint_rejects_malformed_json(text: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        ExportCheckpoint.from_json(text)


def _sample_entry() -> TimeEntry:
    return structure(orjson.loads((DATA / "time_entry.json").read_bytes()), TimeEntry)


def test_entry_to_row_follows_the_column_order() -> None:
    entry = _sample_entry()
    row = entry_to_row(entry)
    assert tuple(row) == CSV_COLUMNS
    assert row["id"] == str(entry.id)
    assert row["start"] == "2022-03-01T09:21:00Z"
    assert row["end"] == "2022-03-01T11:45:00Z"
    assert row["start_date"] == "2022-03-01"
    assert row["is_billable"] == "true"
    assert row["is_billed"] == "false"
    assert row["duration"] == str(entry.duration)
    assert row["timezone"] == "Europe/Berlin"


def test_csv_columns_are_stable() -> None:
    # The CLI and users' spreadsheets depend on this order: append new columns, never reorder.
    assert CSV_COLUMNS[:6] == ("id", "start", "end", "start_date", "duration", "break_duration")
    assert len(CSV_COLUMNS) == len(set(CSV_COLUMNS)) == 20


def test_json_line_round_trips_a_model() -> None:
    entry = _sample_entry()
    line = entry_to_json_line(entry)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert structure(orjson.loads(line), TimeEntry) == entry
    assert b'"typeOfWorkId"' in line  # camelCase like the API


# ----------------------------------------------------------------------------- file export


async def test_jsonl_export_parses_back_to_the_entries(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    progress: list[tuple[int, int | None]] = []
    target = tmp_path / "out.jsonl"
    with target.open("wb") as output:
        summary = await export_time_entries(
            sandbox_client,
            output,
            format="jsonl",
            page_size=20,
            checkpoint_path=tmp_path / "cp.json",
            checkpoint_every=25,
            on_progress=lambda done, total: progress.append((done, total)),
        )
    lines = target.read_bytes().splitlines()
    exported = [structure(orjson.loads(line), TimeEntry) for line in lines]
    listed = {e.id: e async for e in sandbox_client.time_entries.list()}
    assert len(exported) == len(listed) == 90
    assert all(listed[e.id] == e for e in exported)
    assert summary.entries == 90
    assert summary.requests == summary.pages >= 5
    assert summary.retries == summary.rate_limited == 0
    assert progress[-1] == (90, 90)
    # once per page (page_size=20), not per checkpoint interval, and at the end
    assert [done for done, _ in progress] == [20, 40, 60, 80, 90]
    final = load_checkpoint(tmp_path / "cp.json")
    assert final is not None
    assert final.complete
    assert final.count == 90
    assert final.byte_offset == target.stat().st_size


async def test_csv_export_header_and_rows(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    sb.store.entries[sorted(sb.store.entries)[0]]["note"] = 'multi\nline, "quoted"'
    sb.store.touch()
    buffer = io.BytesIO()
    await export_time_entries(sandbox_client, buffer, format="csv", page_size=50)
    text = buffer.getvalue().decode()
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 90
    assert sorted(row["id"] for row in rows) == sorted(sb.store.entries)
    assert 'multi\nline, "quoted"' in {row["note"] for row in rows}


@pytest.mark.parametrize("orderby", [None, "duration desc,id"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_resume_after_a_crash_is_byte_identical(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, fmt: str, orderby: str | None
) -> None:
    whole = tmp_path / "whole.out"
    with whole.open("wb") as output:
        await export_time_entries(
            sandbox_client,
            output,
            format=fmt,  # type: ignore[arg-type]
            orderby=orderby,
            page_size=8,
        )

    target, checkpoint = tmp_path / "part.out", tmp_path / "part.cp"
    with target.open("wb") as raw_output:
        # The 15th write: a consistent export writes a page at a time (cut at checkpoints and
        # progress calls), an ordered one an entry at a time.
        crashing = cast(BinaryIO, CrashingWriter(raw_output, crash_at=15))
        with pytest.raises(OSError, match="disk on fire"):
            await export_time_entries(
                sandbox_client,
                crashing,
                format=fmt,  # type: ignore[arg-type]
                orderby=orderby,
                page_size=8,
                checkpoint_path=checkpoint,
                checkpoint_every=7,
            )
    saved = load_checkpoint(checkpoint)
    assert saved is not None
    assert not saved.complete
    assert saved.count > 0
    assert saved.orderby == orderby
    if orderby is not None:  # ordered exports checkpoint at page boundaries
        assert saved.start_page > 1
        assert saved.count == (saved.start_page - 1) * 8
    assert target.stat().st_size > (saved.byte_offset or 0), "the crash left a torn tail"
    assert not target.read_bytes().endswith(b"\n")

    with target.open("r+b") as output:
        summary = await export_time_entries(
            sandbox_client,
            output,
            format=fmt,  # type: ignore[arg-type]
            orderby=orderby,
            page_size=8,
            checkpoint_path=checkpoint,
            resume=True,
            checkpoint_every=7,
        )
    assert target.read_bytes() == whole.read_bytes()
    assert summary.entries == 90 - saved.count
    if orderby is not None:  # pages 1 .. start_page-1 were not fetched again
        # (+1: a paginator started mid-list may read one empty page past the end)
        assert summary.pages <= 12 - saved.start_page + 2


async def test_resume_refuses_another_format_or_filter(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "cp.json"
    target = tmp_path / "out.jsonl"
    with target.open("wb") as output:
        await export_time_entries(
            sandbox_client, output, format="jsonl", checkpoint_path=checkpoint, page_size=50
        )
    with target.open("r+b") as output:
        with pytest.raises(ValueError, match="jsonl export"):
            await export_time_entries(
                sandbox_client, output, format="csv", checkpoint_path=checkpoint, resume=True
            )
        with pytest.raises(ValueError, match="filterby"):
            await export_time_entries(
                sandbox_client,
                output,
                format="jsonl",
                filterby="isBillable eq true",
                checkpoint_path=checkpoint,
                resume=True,
            )
    with pytest.raises(ValueError, match="filterby"):
        iter_time_entries_consistent(
            sandbox_client, filterby="isBilled eq true", checkpoint=ExportCheckpoint(count=3)
        )


async def test_resume_of_a_complete_export_adds_only_new_entries(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    checkpoint, target = tmp_path / "cp.json", tmp_path / "out.jsonl"
    with target.open("wb") as output:
        await export_time_entries(
            sandbox_client, output, format="jsonl", checkpoint_path=checkpoint, page_size=30
        )
    new = sb.store.insert_entries(3, position="last")
    for entry_id in new:  # created now, as the API would stamp them
        sb.store.entries[entry_id]["createdOn"] = "2099-01-01T00:00:00Z"
    sb.store.touch()
    with target.open("r+b") as output:
        summary = await export_time_entries(
            sandbox_client, output, format="jsonl", checkpoint_path=checkpoint, resume=True
        )
    assert summary.entries == 3
    ids = [orjson.loads(line)["id"] for line in target.read_bytes().splitlines()]
    assert len(ids) == len(set(ids)) == 93
    assert ids[-3:] == sorted(new)


async def test_summary_counts_rate_limits_and_retries(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    sb.faults.inject_next("rate_limit", 1)
    sb.faults.inject_next("error", 1, status=503)
    summary = await export_time_entries(sandbox_client, io.BytesIO(), format="jsonl", page_size=50)
    assert summary.entries == 90
    assert summary.rate_limited == 1
    assert summary.retries == 2
    assert summary.requests == summary.pages + 2


async def test_out_of_order_answers_are_refused(sandbox_client: AworkClient) -> None:
    base = sandbox_client.base_url
    rows = [
        {"id": str(UUID(int=2)), "createdOn": "2024-01-02T00:00:00Z"},
        {"id": str(UUID(int=1)), "createdOn": "2024-01-01T00:00:00Z"},
    ]
    with aioresponses(passthrough=[]) as mocked:
        mocked.get(re.compile(re.escape(base) + r"/timeentries.*"), payload=rows)
        with pytest.raises(APIResponseValidationError, match="order"):
            async for _ in iter_time_entries_consistent(sandbox_client, raw=True):
                pass


async def test_walk_without_prefetch_gives_the_same_rows(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    async def ids(prefetch: bool) -> list[str]:
        walk = KeysetWalk(sandbox_client, field="createdOn", page_size=11, prefetch=prefetch)
        return [str(row["id"]) async for row, _ in walk.rows()]

    assert await ids(True) == await ids(False)


@pytest.mark.parametrize("concurrency", [1, 20])
async def test_stopping_early_cancels_the_prefetched_window(
    sandbox_client: AworkClient, concurrency: int
) -> None:
    walk = KeysetWalk(sandbox_client, field="createdOn", page_size=5, concurrency=concurrency)
    async with contextlib.aclosing(walk.rows()) as rows:
        seen = 0
        async for _ in rows:
            seen += 1
            if seen == 7:
                break
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "_fetch" in repr(t.get_coro())]
    # One window ahead; a concurrent walk also read its partitions' first (offset) pages.
    assert walk.pages <= 3 + (concurrency - 1) * 2


# ---------------------------------------------------------------------------- ordered export


def _duration_desc_then_id(sandbox: Sandbox) -> list[str]:
    entries = sandbox.store.entries.values()
    return [str(e["id"]) for e in sorted(entries, key=lambda e: (-int(e["duration"]), e["id"]))]


@pytest.mark.parametrize("orderby", ["duration desc,id", order_by(desc(F.duration), F.id)])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_ordered_export_follows_the_requested_order(
    sb: Sandbox,
    sandbox_client: AworkClient,
    tmp_path: Path,
    fmt: ExportFormat,
    orderby: str | OrderBy,
) -> None:
    checkpoint = tmp_path / "cp.json"
    buffer = io.BytesIO()
    progress: list[tuple[int, int | None]] = []
    summary = await export_time_entries(
        sandbox_client,
        buffer,
        format=fmt,
        orderby=orderby,
        page_size=7,
        checkpoint_path=checkpoint,
        checkpoint_every=10,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    if fmt == "jsonl":
        ids = [orjson.loads(line)["id"] for line in buffer.getvalue().splitlines()]
    else:
        ids = [row["id"] for row in csv.DictReader(io.StringIO(buffer.getvalue().decode()))]
    expected = _duration_desc_then_id(sb)
    assert len(set(expected)) == 90
    assert ids == expected
    assert summary.entries == 90
    assert summary.pages == 13  # 90 entries in pages of 7
    # progress once per page of 7, whatever the checkpoint interval
    assert [done for done, _ in progress] == [*range(7, 90, 7), 90]
    assert progress[-1] == (90, 90)
    final = load_checkpoint(checkpoint)
    assert final is not None
    assert final.complete
    assert (final.orderby, final.page_size, final.count) == ("duration desc,id", 7, 90)
    assert final.byte_offset == len(buffer.getvalue())


async def test_ordered_export_with_a_filter_and_without_prefetch(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    async def export(prefetch: int) -> bytes:
        buffer = io.BytesIO()
        await export_time_entries(
            sandbox_client,
            buffer,
            format="jsonl",
            filterby=F.is_billable.eq(True),
            orderby="duration desc,id",
            page_size=5,
            prefetch=prefetch,
        )
        return buffer.getvalue()

    sequential = await export(0)
    assert sequential == await export(4)
    billable = {i for i, e in sb.store.entries.items() if e["isBillable"]}
    ids = [orjson.loads(line)["id"] for line in sequential.splitlines()]
    assert ids == [i for i in _duration_desc_then_id(sb) if i in billable]


async def test_resume_refuses_another_order_mode_or_page_size(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    ordered, keyset = tmp_path / "ordered.cp", tmp_path / "keyset.cp"
    target = tmp_path / "out.jsonl"
    for checkpoint, orderby in ((ordered, "duration desc,id"), (keyset, None)):
        with target.open("wb") as output:
            await export_time_entries(
                sandbox_client,
                output,
                format="jsonl",
                orderby=orderby,
                page_size=50,
                checkpoint_path=checkpoint,
            )
    refused = [
        (ordered, "duration asc,id", 50, "orderby='duration desc,id', not 'duration asc,id'"),
        (ordered, None, 50, "belongs to an ordered export"),
        (ordered, "duration desc,id", 40, "page_size=50, not 40"),
        (keyset, "duration desc,id", 50, "belongs to a consistent export"),
    ]
    for checkpoint, orderby, page_size, message in refused:
        before = target.read_bytes()
        with target.open("r+b") as output, pytest.raises(ValueError, match=re.escape(message)):
            await export_time_entries(
                sandbox_client,
                output,
                format="jsonl",
                orderby=orderby,
                page_size=page_size,
                checkpoint_path=checkpoint,
                resume=True,
            )
        assert target.read_bytes() == before, "a refused resume must not touch the file"
    saved = load_checkpoint(ordered)
    assert saved is not None
    with pytest.raises(ValueError, match="ordered export"):
        iter_time_entries_consistent(sandbox_client, checkpoint=saved)


async def test_resume_of_a_complete_ordered_export_adds_nothing(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    checkpoint, target = tmp_path / "cp.json", tmp_path / "out.csv"

    async def export(mode: str, resume: bool) -> ExportSummary:
        with target.open(mode) as output:
            return await export_time_entries(
                sandbox_client,
                cast(BinaryIO, output),
                format="csv",
                orderby="duration desc,id",
                page_size=20,
                checkpoint_path=checkpoint,
                resume=resume,
            )

    await export("wb", resume=False)
    before = target.read_bytes()
    requests = sb.stats.requests
    summary = await export("r+b", resume=True)
    assert summary.entries == summary.pages == 0
    assert sb.stats.requests == requests
    assert target.read_bytes() == before


def test_the_old_checkpoint_names_still_work_and_are_deprecated(tmp_path: Path) -> None:
    from awork_async import export

    path = tmp_path / "cp.json"
    with pytest.warns(DeprecationWarning, match="save_checkpoint"):
        export.write_checkpoint(path, ExportCheckpoint(count=2))
    with pytest.warns(DeprecationWarning, match="load_checkpoint"):
        assert export.read_checkpoint(path) == ExportCheckpoint(count=2)
    assert export.load_checkpoint(path) == ExportCheckpoint(count=2)
    assert export.load_checkpoint(tmp_path / "missing.json") is None


async def test_jsonl_lines_are_the_entries_as_before_byte_for_byte(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """The export writes each entry's JSON as the answer held it, without decoding it: for the
    sandbox's compact answers that is byte for byte what decoding and encoding each entry gave."""
    sb.store.entries[sorted(sb.store.entries)[1]]["note"] = 'Grüße, "quoted" \\ tab\t ☃'
    sb.store.touch()
    buffer = io.BytesIO()
    await export_time_entries(
        sandbox_client, buffer, format="jsonl", page_size=7, checkpoint_every=5
    )
    rows = [row async for row, _ in iter_time_entries_consistent(sandbox_client, raw=True)]
    assert len(rows) == len(sb.store.entries)
    assert buffer.getvalue() == b"".join(entry_to_json_line(row) for row in rows)


@pytest.mark.parametrize("line_break", [b"\n", b"\r\n"])
async def test_an_answer_with_raw_line_breaks_is_written_one_entry_a_line(
    sandbox_client: AworkClient, line_break: bytes
) -> None:
    """A pretty-printed answer has line breaks between the tokens of an entry: that page is
    re-encoded compactly, so a JSONL line is still one entry."""
    base = sandbox_client.base_url
    rows = [
        {"id": str(UUID(int=n)), "createdOn": f"2024-01-0{n}T00:00:00Z", "note": "a\nb"}
        for n in (1, 2, 3)
    ]
    body = orjson.dumps(rows, option=orjson.OPT_INDENT_2).replace(b"\n", line_break)
    assert line_break in body
    with aioresponses(passthrough=[]) as mocked:
        mocked.get(
            re.compile(re.escape(base) + r"/timeentries.*"),
            body=body,
            headers={"aw-totalitems": "3", "Content-Type": "application/json"},
        )
        buffer = io.BytesIO()
        summary = await export_time_entries(sandbox_client, buffer, format="jsonl")
    assert summary.entries == 3
    assert buffer.getvalue() == b"".join(orjson.dumps(row) + b"\n" for row in rows)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"id": "not-a-uuid", "createdOn": "2024-01-01T00:00:00Z"}, "no valid id"),
        ({"id": str(UUID(int=1))}, "has no createdOn"),
        ({"id": str(UUID(int=1)), "createdOn": "yesterday"}, "invalid createdOn"),
        ({"id": str(UUID(int=1)), "createdOn": 5}, "has no createdOn"),
        ([1, 2], "array of objects"),
    ],
)
async def test_a_malformed_entry_is_refused_before_anything_is_written(
    sandbox_client: AworkClient, row: object, problem: str
) -> None:
    """The walk reads each entry's key and id (fast reader, then the reference checks for
    what it refuses) and refuses the page, whatever the export writes."""
    base = sandbox_client.base_url
    good = {"id": str(UUID(int=9)), "createdOn": "2023-01-01T00:00:00Z"}
    with aioresponses(passthrough=[]) as mocked:
        mocked.get(
            re.compile(re.escape(base) + r"/timeentries.*"),
            payload=[good, row],
            headers={"aw-totalitems": "2"},
        )
        buffer = io.BytesIO()
        with pytest.raises(APIResponseValidationError, match=problem):
            await export_time_entries(sandbox_client, buffer, format="jsonl")
    assert buffer.getvalue() == b""


class _ShortWriter:
    """A pipe-like output taking at most ``chunk`` bytes a write (like a buffered pipe write cut
    short by a reader that went away); after ``fail_after`` writes the reader is gone."""

    def __init__(self, chunk: int, fail_after: int | None = None) -> None:
        self.chunk, self.fail_after = chunk, fail_after
        self.data = bytearray()
        self.calls = 0

    def write(self, data: bytes) -> int:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise BrokenPipeError(32, "Broken pipe")
        taken = bytes(data[: self.chunk])
        self.data += taken
        return len(taken)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass


async def test_a_short_write_is_completed_or_its_error_raised(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """A page is one large write: a write that takes only part of it is continued, so the
    lines are all written, or the output's error (a closed pipe) is raised; never lost."""
    whole = io.BytesIO()
    await export_time_entries(sandbox_client, whole, format="jsonl", page_size=50)
    short = _ShortWriter(chunk=4096)
    await export_time_entries(sandbox_client, cast(BinaryIO, short), format="jsonl", page_size=50)
    assert bytes(short.data) == whole.getvalue()
    gone = _ShortWriter(chunk=4096, fail_after=3)
    with pytest.raises(BrokenPipeError):
        await export_time_entries(
            sandbox_client, cast(BinaryIO, gone), format="jsonl", page_size=50
        )
