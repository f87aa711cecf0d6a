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


def _created(expected: bytes) -> list[datetime]:
    return [parse_utc_datetime(orjson.loads(line)["createdOn"]) for line in expected.splitlines()]


async def test_a_crash_at_any_entry_resumes_byte_identical(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl")
    created = _created(expected)
    total = len(created)
    cuts: set[datetime] = set()

    async def crash_and_resume(crash_at: int) -> None:
        target, checkpoint, saved = await _crash_at_write(sandbox_client, tmp_path, crash_at)
        if saved is not None:
            assert saved.count <= crash_at - 1 < saved.count + EVERY
            assert saved.count == 0 or saved.created_on == created[saved.count - 1]
            assert all(
                saved.created_on is None or cut > saved.created_on for cut in saved.partitions
            )
            cuts.update(saved.partitions)
        await _resume(sandbox_client, target, checkpoint)
        assert target.read_bytes() == expected, f"crash at entry {crash_at}"

    for crash_at in range(1, total + 1, 11):
        await crash_and_resume(crash_at)
    assert cuts, "no checkpoint recorded partitions ahead of the one being written"
    # At each partition bound: the last entry before a cut, the first one after it, the next.
    bounds = {sum(key < cut for key in created) for cut in cuts}
    for index in sorted(bounds):
        for crash_at in (index, index + 1, index + 2):
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
        (1, {"concurrency": 1}),  # the keyset cursor alone
        (2, {"orderby": "duration desc,id"}),  # an ordered export: the page to continue with
        (3, {}),  # the cursor and the partitions ahead of it
    ],
)
async def test_each_checkpoint_version_written_resumes(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, version: int, options: Any
) -> None:
    expected = await _whole(sandbox_client, tmp_path / "whole.jsonl", **options)
    target, checkpoint, saved = await _crash_at_write(sandbox_client, tmp_path, 60, **options)
    assert saved is not None
    assert orjson.loads(checkpoint.read_bytes())["version"] == version
    assert bool(saved.partitions) == (version == 3)
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
        (_with(version=4), "version 4, which this release of awork-async cannot resume"),
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
