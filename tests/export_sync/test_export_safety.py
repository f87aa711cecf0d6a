"""What a failed export leaves behind, atomic checkpoint files and CSV injection (issue 9 §2)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import pytest
from _helpers import quiet_client

from awork_async import APIResponseValidationError, AuthenticationError, AworkClient
from awork_async._export_formats import _CsvEncoder
from awork_async._files import write_atomic
from awork_async.export import (
    CSV_COLUMNS,
    ExportCheckpoint,
    export_time_entries,
    load_checkpoint,
    neutralise_csv_cell,
    save_checkpoint,
)
from awork_async.models import TimeEntry, TimeEntryProject, TimeEntryUser
from awork_async.sandbox import Sandbox
from awork_async.sync import SyncCheckpoint
from awork_async.sync import save_checkpoint as save_sync_checkpoint

OLD = b'{"id": "the export of last month"}\n'


pytestmark = pytest.mark.awork_sandbox(entries=90, seed=7)


class Boom(Exception):
    pass


def fail_after(calls: int) -> Callable[[int, int | None], None]:
    """An ``on_progress`` that raises at its ``calls``-th call."""
    seen = [0]

    def progress(done: int, total: int | None) -> None:
        seen[0] += 1
        if seen[0] >= calls:
            raise Boom(f"failed after {done} entries")

    return progress


def names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


# ------------------------------------------------------------------- atomic checkpoint files


def _export_checkpoint(path: Path) -> None:
    save_checkpoint(path, ExportCheckpoint(count=3))


def _sync_checkpoint(path: Path) -> None:
    save_sync_checkpoint(path, SyncCheckpoint())


@pytest.mark.parametrize("write", [_export_checkpoint, _sync_checkpoint])
def test_a_planted_symlink_is_never_written_through(
    tmp_path: Path, write: Callable[[Path], None]
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    checkpoint = tmp_path / "out.jsonl.checkpoint"
    (tmp_path / "out.jsonl.checkpoint.tmp").symlink_to(victim)  # the old fixed temporary name
    write(checkpoint)
    assert victim.read_bytes() == b"precious"
    assert not checkpoint.is_symlink()
    checkpoint.unlink()
    checkpoint.symlink_to(victim)  # a link at the checkpoint itself is replaced, not followed
    write(checkpoint)
    assert victim.read_bytes() == b"precious"
    assert not checkpoint.is_symlink()
    assert checkpoint.read_bytes().startswith(b"{")
    assert names(tmp_path) == {"victim", "out.jsonl.checkpoint", "out.jsonl.checkpoint.tmp"}


def test_write_atomic_keeps_the_old_content_and_no_temporary_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def no_rename(src: object, dst: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == {"state.json"}


def test_write_atomic_gives_the_mode_open_would_give(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    fresh = tmp_path / "fresh"
    write_atomic(fresh, b"data")
    assert fresh.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
    reference.chmod(0o600)
    write_atomic(reference, b"data")
    assert reference.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------- a path as the output


async def test_a_failed_export_to_a_path_changes_nothing(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    keep, checkpoint = tmp_path / "keep.jsonl", tmp_path / "keep.jsonl.checkpoint"
    keep.write_bytes(OLD)
    with pytest.raises(Boom):
        await export_time_entries(
            sandbox_client,
            keep,
            format="jsonl",
            page_size=10,
            checkpoint_every=10,
            checkpoint_path=checkpoint,
            on_progress=fail_after(3),  # 30 entries were written to the temporary file
        )
    assert keep.read_bytes() == OLD
    assert names(tmp_path) == {"keep.jsonl"}


@pytest.mark.parametrize("resume", [False, True])
async def test_an_export_failing_before_its_first_checkpoint_changes_nothing(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, resume: bool
) -> None:
    last = max(sb.store.entries.values(), key=lambda e: (e["createdOn"], e["id"]))
    last["duration"] = "not a number"  # the last entry cannot be decoded for its CSV row
    sb.store.touch()
    keep, checkpoint = tmp_path / "keep.csv", tmp_path / "keep.csv.checkpoint"
    keep.write_bytes(OLD)
    with pytest.raises(APIResponseValidationError):
        await export_time_entries(
            sandbox_client,
            keep,
            format="csv",
            page_size=10,
            checkpoint_path=checkpoint,
            resume=resume,
        )
    assert keep.read_bytes() == OLD
    assert names(tmp_path) == {"keep.csv"}


async def test_a_failed_export_creates_no_file(sandbox_client: AworkClient, tmp_path: Path) -> None:
    with pytest.raises(Boom):
        await export_time_entries(
            sandbox_client,
            str(tmp_path / "new.csv"),
            format="csv",
            page_size=10,
            checkpoint_every=10,
            on_progress=fail_after(1),
        )
    assert names(tmp_path) == set()


async def test_a_rejected_token_changes_nothing(sb: Sandbox, tmp_path: Path) -> None:
    keep = tmp_path / "keep.jsonl"
    keep.write_bytes(OLD)
    async with quiet_client("tok-wrong", sb.base_url) as wrong:
        with pytest.raises(AuthenticationError):
            await export_time_entries(wrong, keep, format="jsonl")
        with pytest.raises(AuthenticationError):
            await export_time_entries(wrong, tmp_path / "new.jsonl", format="jsonl")
    assert keep.read_bytes() == OLD
    assert names(tmp_path) == {"keep.jsonl"}


async def test_a_cancelled_export_changes_nothing(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    keep, checkpoint = tmp_path / "keep.jsonl", tmp_path / "keep.jsonl.checkpoint"
    keep.write_bytes(OLD)
    checkpoint.write_bytes(b"{}")
    working = asyncio.Event()
    task = asyncio.create_task(
        export_time_entries(
            sandbox_client,
            keep,
            format="jsonl",
            page_size=10,
            checkpoint_every=10,
            checkpoint_path=checkpoint,
            on_progress=lambda done, total: working.set(),
        )
    )
    await working.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert keep.read_bytes() == OLD
    assert checkpoint.read_bytes() == b"{}"
    assert names(tmp_path) == {"keep.jsonl", "keep.jsonl.checkpoint"}


async def test_a_successful_export_replaces_the_file_then_writes_the_checkpoint(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    whole = io.BytesIO()
    await export_time_entries(sandbox_client, whole, format="csv", page_size=10)
    keep, checkpoint = tmp_path / "keep.csv", tmp_path / "keep.csv.checkpoint"
    keep.write_bytes(OLD)
    checkpoint.write_bytes(b"stale")
    summary = await export_time_entries(
        sandbox_client,
        keep,
        format="csv",
        page_size=10,
        checkpoint_every=10,
        checkpoint_path=checkpoint,
    )
    assert summary.entries == 90
    assert keep.read_bytes() == whole.getvalue()
    saved = load_checkpoint(checkpoint)
    assert saved is not None
    assert saved.complete
    assert saved.byte_offset == len(whole.getvalue())
    assert names(tmp_path) == {"keep.csv", "keep.csv.checkpoint"}


async def test_a_resumable_export_takes_the_place_of_the_file_at_its_first_checkpoint(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    whole = io.BytesIO()
    await export_time_entries(sandbox_client, whole, format="jsonl", page_size=10)
    keep, checkpoint = tmp_path / "keep.jsonl", tmp_path / "keep.jsonl.checkpoint"
    keep.write_bytes(OLD)
    # One partition: the resume has windows left to request (with partitions ahead, all their
    # pages may be in the spool already, and a resume with a wrong token would need none).
    settings = {"format": "jsonl", "page_size": 10, "checkpoint_every": 20, "concurrency": 1} | {
        "checkpoint_path": checkpoint,
        "resume": True,
    }
    with pytest.raises(Boom):  # fails at 50 entries, after the checkpoints at 20 and 40
        await export_time_entries(sandbox_client, keep, on_progress=fail_after(5), **settings)  # type: ignore[arg-type]
    saved = load_checkpoint(checkpoint)
    assert saved is not None
    assert saved.count == 40
    assert keep.read_bytes()[: saved.byte_offset] == whole.getvalue()[: saved.byte_offset]
    # The spool of the pages read ahead stays while the checkpoint relies on it.
    spool = {"keep.jsonl.checkpoint.pages"} if any(p.pages for p in saved.frontier) else set()
    assert names(tmp_path) == {"keep.jsonl", "keep.jsonl.checkpoint", *spool}
    with keep.open("ab") as torn:
        torn.write(b'{"id": "half')

    async with quiet_client("tok-wrong", sb.base_url) as wrong:
        with pytest.raises(AuthenticationError):
            await export_time_entries(wrong, keep, **settings)  # type: ignore[arg-type]
    assert keep.read_bytes().endswith(b'{"id": "half')  # nothing written: nothing changed

    summary = await export_time_entries(sandbox_client, keep, **settings)  # type: ignore[arg-type]
    assert summary.entries == 50
    assert keep.read_bytes() == whole.getvalue()


async def test_a_resumed_export_refuses_a_symlinked_output(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    out, checkpoint = tmp_path / "out.jsonl", tmp_path / "out.jsonl.checkpoint"
    await export_time_entries(sandbox_client, out, format="jsonl", checkpoint_path=checkpoint)
    victim = tmp_path / "victim"
    victim.write_bytes(out.read_bytes() + b"more")
    out.unlink()
    out.symlink_to(victim)
    with pytest.raises(ValueError, match="symbolic link"):
        await export_time_entries(
            sandbox_client, out, format="jsonl", checkpoint_path=checkpoint, resume=True
        )
    assert victim.read_bytes().endswith(b"more")


async def test_a_caller_owned_file_keeps_what_was_written(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    buffer = io.BytesIO(b"before\n")
    buffer.seek(0, io.SEEK_END)
    with pytest.raises(Boom):
        await export_time_entries(
            sandbox_client,
            buffer,
            format="jsonl",
            page_size=10,
            checkpoint_every=10,
            on_progress=fail_after(1),
        )
    assert not buffer.closed
    assert buffer.getvalue().startswith(b"before\n{")
    assert buffer.getvalue().count(b"\n") > 10


# ------------------------------------------------------------------------------ CSV injection


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("https://x.example","x")', '\'=HYPERLINK("https://x.example","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Review = done", "Review = done"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_neutralise_csv_cell(cell: str, expected: str) -> None:
    assert neutralise_csv_cell(cell) == expected


def _hostile_entry() -> TimeEntry:
    return TimeEntry(
        id=UUID(int=1),
        duration=-3600,  # numbers are never touched, negative or not
        break_duration=0,
        note='=HYPERLINK("https://evil.example","x")',
        timezone="@Europe/Berlin",
        user=TimeEntryUser(first_name="+Eve", last_name="Doe"),
        project=TimeEntryProject(name="-Project"),
        created_on=datetime(2025, 1, 2, tzinfo=timezone.utc),
    )


def _cells(line: bytes) -> dict[str, str]:
    return dict(zip(CSV_COLUMNS, next(csv.reader(io.StringIO(line.decode()))), strict=True))


def test_csv_text_cells_are_neutralised_and_numbers_are_not() -> None:
    cells = _cells(_CsvEncoder().entry(_hostile_entry()))
    assert cells["note"] == '\'=HYPERLINK("https://evil.example","x")'
    assert cells["timezone"] == "'@Europe/Berlin"
    assert cells["user_name"] == "'+Eve Doe"
    assert cells["project_name"] == "'-Project"
    assert cells["duration"] == "-3600"
    assert cells["id"] == str(UUID(int=1))


def test_csv_raw_values_writes_cells_as_stored() -> None:
    cells = _cells(_CsvEncoder(raw_values=True).entry(_hostile_entry()))
    assert cells["note"] == '=HYPERLINK("https://evil.example","x")'
    assert cells["user_name"] == "+Eve Doe"


async def test_csv_export_neutralises_notes_unless_raw(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    first = sorted(sb.store.entries)[0]
    sb.store.entries[first]["note"] = "=1+1"
    sb.store.touch()
    safe, raw = io.BytesIO(), io.BytesIO()
    await export_time_entries(sandbox_client, safe, format="csv")
    await export_time_entries(sandbox_client, raw, format="csv", csv_raw_values=True)
    notes = {
        row["id"]: row["note"] for row in csv.DictReader(io.StringIO(safe.getvalue().decode()))
    }
    raw_notes = {
        row["id"]: row["note"] for row in csv.DictReader(io.StringIO(raw.getvalue().decode()))
    }
    assert notes[first] == "'=1+1"
    assert raw_notes[first] == "=1+1"


async def test_a_csv_export_resumes_only_with_the_same_cell_setting(
    sandbox_client: AworkClient, tmp_path: Path
) -> None:
    out, checkpoint = tmp_path / "raw.csv", tmp_path / "raw.csv.checkpoint"
    await export_time_entries(
        sandbox_client, out, format="csv", checkpoint_path=checkpoint, csv_raw_values=True
    )
    saved = load_checkpoint(checkpoint)
    assert saved is not None
    assert saved.csv_raw_values
    assert b'"csvRawValues":true' in checkpoint.read_bytes()
    before = out.read_bytes()
    with pytest.raises(ValueError, match="csv_raw_values=True, not False"):
        await export_time_entries(
            sandbox_client, out, format="csv", checkpoint_path=checkpoint, resume=True
        )
    summary = await export_time_entries(
        sandbox_client,
        out,
        format="csv",
        checkpoint_path=checkpoint,
        resume=True,
        csv_raw_values=True,
    )
    assert summary.entries == 0
    assert out.read_bytes() == before
