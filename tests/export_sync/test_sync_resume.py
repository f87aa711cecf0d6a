"""Sync runs that crash part-way (an exception, a cancellation) and resume from
``IncrementalSync.checkpoint_so_far``: nothing missed, nothing delivered twice beyond what was
handled after the last saved checkpoint, and the ``seen`` set stays bounded."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from _helpers import SandboxClock

from awork_async import AworkClient
from awork_async._timeutil import format_datetime
from awork_async.sandbox import Sandbox
from awork_async.sync import (
    SyncCheckpoint,
    changes_since,
    load_checkpoint,
    save_checkpoint,
)

UTC = timezone.utc
OVERLAP = timedelta(hours=12)  # wide: many entries of the data inside it
PAGE = 7

Pair = tuple[UUID, int]


class Crash(Exception):
    pass


pytestmark = [pytest.mark.awork_sandbox(entries=60, seed=11), pytest.mark.sandbox_clock]


def _key(entry: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(entry["updatedOn"]).replace("Z", "+00:00"))


def _stamp(sandbox: Sandbox, entry_id: str, at: datetime) -> None:
    """A new version of the entry, stamped ``at`` (a late commit when ``at`` is in the past)."""
    entry = sandbox.store.entries[entry_id]
    entry["updatedOn"] = format_datetime(at)
    entry["resourceVersion"] += 1
    sandbox.store.touch()


def _pairs(sandbox: Sandbox) -> dict[UUID, int]:
    return {UUID(i): e["resourceVersion"] for i, e in sandbox.store.entries.items()}


def _check_bounded(
    sandbox: Sandbox, point: SyncCheckpoint, previous: SyncCheckpoint | None
) -> None:
    """``seen`` holds only entries within the overlap before the watermark (plus, while the
    run has not passed the previous watermark, the previous checkpoint's)."""
    assert point.updated_on is not None
    floor = point.updated_on - OVERLAP
    inside = {
        (UUID(i), e["resourceVersion"])
        for i, e in sandbox.store.entries.items()
        if _key(e) >= floor
    }
    before = set(previous.seen) if previous is not None else set()
    assert set(point.seen) <= inside | before
    assert len(point.seen) == len(set(point.seen))


async def _crashing_run(
    awork: AworkClient,
    sandbox: Sandbox,
    state: Path,
    *,
    crash_at: int,
    every: int,
) -> list[Pair]:
    """Handle entries, saving ``checkpoint_so_far`` after every ``every`` handled ones, and
    raise :class:`Crash` when entry ``crash_at`` arrives (before handling it). The entries
    handled."""
    previous = load_checkpoint(state)
    handled: list[Pair] = []
    changes = changes_since(awork, previous, page_size=PAGE, overlap=OVERLAP)
    assert changes.checkpoint_so_far == (previous or SyncCheckpoint())

    async def consume() -> None:
        async for entry in changes:
            if len(handled) == crash_at:
                raise Crash
            assert entry.id is not None and entry.resource_version is not None
            handled.append((entry.id, entry.resource_version))
            if len(handled) % every == 0:
                point = changes.checkpoint_so_far
                _check_bounded(sandbox, point, previous)
                save_checkpoint(state, point)
        raise Crash  # crash_at beyond the run: crash after the last entry

    with pytest.raises(Crash):
        await consume()
    if not changes.complete:
        with pytest.raises(RuntimeError, match="iterated to the end"):
            _ = changes.checkpoint
    return handled


async def _complete_run(awork: AworkClient, state: Path) -> list[Pair]:
    changes = changes_since(awork, load_checkpoint(state), page_size=PAGE, overlap=OVERLAP)
    out = [(e.id, e.resource_version) async for e in changes]
    assert changes.checkpoint_so_far == changes.checkpoint
    save_checkpoint(state, changes.checkpoint)
    return out  # type: ignore[return-value]


def _assert_resumed(
    handled: list[Pair], resumed: list[Pair], expected: set[Pair], every: int
) -> None:
    both = Counter(handled) + Counter(resumed)
    assert set(both) == expected, "nothing missed, nothing unexpected"
    assert len(resumed) == len(set(resumed))
    twice = [pair for pair, n in both.items() if n > 1]
    # Only the entries handled after the last saved checkpoint come again.
    unsaved = handled[len(handled) - len(handled) % every :]
    assert sorted(twice) == sorted(unsaved)


def _late_and_tied_changes(sandbox: Sandbox, watermark: datetime) -> None:
    """Changes a catch-up run must deliver: late commits inside the overlap (stamped before
    the watermark), a tie group at the old watermark itself and one after it, new ones."""
    ids = sorted(sandbox.store.entries)
    for n, entry_id in enumerate(ids[0:6]):
        _stamp(sandbox, entry_id, watermark - timedelta(hours=1, minutes=n))
    for entry_id in ids[6:10]:
        _stamp(sandbox, entry_id, watermark)
    for entry_id in ids[10:16]:
        _stamp(sandbox, entry_id, watermark + timedelta(seconds=30))
    for n, entry_id in enumerate(ids[16:20]):
        _stamp(sandbox, entry_id, watermark + timedelta(minutes=n + 1))


@pytest.mark.parametrize("every", [1, 4])
async def test_first_sync_resumes_after_a_crash_at_every_entry(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, every: int
) -> None:
    ids = sorted(sb.store.entries)
    moment = max(_key(e) for e in sb.store.entries.values()) - timedelta(hours=2)
    for entry_id in ids[30:42]:  # a tie group (a bulk operation) in the middle of the data
        _stamp(sb, entry_id, moment)
    expected = set(_pairs(sb).items())
    for crash_at in range(len(expected) + 1):
        state = tmp_path / f"state-{crash_at}.json"
        handled = await _crashing_run(sandbox_client, sb, state, crash_at=crash_at, every=every)
        resumed = await _complete_run(sandbox_client, state)
        _assert_resumed(handled, resumed, expected, every)
        assert await _complete_run(sandbox_client, state) == []


@pytest.mark.parametrize("every", [1, 3])
async def test_catch_up_resumes_after_a_crash_inside_and_after_the_overlap(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path, every: int
) -> None:
    newest = max(_key(e) for e in sb.store.entries.values())
    for n, entry_id in enumerate(sorted(sb.store.entries)[40:60]):  # a busy last hours
        _stamp(sb, entry_id, newest - timedelta(minutes=20 * n))
    first = tmp_path / "first.json"
    await _complete_run(sandbox_client, first)
    start = load_checkpoint(first)
    assert start is not None and start.updated_on is not None
    inside = len(start.seen)
    assert inside >= 10, "the overlap re-reads many entries delivered before"
    before = set(_pairs(sb).items())
    _late_and_tied_changes(sb, start.updated_on)
    expected = set(_pairs(sb).items()) - before
    assert len(expected) == 20
    for crash_at in range(len(expected) + 1):
        state = tmp_path / f"state-{crash_at}.json"
        state.write_bytes(first.read_bytes())
        handled = await _crashing_run(sandbox_client, sb, state, crash_at=crash_at, every=every)
        resumed = await _complete_run(sandbox_client, state)
        _assert_resumed(handled, resumed, expected, every)
        assert await _complete_run(sandbox_client, state) == []


async def _worker(
    awork: AworkClient, state: Path, handled: list[Pair], stop_at: int, reached: asyncio.Event
) -> None:
    """A worker saving its checkpoint after each entry; it blocks handling entry ``stop_at``."""
    changes = changes_since(awork, None, page_size=PAGE, overlap=OVERLAP)
    async for entry in changes:
        if len(handled) == stop_at:
            reached.set()
            await asyncio.Event().wait()  # handling it: cancelled here
        assert entry.id is not None and entry.resource_version is not None
        handled.append((entry.id, entry.resource_version))
        save_checkpoint(state, changes.checkpoint_so_far)


async def test_cancelled_worker_resumes_from_its_last_saved_checkpoint(
    sb: Sandbox, sandbox_client: AworkClient, tmp_path: Path
) -> None:
    expected = set(_pairs(sb).items())
    for stop_at in range(0, len(expected), 5):
        state = tmp_path / f"state-{stop_at}.json"
        handled: list[Pair] = []
        reached = asyncio.Event()
        task = asyncio.create_task(_worker(sandbox_client, state, handled, stop_at, reached))
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        resumed = await _complete_run(sandbox_client, state)
        _assert_resumed(handled, resumed, expected, 1)


async def _churning_run(
    awork: AworkClient,
    sandbox: Sandbox,
    clock: SandboxClock,
    state: Path,
    rng: random.Random,
    crash_at: int,
) -> list[Pair]:
    """Save the checkpoint after each entry while others change or delete entries (read or
    not yet read); crash when entry ``crash_at`` arrives. The entries handled."""
    delivered: list[Pair] = []
    changes = changes_since(awork, None, page_size=PAGE, overlap=OVERLAP)
    try:
        async for entry in changes:
            if len(delivered) == crash_at:
                raise Crash
            assert entry.id is not None and entry.resource_version is not None
            delivered.append((entry.id, entry.resource_version))
            save_checkpoint(state, changes.checkpoint_so_far)
            victim = rng.choice(sorted(sandbox.store.entries))
            if rng.random() < 0.1:
                await awork.time_entries.delete(victim)
            else:
                clock.tick(rng.choice([0.0, 0.0004, 1.0]))
                _stamp(sandbox, victim, clock.now)
    except Crash:
        return delivered
    raise AssertionError("the run did not reach the crash")


async def test_crash_under_churn_then_catch_up_misses_nothing(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock, tmp_path: Path
) -> None:
    rng = random.Random(5)
    for crash_at in (0, 5, 17, 29):
        state = tmp_path / f"state-{crash_at}.json"
        delivered = await _churning_run(sandbox_client, sb, clock, state, rng, crash_at)
        delivered += await _complete_run(sandbox_client, state)
        delivered += await _complete_run(
            sandbox_client, state
        )  # nothing changed meanwhile: a no-op
        counts = Counter(delivered)
        assert [pair for pair, n in counts.items() if n > 1] == [], "no version twice"
        missing = set(_pairs(sb).items()) - set(counts)
        assert missing == set(), "every entry's current version was delivered"
