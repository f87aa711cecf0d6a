"""Concurrent consistent exports that crash anywhere and resume byte-identically, and every
checkpoint this release writes (versions 1, 2 and 3) either resumes or is refused clearly.

Public level only (``export_time_entries``, ``iter_time_entries_consistent``, the checkpoint
files, the sandbox's faults and the client's hooks), so the tests hold whatever the walk does
inside: crashes are a failing write (a torn last line) or a failing request, at many points,
including at partition bounds and in a partition ahead of the one being written.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, cast

import attrs
import orjson
import pytest
from _helpers import FakeSleep, LineTearingWriter

from awork_async import APIStatusError, AworkClient, Hooks, NoRateLimiter, RetryPolicy
from awork_async._timeutil import parse_utc_datetime
from awork_async.export import (
    ExportCheckpoint,
    export_time_entries,
    iter_time_entries_consistent,
    load_checkpoint,
)
from awork_async.sandbox import Sandbox
from awork_async.sync import SyncCheckpoint

pytestmark = [pytest.mark.awork_sandbox(entries=400, seed=11)]

PAGE = 5
EVERY = 7  # checkpoints every 7 entries: crashes fall between checkpoints, not on them
OPTIONS: dict[str, Any] = {"format": "jsonl", "page_size": PAGE, "concurrency": 6}


async def _whole(client: AworkClient, path: Path, **options: Any) -> bytes:
    with path.open("w+b") as output:
        await export_time_entries(client, output, **{**OPTIONS, **options})
        output.seek(0)
        return output.read()


async def _crash_at_write(
    client: AworkClient, tmp_path: Path, crash_at: int, **options: Any
) -> tuple[Path, Path, ExportCheckpoint | None]:
    """A JSONL export that tears the line of entry number ``crash_at`` (1-based) and fails."""
    target, checkpoint = tmp_path / f"part{crash_at}.out", tmp_path / f"part{crash_at}.cp"
    with target.open("wb") as raw_output:
        crashing = cast(BinaryIO, LineTearingWriter(raw_output, crash_at, "power cut"))
        with pytest.raises(OSError, match="power cut"):
            await export_time_entries(
                client,
                crashing,
                checkpoint_path=checkpoint,
                checkpoint_every=EVERY,
                **{**OPTIONS, **options},
            )
    return target, checkpoint, load_checkpoint(checkpoint)


async def _resume(client: AworkClient, target: Path, checkpoint: Path, **options: Any) -> None:
    with target.open("r+b") as output:
        await export_time_entries(
            client,
            output,
            checkpoint_path=checkpoint,
            resume=True,
            checkpoint_every=EVERY,
            **{**OPTIONS, **options},
        )
    done = load_checkpoint(checkpoint)
    assert done is not None and done.complete


def _spool(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + ".pages")


def _created(expected: bytes) -> list[datetime]:
    return [parse_utc_datetime(orjson.loads(line)["createdOn"]) for line in expected.splitlines()]


async def test_a_crash_at_any_entry_resumes_byte_identical(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    created = _created(expected)
    total = len(created)
    cuts: set[datetime] = set()
    spooled = [0]

    async def crash_and_resume(crash_at: int) -> None:
        target, checkpoint, saved = await _crash_at_write(sandbox_client, tmp_path, crash_at)
        if saved is not None:
            assert saved.count <= crash_at - 1 < saved.count + EVERY
            assert saved.count == 0 or saved.created_on == created[saved.count - 1]
            assert all(
                saved.created_on is None or cut > saved.created_on for cut in saved.partitions
            )
            cuts.update(saved.partitions)
            spooled[0] += sum(len(part.pages) for part in saved.frontier)
        await _resume(sandbox_client, target, checkpoint)
        assert target.read_bytes() == expected, f"crash at entry {crash_at}"
        assert not _spool(checkpoint).exists(), "the spool is removed when the export is done"

    # A stride through the whole export: 17 is prime to the checkpoint interval (7) and to the
    # page size (5), so the crashes fall at every distance from the last checkpoint and at every
    # place in a page.
    for crash_at in range(1, total + 1, 17):
        await crash_and_resume(crash_at)
    assert cuts, "no checkpoint recorded partitions ahead of the one being written"
    assert spooled[0], "no checkpoint recorded durable pages"
    # At each partition bound, one of: the last entry before its cut, the first one after it,
    # the next (in turn, so each of the three at about a third of the ~40 bounds, at every
    # distance from the last checkpoint); all three at the first and the last bounds.
    bounds = sorted({sum(key < cut for key in created) for cut in cuts})
    for number, index in enumerate(bounds):
        every = number in (0, len(bounds) - 1)
        for crash_at in (index, index + 1, index + 2) if every else (index + number % 3,):
            if 1 <= crash_at <= total:
                await crash_and_resume(crash_at)


class CountingWriter:
    """A file wrapper counting the lines written."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.lines = 0

    def write(self, data: bytes) -> int:
        self.lines += data.count(b"\n")
        return self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_failed_request_anywhere_resumes_byte_identical(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A request failing (a 400, not retried) ends the export wherever it happens: in the
    partition being written or in one ahead of it (whose pages read so far are lost)."""
    requests = [0]
    fail_at = [0]
    output: CountingWriter | None = None
    lines_at_failure: list[int] = []

    def on_request(event: Any) -> None:
        requests[0] += 1
        if requests[0] == fail_at[0]:
            sb.faults.inject_next("error", status=400)

    def on_response(event: Any) -> None:
        if event.status == 400:
            assert output is not None
            lines_at_failure.append(output.lines)

    client = AworkClient(
        token=sb.token,
        base_url=sb.base_url,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(random=lambda: 0.0),
        sleep=FakeSleep(),
        hooks=Hooks(on_request=[on_request], on_response=[on_response]),
    )
    ahead = 0
    async with client:
        expected = await _whole(client, tmp_path / "whole.jsonl")
        for fail in range(2, 90, 4):
            requests[0], fail_at[0] = 0, fail
            lines_at_failure.clear()
            target, checkpoint = tmp_path / f"f{fail}.jsonl", tmp_path / f"f{fail}.cp"
            with target.open("wb") as raw_output:
                output = CountingWriter(raw_output)
                with pytest.raises(APIStatusError):
                    await export_time_entries(
                        client,
                        cast(BinaryIO, output),
                        checkpoint_path=checkpoint,
                        checkpoint_every=EVERY,
                        **OPTIONS,
                    )
            assert len(lines_at_failure) == 1
            # The failure surfaces in order: the lines before its window are written first.
            ahead += lines_at_failure[0] < len(target.read_bytes().splitlines())
            await _resume(client, target, checkpoint)
            assert target.read_bytes() == expected, f"request {fail} failed"
    assert ahead > 0, "no failure hit a partition ahead of the one being written"


# ------------------------------------------------------------------ every version, or refused


@pytest.mark.parametrize(
    ("version", "options"),
    [
        (1, {"concurrency": 1}),  # the keyset cursor alone (written by earlier releases)
        (2, {"orderby": "duration desc,id"}),  # an ordered export: the page to continue with
        (3, {}),  # the cursor and the partitions ahead of it (written by earlier releases)
        (4, {}),  # the durable frontier: each partition's spooled pages and position
    ],
)
async def test_each_checkpoint_version_resumes(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, version: int, options: Any
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl", **options)
    target, checkpoint, saved = await _crash_at_write(sandbox_client, tmp_path, 60, **options)
    assert saved is not None
    if version in (1, 3):  # what earlier releases wrote: no frontier, no spool
        saved = attrs.evolve(
            saved,
            frontier=(),
            spool_id=None,
            spool_size=0,
            partitions=saved.partitions if version == 3 else (),
        )
        checkpoint.write_text(saved.to_json())
        _spool(checkpoint).unlink(missing_ok=True)
    assert orjson.loads(checkpoint.read_bytes())["version"] == version
    assert bool(saved.partitions) == (version in (3, 4))
    assert bool(saved.frontier) == (version == 4)
    await _resume(sandbox_client, target, checkpoint, **options)
    assert target.read_bytes() == expected
    if version != 2:  # the iterator continues a consistent export's checkpoint the same way
        ids = [
            str(row["id"])  # type: ignore[index]
            async for row, _ in iter_time_entries_consistent(
                sandbox_client,
                checkpoint=saved,
                raw=True,
                page_size=PAGE,
                concurrency=options.get("concurrency", 6),
            )
        ]
        rest = [orjson.loads(line)["id"] for line in expected.splitlines()[saved.count :]]
        assert ids == rest


_V3 = ExportCheckpoint(
    created_on=datetime(2025, 1, 1, tzinfo=timezone.utc),
    count=3,
    byte_offset=0,
    format="jsonl",
    partitions=(datetime(2025, 2, 1, tzinfo=timezone.utc),),
).to_json()


def _with(**fields: object) -> str:
    return orjson.dumps({**orjson.loads(_V3), **fields}).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_with(version=5), "version 5, which this release of awork-async cannot resume"),
        (_with(version=0), "version 0, which this release"),
        (_with(version="3"), "version '3', which this release"),
        (_with(version=None), "version None, which this release"),
        ('{"count": 3}', "no version"),
        ("[3]", "no version"),
        ("", "not valid JSON"),
        (_V3[: len(_V3) // 2], "not valid JSON"),  # a torn file
        (SyncCheckpoint().to_json(), "sync checkpoint"),
        (_with(partitions=["2025-03-01T00:00:00Z", "2025-02-01T00:00:00Z"]), "increasing"),
        (_with(partitions="2025-03-01T00:00:00Z"), "partitions must be a list"),
        (_with(createdOn="yesterday"), "corrupted"),
        (_with(boundaryIds=["not-a-uuid"]), "corrupted"),
        (_with(count=-1), "count must be an int >= 0"),
        (_with(byteOffset=None), "no byte offset"),
    ],
)
async def test_unknown_corrupted_or_foreign_checkpoints_are_refused_before_any_request(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, text: str, message: str
) -> None:
    target, checkpoint = tmp_path / "out.jsonl", tmp_path / "out.cp"
    target.write_bytes(b'{"id": "kept"}\n')
    checkpoint.write_text(text)
    before = sb.stats.requests
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        await _resume(sandbox_client, target, checkpoint)
    if "no byte offset" not in message:
        assert str(checkpoint) in str(caught.value), "the message names the file"
    assert sb.stats.requests == before
    assert target.read_bytes() == b'{"id": "kept"}\n'
    assert checkpoint.read_text() == text


async def test_a_checkpoint_of_another_file_is_refused(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    _, checkpoint, saved = await _crash_at_write(sandbox_client, tmp_path, 30)
    assert saved is not None and saved.byte_offset
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"x" * (saved.byte_offset + 10))  # long enough, but no line end there
    before = sb.stats.requests
    with pytest.raises(ValueError, match="not the file this checkpoint belongs to"):
        await _resume(sandbox_client, other, checkpoint)
    assert sb.stats.requests == before
    assert other.read_bytes() == b"x" * (saved.byte_offset + 10)


def test_a_sync_checkpoint_refuses_an_export_one_and_the_reverse() -> None:
    with pytest.raises(ValueError, match="export checkpoint"):
        SyncCheckpoint.from_json(_V3)
    with pytest.raises(ValueError, match="export checkpoint"):
        SyncCheckpoint.from_json(ExportCheckpoint(count=1).to_json())  # version 1, like sync's
    with pytest.raises(ValueError, match="sync checkpoint"):
        ExportCheckpoint.from_json(SyncCheckpoint().to_json())


# ------------------------------------------------------------------ the durable spool (version 4)


async def _crash_with_pages(
    client: AworkClient, tmp_path: Path, crash_at: int
) -> tuple[Path, Path, ExportCheckpoint]:
    target, checkpoint, saved = await _crash_at_write(client, tmp_path, crash_at)
    assert saved is not None and saved.frontier
    assert any(part.pages for part in saved.frontier), "the checkpoint relies on spooled pages"
    return target, checkpoint, saved


async def test_a_resume_requests_only_what_the_crash_had_not_read(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    """The pages of partitions ahead are durable: a resume replays them from the spool, so
    crash plus resume request about what one whole export does. (A checkpoint after every
    entry, so that the crash comes right after one: what was read after the last checkpoint
    is not in it, and is read again.)"""
    before = sb.stats.requests
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    whole = sb.stats.requests - before
    total = len(expected.splitlines())
    for crash_at in (total // 16, total // 4, total * 19 // 20):
        target, checkpoint = tmp_path / f"r{crash_at}.jsonl", tmp_path / f"r{crash_at}.cp"
        before = sb.stats.requests
        with target.open("wb") as raw_output:
            crashing = cast(BinaryIO, LineTearingWriter(raw_output, crash_at, "power cut"))
            with pytest.raises(OSError, match="power cut"):
                await export_time_entries(
                    sandbox_client,
                    crashing,
                    checkpoint_path=checkpoint,
                    checkpoint_every=1,
                    **OPTIONS,
                )
        crashed = sb.stats.requests - before
        saved = load_checkpoint(checkpoint)
        assert saved is not None and any(part.pages for part in saved.frontier)
        before = sb.stats.requests
        with target.open("r+b") as output:
            await export_time_entries(
                sandbox_client,
                output,
                checkpoint_path=checkpoint,
                resume=True,
                checkpoint_every=1,
                **OPTIONS,
            )
        resumed = sb.stats.requests - before
        assert target.read_bytes() == expected
        # Read again: each lane's request in flight at the crash (or its answer not yet
        # spooled) and the page after the one being written (kept in memory for the writer).
        assert crashed + resumed <= whole + OPTIONS["concurrency"] + 2, (crash_at, crashed, resumed)


class _FailingSave:
    """``save_checkpoint`` failing at its ``fail_at``-th call (the output and the spool are
    fsynced by then: a crash between the spool's fsync and the checkpoint's write)."""

    def __init__(self, save: Any, fail_at: int) -> None:
        self.save, self.fail_at, self.calls = save, fail_at, 0

    def __call__(self, path: Path, point: ExportCheckpoint) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError("power cut")
        self.save(path, point)


async def test_a_crash_between_the_spool_fsync_and_the_checkpoint_write(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool has records the checkpoint does not know: the resume cuts them off."""
    import awork_async._sinks as sinks_module

    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    real_save = sinks_module.save_checkpoint
    grew = []
    for fail_at in (2, 5, 9, 20):
        failing_save = _FailingSave(real_save, fail_at)

        target, checkpoint = tmp_path / f"s{fail_at}.jsonl", tmp_path / f"s{fail_at}.cp"
        monkeypatch.setattr(sinks_module, "save_checkpoint", failing_save)
        with target.open("wb") as output, pytest.raises(OSError, match="power cut"):
            await export_time_entries(
                sandbox_client,
                output,
                checkpoint_path=checkpoint,
                checkpoint_every=EVERY,
                **OPTIONS,
            )
        monkeypatch.setattr(sinks_module, "save_checkpoint", real_save)
        saved = load_checkpoint(checkpoint)
        assert saved is not None and saved.frontier
        assert _spool(checkpoint).stat().st_size >= saved.spool_size
        grew.append(_spool(checkpoint).stat().st_size > saved.spool_size)
        await _resume(sandbox_client, target, checkpoint)
        assert target.read_bytes() == expected, f"checkpoint write {fail_at} failed"
    assert any(grew), "no crash left spool records the checkpoint did not know"


@pytest.mark.parametrize("tail", [b"\x01", b"\x07" * 5000])
async def test_a_torn_spool_record_after_the_checkpoint_is_cut_off(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, tail: bytes
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    target, checkpoint, saved = await _crash_with_pages(sandbox_client, tmp_path, 150)
    spool = _spool(checkpoint)
    data = spool.read_bytes()
    # A record torn by the power cut: the first bytes of a record, or garbage, at the end.
    spool.write_bytes(data[: saved.spool_size] + data[saved.spool_size :][:7] + tail)
    await _resume(sandbox_client, target, checkpoint)
    assert target.read_bytes() == expected


def _damage(kind: str, checkpoint: Path, saved: ExportCheckpoint) -> str:
    """Damage the spool (or the checkpoint's frontier); the message expected."""
    spool = _spool(checkpoint)
    data = bytearray(spool.read_bytes())
    offset = next(page[0] for part in saved.frontier for page in part.pages)
    if kind == "missing":
        spool.unlink()
        return "is missing"
    if kind == "short":
        spool.write_bytes(bytes(data[: saved.spool_size - 1]))
        return f"relies on {saved.spool_size}"
    if kind == "corrupted":
        data[offset + 40] ^= 0xFF
        spool.write_bytes(bytes(data))
        return f"is corrupted at byte {offset}"
    if kind == "foreign":
        data[10] ^= 0xFF
        spool.write_bytes(bytes(data))
        return "belongs to another export"
    if kind == "symlink":
        spool.rename(spool.with_name("elsewhere"))
        spool.symlink_to(spool.with_name("elsewhere"))
        return "cannot be opened"
    text = orjson.loads(checkpoint.read_bytes())
    if kind == "frontier":
        text["frontier"] = text["frontier"][:-1]
        checkpoint.write_bytes(orjson.dumps(text))
        return "frontier does not match partitions"
    assert kind == "beyond"
    text["spool"]["size"] = offset
    checkpoint.write_bytes(orjson.dumps(text))
    return "spool.size must cover every page"


@pytest.mark.parametrize(
    "kind", ["missing", "short", "corrupted", "foreign", "symlink", "frontier", "beyond"]
)
async def test_a_checkpoint_whose_spool_is_damaged_is_refused_before_any_request(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, kind: str
) -> None:
    target, checkpoint, saved = await _crash_with_pages(sandbox_client, tmp_path, 100)
    message = _damage(kind, checkpoint, saved)
    output, text = target.read_bytes(), checkpoint.read_bytes()
    before = sb.stats.requests
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        await _resume(sandbox_client, target, checkpoint)
    assert str(checkpoint) in str(caught.value), "the message names the checkpoint"
    assert sb.stats.requests == before
    assert target.read_bytes() == output
    assert checkpoint.read_bytes() == text


async def test_a_resumed_export_that_crashes_again_resumes_byte_identical(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    """The resumed run cuts the spool to the checkpoint's size and appends after it; its own
    checkpoints name records of both runs, and the next resume replays them."""
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    for first, second in ((20, 90), (60, 200), (150, 330)):
        target, checkpoint, saved = await _crash_with_pages(sandbox_client, tmp_path, first)
        spool = _spool(checkpoint)
        with spool.open("ab") as torn:
            torn.write(b"\x00" * 100)  # a record torn by the first crash
        with target.open("r+b") as raw_output:
            crashing = cast(BinaryIO, LineTearingWriter(raw_output, second - saved.count))
            with pytest.raises(OSError, match="disk on fire"):
                await export_time_entries(
                    sandbox_client,
                    crashing,
                    checkpoint_path=checkpoint,
                    resume=True,
                    checkpoint_every=EVERY,
                    **OPTIONS,
                )
        again = load_checkpoint(checkpoint)
        assert again is not None and again.count > saved.count
        assert again.spool_id == saved.spool_id  # the same spool, continued
        await _resume(sandbox_client, target, checkpoint)
        assert target.read_bytes() == expected, (first, second)


async def test_the_spool_is_created_exclusively_never_through_a_symlink(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target, checkpoint = tmp_path / "out.jsonl", tmp_path / "out.cp"
    _spool(checkpoint).symlink_to(victim)  # planted where the spool goes
    with target.open("wb") as raw_output:
        crashing = cast(BinaryIO, LineTearingWriter(raw_output, 100))
        with pytest.raises(OSError, match="disk on fire"):
            await export_time_entries(
                sandbox_client,
                crashing,
                checkpoint_path=checkpoint,
                checkpoint_every=EVERY,
                **OPTIONS,
            )
    assert victim.read_bytes() == b"precious"
    assert not _spool(checkpoint).is_symlink()
    await _resume(sandbox_client, target, checkpoint)
    assert target.read_bytes() == expected
    assert victim.read_bytes() == b"precious"
