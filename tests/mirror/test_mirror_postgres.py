"""The mirror on a real PostgreSQL server (a throw-away cluster on a free loopback port):
exactly once under injected crashes, two workers at once, a dead leader taken over."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from _helpers import SandboxClock, quiet_client
from postgres_server import PostgresServer
from test_mirror import Crash, _shaped, assert_in_step, churn, table
from test_mirror import test_a_deleted_entry_is_not_resurrected_by_a_late_upsert as no_resurrection
from test_mirror import test_an_older_version_never_replaces_a_newer_one as version_rule

from awork_async import AworkClient
from awork_async.mirror import (
    MirrorDatabase,
    MirrorLeadershipLostError,
    PassReport,
    _Turn,
    _Writer,
    mirror,
)
from awork_async.sandbox import Sandbox
from awork_async.sync import SyncCheckpoint

asyncpg = pytest.importorskip("asyncpg", reason="asyncpg is not installed (awork-async[postgres])")


pytestmark = [pytest.mark.awork_sandbox(entries=300, seed=15), pytest.mark.sandbox_clock]


async def test_the_version_rule_and_the_tombstones_on_postgres(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock, pg_url: str
) -> None:
    """The SQLite tests of the version rule and of tombstones, on PostgreSQL's upsert (COPY,
    then INSERT … SELECT with the rule and the tombstones in SQL)."""
    await version_rule(sb, sandbox_client, clock, pg_url)
    await no_resurrection(sandbox_client, sb, pg_url)


async def test_the_json_is_compressed_with_lz4_when_the_server_offers_it(
    sb: Sandbox, pg_url: str
) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        offered = await conn.fetchval(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if not offered:
            pytest.skip("this PostgreSQL has no lz4")
        async with quiet_client(sb.token, sb.base_url) as awork:
            await mirror(awork, pg_url, once=True, sweep_every=None)
        methods = await conn.fetch(
            "SELECT pg_column_compression(data) AS method, count(*) FROM time_entries GROUP BY 1"
        )
    finally:
        await conn.close()
    found = {row["method"] for row in methods}
    assert "lz4" in found
    assert found <= {"lz4", None}  # None: a short entry, stored uncompressed


async def test_two_workers_one_leader_and_a_dead_leader_is_replaced(
    sb: Sandbox, clock: SandboxClock, pg_url: str
) -> None:
    """Worker A loads; worker B, started meanwhile, stands by. A dies (its task is cancelled,
    its connections close); B takes over from the committed checkpoint, sees the changes made
    in between, and the table is exact."""
    a_loaded, a_dead, b_standing_by = asyncio.Event(), asyncio.Event(), asyncio.Event()
    a_reports: list[PassReport] = []
    b_reports: list[PassReport] = []

    class Stop(Exception):
        pass

    async def a_sleep(_seconds: float) -> None:
        a_loaded.set()
        await asyncio.Event().wait()  # A idles as the leader until it is killed

    async def b_sleep(_seconds: float) -> None:
        if b_reports[-1].kind == "standby":
            b_standing_by.set()
            await a_dead.wait()
            return
        raise Stop  # B led a pass: done

    async with (
        quiet_client(sb.token, sb.base_url) as awork_a,
        quiet_client(sb.token, sb.base_url) as awork_b,
    ):
        worker_a = asyncio.create_task(
            mirror(awork_a, pg_url, sweep_every=None, on_pass=a_reports.append, sleep=a_sleep)
        )
        await a_loaded.wait()
        worker_b = asyncio.create_task(
            mirror(awork_b, pg_url, sweep_every=None, on_pass=b_reports.append, sleep=b_sleep)
        )
        await b_standing_by.wait()
        assert [r.kind for r in a_reports] == ["first-load"]
        assert [r.kind for r in b_reports] == ["standby"]

        await churn(awork_a, sb, clock, random.Random(5), deletes=False)
        worker_a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker_a
        a_dead.set()
        with pytest.raises(Stop):
            await worker_b
    assert [r.kind for r in b_reports] == ["standby", "pass"]
    assert b_reports[1].upserted == 5 + 3 + 1
    await assert_in_step(pg_url, sb)


async def test_a_leader_that_loses_its_connection_stops_writing_and_a_standby_takes_over(
    sb: Sandbox, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A leads a first load; after its second batch the server ends A's leader
    connection (the process lives on). A's next batch (one already written on its own
    connection may have committed meanwhile: the leader was still alive then) is refused with
    nothing written, A stands by; B, standing by, takes over from A's checkpoint and finishes;
    the table is exact."""
    real_commit = MirrorDatabase.commit_batch
    commits: dict[MirrorDatabase, list[str]] = {}
    a_leads, a_lost, b_standing_by = asyncio.Event(), asyncio.Event(), asyncio.Event()
    a_reports: list[PassReport] = []
    b_reports: list[PassReport] = []

    killed = asyncio.Event()

    async def watched(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        outcomes = commits.setdefault(self, [])
        late = killed.is_set()
        try:
            changed = await real_commit(self, entries, checkpoint)
        except MirrorLeadershipLostError:
            outcomes.append("refused")
            raise
        outcomes.append("ok after the kill" if late and len(commits) == 1 else "ok")
        a_leads.set()
        if len(commits) == 1 and outcomes == ["ok", "ok"]:  # A's second batch
            await b_standing_by.wait()
            killer = await asyncpg.connect(pg_url)
            try:
                ended = await killer.fetchval(
                    "SELECT pg_terminate_backend($1, 30000)", self._leader_pid
                )
            finally:
                await killer.close()
            assert ended
            killed.set()
        return changed

    class Stop(Exception):
        pass

    async def a_sleep(_seconds: float) -> None:
        a_lost.set()
        raise Stop

    async def b_sleep(_seconds: float) -> None:
        if b_reports[-1].kind == "standby":
            b_standing_by.set()
            await a_lost.wait()
            return
        raise Stop

    monkeypatch.setattr(MirrorDatabase, "commit_batch", watched)
    options: dict[str, Any] = {"sweep_every": None, "batch_size": 50, "page_size": 50}
    async with (
        quiet_client(sb.token, sb.base_url) as awork_a,
        quiet_client(sb.token, sb.base_url) as awork_b,
    ):
        worker_a = asyncio.create_task(
            mirror(awork_a, pg_url, on_pass=a_reports.append, sleep=a_sleep, **options)
        )
        await a_leads.wait()  # A leads (it has committed a batch) before B starts
        worker_b = asyncio.create_task(
            mirror(awork_b, pg_url, on_pass=b_reports.append, sleep=b_sleep, **options)
        )
        for worker in (worker_a, worker_b):
            with pytest.raises(Stop):
                await worker
    db_a, db_b = commits
    assert set(commits[db_b]) == {"ok"}
    # Nothing written once the leadership was gone: a commit begun after the kill is refused
    # (one written meanwhile on its own connection may have committed before it).
    written = commits[db_a].count("ok")
    assert written >= 2 and commits[db_a] == ["ok"] * written + ["refused"]
    assert [r.kind for r in a_reports] == ["standby"]
    assert [r.kind for r in b_reports] == ["standby", "pass"]
    assert b_reports[1].read >= 300 - written * 50
    await assert_in_step(pg_url, sb)


async def test_a_connection_broken_during_a_pass_makes_the_leader_stand_by(
    sb: Sandbox, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the connection of the second batch's transaction mid-way: the pass
    stops, the worker gives up the leadership and reports ``standby`` instead of dying; the
    next pass finishes the load."""
    real_upsert = MirrorDatabase._upsert
    calls = {"n": 0}

    async def broken(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            pid = await conn.scalar(sa.select(sa.func.pg_backend_pid()))
            killer = await asyncpg.connect(pg_url)
            try:
                assert await killer.fetchval("SELECT pg_terminate_backend($1, 30000)", pid)
            finally:
                await killer.close()
        return await real_upsert(self, conn, entries)

    monkeypatch.setattr(MirrorDatabase, "_upsert", broken)
    options: dict[str, Any] = {"sweep_every": None, "batch_size": 50, "page_size": 50}
    async with quiet_client(sb.token, sb.base_url) as awork:
        first = await mirror(awork, pg_url, once=True, **options)
        assert first.kind == "standby"
        assert 0 < len(await table(pg_url)) < 300
        second = await mirror(awork, pg_url, once=True, **options)
    assert second.kind == "pass"
    await assert_in_step(pg_url, sb)


async def test_two_workers_started_together_migrate_once_and_one_leads(
    sb: Sandbox, pg_url: str
) -> None:
    reports: list[list[PassReport]] = [[], []]
    async with quiet_client(sb.token, sb.base_url) as awork:
        results = await asyncio.gather(
            *(
                mirror(awork, pg_url, once=True, sweep_every=None, on_pass=reports[i].append)
                for i in range(2)
            )
        )
    kinds = sorted(r.kind for r in results)
    assert kinds in (["first-load", "standby"], ["first-load", "pass"])
    await assert_in_step(pg_url, sb)


def test_cli_two_workers_share_the_rate_limit_through_redis(
    postgres: PostgresServer, redis_url: str
) -> None:
    """``awork-async mirror --db postgresql://… --redis redis://…``, twice at once: one loads,
    the other stands by (or finds nothing left); the table is exact."""
    import json
    import os
    import subprocess
    import sys

    from _helpers import threaded_sandbox

    async def create() -> str:
        conn = await asyncpg.connect(postgres.url())
        try:
            await conn.execute("CREATE DATABASE mirror_cli")
        finally:
            await conn.close()
        return postgres.url("mirror_cli")

    url = asyncio.run(create())
    with threaded_sandbox(entries=120, seed=4, token="tok-mirror-pg-cli-0001") as sb:
        args = [sys.executable, "-m", "awork_async", "--base-url", sb.base_url]
        args += ["--token", sb.token, "mirror", "--db", url, "--redis", redis_url, "--once"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWORK_")}
        workers = [
            subprocess.Popen(
                [*args, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=120) for worker in workers]
        for worker, (_out, err) in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, err.decode()
        kinds = sorted(json.loads(out.splitlines()[0])["kind"] for out, _err in outputs)
        assert kinds[0] == "first-load"
        assert kinds[1] in ("pass", "standby")
        asyncio.run(assert_in_step(url, sb))


# ------------------------------------------------------- batches written while one commits


async def _until(condition: Any) -> bool:
    """Yield to the loop until ``condition()`` (at most 100,000 turns: no wall-clock bound)."""
    for _ in range(100_000):
        if condition():
            return True
        await asyncio.sleep(0)
    return bool(condition())


async def _rows(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM time_entries"))
    finally:
        await conn.close()


def _batch_number(entries: Any) -> int:
    turn = getattr(entries, "turn", None)
    return -1 if turn is None else int(turn.key[1])


def _record_commits(monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, int]]) -> None:
    """Append ``("committed", batch number)`` to ``events`` as each JSON batch commits."""
    real_commit = MirrorDatabase._commit_json

    async def commit(self: MirrorDatabase, batch: Any, checkpoint: Any) -> int:
        changed = await real_commit(self, batch, checkpoint)
        events.append(("committed", _batch_number(batch)))
        return changed

    monkeypatch.setattr(MirrorDatabase, "_commit_json", commit)


async def test_the_next_batch_writes_its_rows_while_one_commits_and_commits_after_it(
    sb: Sandbox, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the second batch's INSERT runs (on its own connection) while the first
    batch is not committed yet; the commits still come one at a time, in batch order, each
    with its checkpoint, and the table is exact."""
    real_upsert = MirrorDatabase._upsert
    events: list[tuple[str, int]] = []
    before_first_commit: list[tuple[bool, int]] = []

    async def upsert(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        number = _batch_number(entries)
        changed = await real_upsert(self, conn, entries)
        events.append(("written", number))
        if len(events) == 1:  # the first batch: written, not committed; the next one's rows?
            second = await _until(lambda: len(events) >= 2)
            before_first_commit.append((second, await _rows(pg_url)))
        return changed

    monkeypatch.setattr(MirrorDatabase, "_upsert", upsert)
    _record_commits(monkeypatch, events)
    async with quiet_client(sb.token, sb.base_url) as awork:
        report = await mirror(
            awork, pg_url, once=True, sweep_every=None, batch_size=50, page_size=50
        )
    assert before_first_commit == [(True, 0)]  # second batch written, nothing committed
    first, second = events[0][1], events[1][1]
    assert events[:2] == [("written", first), ("written", second)]
    committed = [number for step, number in events if step == "committed"]
    assert committed == sorted(committed) and committed[:2] == [first, second]
    assert report.read == report.upserted == 300
    await assert_in_step(pg_url, sb)


async def test_a_batch_written_behind_a_failed_one_rolls_back(
    sb: Sandbox, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the first batch fails after the second has written its rows (its
    transaction waiting for the first's commit): the second (and any later one) rolls back,
    nothing is stored; the rerun loads everything."""
    real_upsert = MirrorDatabase._upsert
    written: list[int] = []

    async def upsert(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        changed = await real_upsert(self, conn, entries)
        written.append(_batch_number(entries))
        if len(written) == 1:
            assert await _until(lambda: len(written) >= 2)  # the second batch's rows are in
            raise Crash("first commit")
        return changed

    monkeypatch.setattr(MirrorDatabase, "_upsert", upsert)
    async with quiet_client(sb.token, sb.base_url) as awork:
        with pytest.raises(Crash):
            await mirror(awork, pg_url, once=True, sweep_every=None, batch_size=50, page_size=50)
        assert len(written) >= 2  # the batches behind the failed one wrote rows: rolled back
        assert await _rows(pg_url) == 0
        async with MirrorDatabase(pg_url) as db:
            assert (await db.state()).checkpoint is None
        monkeypatch.setattr(MirrorDatabase, "_upsert", real_upsert)
        again = await mirror(awork, pg_url, once=True, sweep_every=None)
    assert (again.kind, again.upserted) == ("first-load", 300)
    await assert_in_step(pg_url, sb)


def _entry_text(index: int, version: int) -> bytes:
    return orjson.dumps(_shaped(index, resourceVersion=version))


async def test_a_batch_sharing_an_id_with_an_uncommitted_one_waits_for_its_commit(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: two uncommitted batches of one worker never hold the same row (the later
    one would wait in the server for a row the earlier one holds, while the earlier one's
    commit... waits for nothing, but the reverse order would deadlock): a batch sharing an id
    with the batch before it starts after that one's commit; one sharing none starts at once."""
    real_upsert = MirrorDatabase._upsert
    events: list[tuple[str, int]] = []

    async def upsert(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        number = _batch_number(entries)
        events.append(("writing", number))
        changed = await real_upsert(self, conn, entries)
        events.append(("written", number))
        if len([e for e in events if e[0] == "written"]) == 2:  # the second batch
            await _until(lambda: len([e for e in events if e[0] == "written"]) >= 3)
        return changed

    monkeypatch.setattr(MirrorDatabase, "_upsert", upsert)
    _record_commits(monkeypatch, events)
    first = [_entry_text(i, 10) for i in range(10)]
    shares = [_entry_text(i, 20) for i in range(9, 20)]  # entry 9 again, newer
    disjoint = [_entry_text(i, 30) for i in range(20, 30)]
    async with MirrorDatabase(pg_url) as db:
        writer = _Writer(db, None, None)
        for read, batch in enumerate((first, shares, disjoint)):
            await writer.submit(list(batch), None, read)
        assert await writer.drain() == 31  # entry 9 twice: inserted, then updated
        stored = await db.entries()
    a, b, c = (number for step, number in events if step == "writing")
    # b shares entry 9 with a: it starts writing after a's commit ...
    assert events.index(("writing", b)) > events.index(("committed", a))
    # ... c shares none with b: it writes while b is uncommitted, and commits after it
    assert events.index(("written", c)) < events.index(("committed", b))
    assert events.index(("committed", c)) > events.index(("committed", b))
    assert stored[_shaped(9)["id"]][0] == 20
    assert len(stored) == 30


async def test_a_leader_replaced_while_its_batch_is_written_cannot_commit_it_after_the_successor(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fencing with batches written before their turn: worker A's batch has written its rows
    (without the commit lock) when A's leader connection ends; B leads and commits a batch
    with its checkpoint; A's batch then reaches its commit: refused, its rows rolled back, B's
    checkpoint stands."""
    real_upsert = MirrorDatabase._upsert
    a_written, a_go = asyncio.Event(), asyncio.Event()

    async def upsert(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        changed = await real_upsert(self, conn, entries)
        if self.name == "default" and getattr(entries, "turn", None) is not None:
            a_written.set()
            await a_go.wait()
        return changed

    monkeypatch.setattr(MirrorDatabase, "_upsert", upsert)
    a_checkpoint = SyncCheckpoint(updated_on=datetime(2026, 1, 1, tzinfo=timezone.utc))
    b_checkpoint = SyncCheckpoint(updated_on=datetime(2026, 2, 1, tzinfo=timezone.utc))
    async with MirrorDatabase(pg_url) as db_a, MirrorDatabase(pg_url) as db_b:
        assert await db_a.try_lead()
        assert not await db_b.try_lead()
        writer = _Writer(db_a, None, None)
        await writer.submit([_entry_text(1, 10)], a_checkpoint, 1)
        await a_written.wait()
        killer = await asyncpg.connect(pg_url)
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1, 30000)", db_a._leader_pid)
        finally:
            await killer.close()
        assert await db_b.try_lead()
        await db_b.commit_batch([_entry_text(2, 10)], b_checkpoint)
        a_go.set()
        with pytest.raises(MirrorLeadershipLostError):
            await writer.drain()
        stored = await db_b.entries()
        state = await db_b.state()
    assert set(stored) == {_shaped(2)["id"]}
    assert state.checkpoint == b_checkpoint


async def test_a_batch_sharing_an_id_with_any_uncommitted_one_waits(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL, three batches pending: the third shares no id with the second but one with
    the first, still uncommitted: it starts writing only after the first's commit."""
    real_upsert = MirrorDatabase._upsert
    real_disjoint = _Turn.disjoint_from_uncommitted
    events: list[tuple[str, int]] = []
    decided: list[bool] = []

    def disjoint(self: _Turn) -> bool:
        decided.append(real_disjoint(self))
        return decided[-1]

    async def upsert(self: MirrorDatabase, conn: Any, entries: Any) -> int:
        number = _batch_number(entries)
        events.append(("writing", number))
        changed = await real_upsert(self, conn, entries)
        events.append(("written", number))
        if len(events) == 2:  # the first batch waits until the third has decided
            assert await _until(lambda: len(decided) >= 2)
        return changed

    monkeypatch.setattr(MirrorDatabase, "_upsert", upsert)
    _record_commits(monkeypatch, events)
    monkeypatch.setattr(_Turn, "disjoint_from_uncommitted", disjoint)
    first = [_entry_text(i, 10) for i in range(10)]
    second = [_entry_text(i, 10) for i in range(10, 20)]
    third = [_entry_text(i, 20) for i in (5, *range(20, 30))]  # entry 5 again, newer
    async with MirrorDatabase(pg_url) as db:
        writer = _Writer(db, None, None)
        for read, batch in enumerate((first, second, third)):
            await writer.submit(list(batch), None, read)
        assert await writer.drain() == 31
        stored = await db.entries()
    assert decided == [True, False]  # the second starts early, the third does not
    a, b, c = (number for step, number in events if step == "writing")
    assert events.index(("writing", b)) < events.index(("committed", a))
    assert events.index(("writing", c)) > events.index(("committed", a))
    assert stored[_shaped(5)["id"]][0] == 20
