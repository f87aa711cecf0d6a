"""``awork_async.mirror`` on SQLite against the sandbox: first load, churn, exactly-once under
injected crashes, the version rule, schema versions, the one-process lock and the CLI."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from _helpers import FakeSleep, SandboxClock
from typer.testing import CliRunner

from awork_async import APIResponseValidationError, AworkClient, RetryPolicy, ServerError
from awork_async._converter import structure
from awork_async.cli import app
from awork_async.mirror import (
    SCHEMA_VERSION,
    SQLITE_PAGE_SIZE,
    MirrorDatabase,
    MirrorLockedError,
    MirrorRow,
    PassReport,
    _json_batch,
    async_database_url,
    mirror,
    time_entries,
)
from awork_async.models import TimeEntry, TimeEntryCreate, TimeEntryUpdate
from awork_async.sandbox import Sandbox
from awork_async.sync import IncrementalSync

UTC = timezone.utc


pytestmark = [
    pytest.mark.awork_sandbox(entries=300, seed=5),
    pytest.mark.sandbox_clock,
    pytest.mark.cli_sandbox(entries=400, seed=9, token="tok-mirror-sandbox-0001"),
]


async def table(url: str) -> dict[str, tuple[int | None, dict[str, Any]]]:
    async with MirrorDatabase(url) as db:
        return await db.entries()


def _naive(value: datetime | None) -> datetime | None:
    """A stored time as naive UTC (SQLite gives naive UTC, PostgreSQL aware values)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _naive_utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


async def assert_in_step(url: str, sandbox: Sandbox) -> None:
    """The table holds exactly the sandbox's entries, at their versions, key columns equal."""
    rows = await table(url)
    expected = sandbox.store.entries
    assert set(rows) == set(expected)
    for entry_id, raw in expected.items():
        version, row = rows[entry_id]
        assert version == raw["resourceVersion"], entry_id
        assert row["user_id"] == raw.get("userId")
        assert row["project_id"] == raw.get("projectId")
        assert row["type_of_work_id"] == raw.get("typeOfWorkId")
        assert row["duration"] == raw.get("duration")
        assert row["note"] == raw.get("note")
        assert row["is_billable"] == raw.get("isBillable")
        assert _naive(row["updated_on"]) == _naive_utc(raw.get("updatedOn"))
        assert row["data"]["id"] == entry_id
        assert row["data"]["resourceVersion"] == raw["resourceVersion"]


def _type_of_work(sandbox: Sandbox) -> str:
    return next(i for i, t in sandbox.store.types_of_work.items() if not t.get("isArchived"))


async def churn(
    awork: AworkClient, sandbox: Sandbox, clock: SandboxClock, rng: random.Random, *, deletes: bool
) -> None:
    """Inserts, updates, (deletes) and timer activity, with the sandbox clock moving."""
    ids = sorted(sandbox.store.entries)
    start = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
    tow = _type_of_work(sandbox)
    for entry_id in rng.sample(ids, 5):
        clock.tick(rng.random())
        form = TimeEntryUpdate.from_span(
            start=start,
            end=start + timedelta(minutes=rng.randint(5, 200)),
            timezone="Europe/Berlin",
            type_of_work_id=tow,
            note=f"edit {rng.random():.6f}",
        )
        await awork.time_entries.update(entry_id, form)
    for _ in range(3):
        clock.tick(rng.random())
        create = TimeEntryCreate.from_span(
            start=start,
            duration=rng.randint(60, 7200),
            timezone="Europe/Berlin",
            type_of_work_id=tow,
            user_id=sandbox.store.me_id,
        )
        await awork.time_entries.create(create)
    clock.tick(1)
    await awork.timer.start(tow, timezone="Europe/Berlin", note="timer")
    clock.tick(90)
    await awork.timer.stop()
    if deletes:
        for entry_id in rng.sample(sorted(sandbox.store.entries), 2):
            clock.tick(0.5)
            await awork.time_entries.delete(entry_id)


# ------------------------------------------------------------------------------ basics


async def test_first_load_then_changes_then_nothing(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock, db_url: str
) -> None:
    reports: list[PassReport] = []
    first = await mirror(
        sandbox_client, db_url, once=True, sweep_every=None, on_pass=reports.append
    )
    assert first.kind == "first-load"
    assert first.read == first.upserted == 300
    await assert_in_step(db_url, sb)

    await churn(sandbox_client, sb, clock, random.Random(1), deletes=False)
    second = await mirror(sandbox_client, db_url, once=True, sweep_every=None, batch_size=2)
    assert second.kind == "pass"
    assert second.upserted == 5 + 3 + 1
    await assert_in_step(db_url, sb)

    third = await mirror(sandbox_client, db_url, once=True, sweep_every=None)
    assert third.upserted == 0
    assert third.requests == 1  # a steady-state pass with nothing new: one request
    assert reports == [first]
    assert "upserted" in third.line() and json.loads(third.to_json())["kind"] == "pass"


async def test_data_is_the_json_object_awork_sent(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str
) -> None:
    """``data`` holds each entry exactly as the list answer had it (not a re-encoding)."""
    sent = {row["id"]: row async for row in sandbox_client.time_entries.list(page_size=100).raw()}
    await mirror(sandbox_client, db_url, once=True, sweep_every=None)
    rows = await table(db_url)
    assert {entry_id: row["data"] for entry_id, (_v, row) in rows.items()} == sent


async def test_a_wrong_typed_entry_is_a_typed_error_not_a_bad_row(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str
) -> None:
    bad = sorted(sb.store.entries)[7]
    sb.store.entries[bad]["duration"] = "an hour"
    with pytest.raises(APIResponseValidationError, match="duration") as caught:
        await mirror(sandbox_client, db_url, once=True, sweep_every=None, batch_size=10)
    assert bad in str(caught.value)
    assert bad not in await table(db_url)


async def test_the_loop_polls_until_cancelled(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock, db_url: str
) -> None:
    sleep = FakeSleep()
    reports: list[PassReport] = []

    class Enough(Exception):
        pass

    async def churn_then_stop(seconds: float) -> None:
        await sleep(seconds)
        if len(sleep.waits) == 3:
            raise Enough
        await churn(sandbox_client, sb, clock, random.Random(len(sleep.waits)), deletes=False)

    with pytest.raises(Enough):
        await mirror(
            sandbox_client,
            db_url,
            poll_every=30,
            sweep_every=None,
            on_pass=reports.append,
            sleep=churn_then_stop,
        )
    assert sleep.waits == [30, 30, 30]
    assert [r.kind for r in reports] == ["first-load", "pass", "pass"]
    await assert_in_step(db_url, sb)


async def test_an_older_version_never_replaces_a_newer_one(
    sb: Sandbox, sandbox_client: AworkClient, clock: SandboxClock, db_url: str
) -> None:
    entry_id = sorted(sb.store.entries)[0]
    old = await sandbox_client.time_entries.get(entry_id)
    clock.tick(5)
    start = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
    form = TimeEntryUpdate.from_span(
        start=start,
        end=start + timedelta(hours=2),
        timezone="Europe/Berlin",
        type_of_work_id=_type_of_work(sb),
        note="newer",
    )
    new = await sandbox_client.time_entries.update(entry_id, form)
    assert new.resource_version is not None and old.resource_version is not None
    assert new.resource_version > old.resource_version
    async with MirrorDatabase(db_url) as db:
        assert await db.upsert([new]) == 1
        assert await db.upsert([old]) == 0  # older: ignored
        assert await db.upsert([new]) == 0  # same version: nothing to change
        assert await db.upsert([old, new, old]) == 0  # duplicates in a batch: the newest
        rows = await db.entries()
    assert rows[entry_id][0] == new.resource_version
    assert rows[entry_id][1]["note"] == "newer"


async def test_a_deleted_entry_is_not_resurrected_by_a_late_upsert(
    sandbox_client: AworkClient, sb: Sandbox, db_url: str
) -> None:
    entry_id = sorted(sb.store.entries)[0]
    entry = await sandbox_client.time_entries.get(entry_id)
    async with MirrorDatabase(db_url) as db:
        await db.upsert([entry])
        assert await db.delete([entry_id], source="webhook") == 1
        assert await db.upsert([entry]) == 0
        assert await db.delete([entry_id], source="sweep") == 0  # twice: harmless
        assert entry_id not in await db.entries()


# ------------------------------------------------------------------------------ exactly once


class Crash(Exception):
    """An injected failure."""


def crash_commits(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Make ``MirrorDatabase.commit_batch`` raise :class:`Crash` on call ``plan["fail_at"]``,
    before the commit (``plan["after"]`` falsy) or after it; returns the plan to set per round."""
    real_commit = MirrorDatabase.commit_batch
    plan: dict[str, int] = {"calls": 0, "fail_at": -1, "after": 0}

    async def flaky_commit(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        plan["calls"] += 1
        if plan["calls"] == plan["fail_at"] and not plan["after"]:
            raise Crash("before the commit")
        changed = await real_commit(self, entries, checkpoint)
        if plan["calls"] == plan["fail_at"]:
            raise Crash("after the commit")
        return changed

    monkeypatch.setattr(MirrorDatabase, "commit_batch", flaky_commit)
    return plan


async def test_crashes_at_random_points_converge(
    sb: Sandbox, clock: SandboxClock, any_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and on PostgreSQL: failures before a commit, after a commit, and in the
    middle of a walk (a request that fails for good), with churn in between; each rerun
    continues, and once the failures stop (a last round with deletions, a pass and a sweep)
    the table equals the sandbox's entries."""
    url = any_db_url
    rng = random.Random(20260612)
    plan = crash_commits(monkeypatch)
    client = AworkClient(
        token=sb.token,
        base_url=sb.base_url,
        retry=RetryPolicy(max_attempts=1),
        sleep=FakeSleep(),
    )
    crashes = 0
    async with client:
        for round_ in range(12):
            if round_ % 3 == 1:
                await churn(client, sb, clock, rng, deletes=False)
            plan.update(calls=0, fail_at=rng.randint(1, 3), after=rng.randint(0, 1))
            sb.faults.error_rate = 0.05 if round_ < 10 else 0.0
            sb.faults.methods = ("GET",)
            try:
                await mirror(client, url, once=True, sweep_every=None, batch_size=4)
            except Crash:
                crashes += 1
            except ServerError:  # an injected 5xx that the client did not retry
                crashes += 1
        plan.update(fail_at=-1)
        sb.faults.error_rate = 0.0
        await churn(client, sb, clock, rng, deletes=True)
        await mirror(client, url, once=True, sweep_every=1e-9)  # a pass, then a sweep
    assert crashes >= 5
    await assert_in_step(url, sb)
    if url.startswith("postgresql"):
        some = next(iter((await table(url)).values()))[1]
        assert some["updated_on"].tzinfo is not None  # timestamptz
        assert isinstance(some["data"], dict)  # jsonb


async def test_each_batch_commits_with_its_checkpoint(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first load stopped after its third batch resumes from there (not from the start)."""
    real_commit = MirrorDatabase.commit_batch
    calls = {"n": 0}

    async def stop_after_three(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash("stop")
        return await real_commit(self, entries, checkpoint)

    monkeypatch.setattr(MirrorDatabase, "commit_batch", stop_after_three)
    with pytest.raises(Crash):
        await mirror(
            sandbox_client, db_url, once=True, sweep_every=None, batch_size=50, page_size=50
        )
    monkeypatch.setattr(MirrorDatabase, "commit_batch", real_commit)
    assert len(await table(db_url)) == 150
    rest = await mirror(sandbox_client, db_url, once=True, sweep_every=None, page_size=50)
    assert rest.kind == "pass"
    assert rest.read < 300 and rest.upserted == 150
    await assert_in_step(db_url, sb)


async def test_a_batch_inside_a_page_carries_the_checkpoint_of_the_pages_before_it(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 50, batches of 30: the second batch (entries 31-60) ends inside the second
    page, so it carries the checkpoint after the first page (50 entries), never one covering
    entries 61-100 that are not committed. Stopped after it, the rerun reads the other 250."""
    real_commit = MirrorDatabase.commit_batch
    marks: list[Any] = []

    async def stop_after_two(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        if len(marks) == 2:
            raise Crash("stop")
        marks.append(checkpoint)
        return await real_commit(self, entries, checkpoint)

    monkeypatch.setattr(MirrorDatabase, "commit_batch", stop_after_two)
    with pytest.raises(Crash):
        await mirror(
            sandbox_client, db_url, once=True, sweep_every=None, batch_size=30, page_size=50
        )
    monkeypatch.setattr(MirrorDatabase, "commit_batch", real_commit)
    assert marks[0] is None  # inside the first page: nothing before it to cover
    assert marks[1] is not None
    rest = await mirror(sandbox_client, db_url, once=True, sweep_every=None, page_size=50)
    assert (rest.kind, rest.read, rest.upserted) == ("pass", 250, 240)
    await assert_in_step(db_url, sb)


def _index_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {i["name"] for i in sa.inspect(conn).get_indexes("time_entries")}
    finally:
        engine.dispose()


async def test_a_first_load_builds_the_indexes_at_its_end_and_a_stopped_one_gets_them_back(
    sandbox_client: AworkClient, sb: Sandbox, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {str(index.name) for index in time_entries.indexes}
    real_commit = MirrorDatabase.commit_batch
    during: list[set[str]] = []

    async def stop_after_one(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        if during:
            raise Crash("stop")
        during.append(_index_names(db_url))
        return await real_commit(self, entries, checkpoint)

    monkeypatch.setattr(MirrorDatabase, "commit_batch", stop_after_one)
    with pytest.raises(Crash):
        await mirror(
            sandbox_client, db_url, once=True, sweep_every=None, batch_size=50, page_size=50
        )
    monkeypatch.setattr(MirrorDatabase, "commit_batch", real_commit)
    assert during == [set()]  # the first load writes without them
    assert _index_names(db_url) == set()
    async with MirrorDatabase(db_url):  # opening the database builds what is missing
        pass
    assert _index_names(db_url) == expected
    fresh = db_url.replace(".db", "-fresh.db")
    await mirror(sandbox_client, fresh, once=True, sweep_every=None)
    assert _index_names(fresh) == expected
    await assert_in_step(fresh, sb)


# ------------------------------------------------------------------------------ schema, lock


async def test_schema_is_versioned_and_a_newer_one_refused(db_url: str) -> None:
    async with MirrorDatabase(db_url) as db:
        async with db.engine.connect() as conn:
            version = await conn.scalar(sa.text("SELECT version FROM mirror_schema"))
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in sa.inspect(c).get_indexes("time_entries")}
            )
        assert version == SCHEMA_VERSION
        assert {"time_entries", "mirror_state", "mirror_schema", "time_entry_tombstones"} <= tables
        assert "ix_time_entries_user_id" in indexes and "ix_time_entries_start_utc" in indexes
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE mirror_schema SET version = 99"))
    with pytest.raises(RuntimeError, match="schema version 99"):
        async with MirrorDatabase(db_url):
            pass


async def test_a_new_sqlite_database_gets_16k_pages_an_old_one_keeps_its_own(
    db_url: str, tmp_path: Path
) -> None:
    """An entry's row (about 2.6 KB) took a 4 KB page of its own: new files get 16 KB pages."""

    def page_size(path: Path) -> int:
        with sqlite3.connect(path) as conn:
            size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.close()
        return size

    async with MirrorDatabase(db_url):
        pass
    assert page_size(Path(db_url.removeprefix("sqlite:///"))) == SQLITE_PAGE_SIZE == 16384
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    async with MirrorDatabase(f"sqlite:///{old}") as db:
        await db.upsert([MirrorRow.from_json({"id": "00000000-0000-4000-8000-000000000001"})])
        assert len(await db.entries()) == 1
    assert page_size(old) == 4096


async def test_sqlite_serves_one_process(db_url: str) -> None:
    async with MirrorDatabase(db_url):
        with pytest.raises(MirrorLockedError, match="another process"):
            async with MirrorDatabase(db_url):
                pass
    async with MirrorDatabase(db_url):  # released on close
        pass


def test_database_urls_map_to_async_drivers() -> None:
    assert str(async_database_url("sqlite:///x.db")) == "sqlite+aiosqlite:///x.db"
    assert async_database_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert async_database_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    for bad in ("", "mysql://u@h/db", "not a url", "sqlite+pysqlcipher:///x"):
        with pytest.raises(ValueError, match=r"database|SQLite|unsupported"):
            async_database_url(bad)


@pytest.mark.parametrize(
    ("option", "value"),
    [("poll_every", 0), ("sweep_every", -1), ("batch_size", 0), ("page_size", 5000)],
)
async def test_bad_arguments_fail_before_any_request(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str, option: str, value: int
) -> None:
    before = sb.stats.requests
    with pytest.raises(ValueError, match=option):
        await mirror(sandbox_client, db_url, once=True, **{option: value})
    assert sb.stats.requests == before
    assert not await asyncio.to_thread(Path(db_url.removeprefix("sqlite:///")).exists)


# ------------------------------------------------------------------------------ CLI


def test_cli_mirror_once_json(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["--base-url", cli_sandbox.base_url, "--token", cli_sandbox.token, "mirror"]
    result = CliRunner().invoke(app, [*args, "--db", url, "--once", "--json"])
    assert result.exit_code == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in reports] == ["first-load"]
    assert reports[0]["upserted"] == 400
    assert reports[0]["requests"] >= 1 and reports[0]["rate_limited"] == 0
    again = CliRunner().invoke(app, [*args, "--db", url, "--once"])
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith("pass: 0 read, 0 upserted, 0 deleted, 1 requests, 0 429s")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--db", "mysql://x/y"], "--db: unsupported database"),
        (["--db", "sqlite:///x.db", "--sweep-every", "soon"], "--sweep-every"),
        (["--db", "sqlite:///x.db", "--webhooks-port", "8089"], "--auth-header"),
        (["--db", "sqlite:///x.db", "--redis", "http://x"], "--redis"),
    ],
)
def test_cli_bad_options_are_usage_errors(
    extra: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--token", "tok-x", "mirror", *extra])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_killed_process_resumes_and_converges(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    """The CLI killed (``os._exit``) after its second batch: the rerun finishes the load."""
    import os
    import subprocess
    import sys

    from awork_async.cli._constants import CRASH_EXIT_CODE, ENV_CRASH_AFTER

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    args = [sys.executable, "-m", "awork_async", "--base-url", cli_sandbox.base_url]
    args += ["--token", cli_sandbox.token, "mirror", "--db", url, "--once", "--batch-size", "100"]
    args += ["--page-size", "100"]  # a checkpoint needs whole pages
    env = {k: v for k, v in os.environ.items() if k not in {"AWORK_TOKEN", ENV_CRASH_AFTER}}
    crashed = subprocess.run(
        args, env={**env, ENV_CRASH_AFTER: "200"}, capture_output=True, text=True, check=False
    )
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert crashed.stdout == ""
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith("pass: "), rerun.stdout  # resumed, not a new first load
    asyncio.run(assert_in_step(url, cli_sandbox))


def test_the_readme_mirror_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    (example,) = [b for b in blocks if "from awork_async.mirror import mirror" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README mirror example", "exec"), {"__name__": "readme_mirror"})
    assert capsys.readouterr().out.startswith("first-load: 500 read, 500 upserted")
    assert (tmp_path / "awork.db").exists()


async def test_rows_from_json_equal_rows_from_decoded_entries(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    """The typed columns computed from the JSON object equal those of the decoded entry."""
    sent = [row async for row in sandbox_client.time_entries.list(page_size=100).raw()]
    for raw in sent:
        fast = MirrorRow.from_json(raw)
        slow = MirrorRow.from_entry(structure(raw, TimeEntry))
        text = orjson.dumps(raw)
        faster = MirrorRow.from_bytes(text)
        assert fast.values["data"] is raw
        assert orjson.dumps(faster.values["data"]) == text  # stored as sent
        for row in (fast, faster):
            assert {**row.values, "data": None} == {**slow.values, "data": None}
            assert (row.id, row.updated_on, row.resource_version) == (
                slow.id,
                slow.updated_on,
                slow.resource_version,
            )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "0B8E5A40-5F3C-4C53-9A0E-2F1F0F6C1A11"),
        ("userId", "{0b8e5a40-5f3c-4c53-9a0e-2f1f0f6c1a12}"),
        ("updatedOn", "2025-09-01t14:00:00.1234567+0200"),
        ("startDateUtc", "2025-09-01"),
        ("startTimeUtc", "08:30:00.1234567"),
        ("startTimeUtc", "08:30"),
        ("endTimeUtc", "25:99:00"),
        ("typeOfWork", {"id": 5, "nested": [1, {"a": None}]}),
        ("breaks", [{"x": 1}, 2, None]),
        ("unknownField", {"anything": True}),
    ],
)
def test_rows_from_bytes_equal_rows_from_json_for_unusual_shapes(field: str, value: object) -> None:
    """Tolerated shapes the fast decoder does not take itself give the same row."""
    raw: dict[str, Any] = {
        "id": "0b8e5a40-5f3c-4c53-9a0e-2f1f0f6c1a11",
        "startDateUtc": "2025-09-01T00:00:00Z",
        "startTimeUtc": "08:00:00",
        "endDateUtc": "2025-09-01T00:00:00Z",
        "endTimeUtc": "09:00:00",
        "updatedOn": "2025-09-01T12:00:00Z",
        "resourceVersion": 2,
        field: value,
    }
    slow = MirrorRow.from_json(raw)
    fast = MirrorRow.from_bytes(orjson.dumps(raw))
    assert {**fast.values, "data": None} == {**slow.values, "data": None}
    assert (fast.id, fast.updated_on, fast.resource_version) == (
        slow.id,
        slow.updated_on,
        slow.resource_version,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", 5),
        ("breaks", {}),
        ("userId", "not-a-uuid"),
        ("taskId", 7),
        ("updatedOn", "yesterday"),
        ("startDateUtc", 20250101),
        ("isBillable", 1),
        ("duration", True),
        ("resourceVersion", "3"),
        ("note", ["x"]),
    ],
)
def test_a_wrong_typed_field_of_a_json_entry_is_a_typed_error(field: str, value: object) -> None:
    raw: dict[str, Any] = {
        "id": "0b8e5a40-5f3c-4c53-9a0e-2f1f0f6c1a11",
        "updatedOn": "2025-09-01T12:00:00Z",
        "resourceVersion": 2,
        field: value,
    }
    for build in (MirrorRow.from_json, lambda raw: MirrorRow.from_bytes(orjson.dumps(raw))):
        with pytest.raises(APIResponseValidationError, match=rf"@ \$\.{field}\b") as caught:
            build(raw)
        assert "0b8e5a40-5f3c-4c53-9a0e-2f1f0f6c1a11" in str(caught.value)
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(caught.value)  # no value: the answer may echo a secret
        with pytest.raises(APIResponseValidationError, match=r"\$\.id"):
            build({**raw, field: None, "id": 12})


def count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the entries the mirror's walk has read (``["n"]``, as each page is handed over)."""
    real_raw_pages = IncrementalSync.raw_pages
    read = {"n": 0}

    async def counting(self: IncrementalSync[Any]) -> AsyncIterator[Any]:
        async for page in real_raw_pages(self):
            read["n"] += len(page.entries)
            yield page

    monkeypatch.setattr(IncrementalSync, "raw_pages", counting)
    return read


async def test_the_walk_goes_on_while_two_batches_wait_to_commit(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first batch's commit waits, the walk queues the second batch and reads the
    third (two batches pending, then it waits); commits still happen one at a time, in order,
    each with its checkpoint."""
    real_commit = MirrorDatabase.commit_batch
    read = count_reads(monkeypatch)
    seen_during_first: list[int] = []
    running: list[int] = []
    order: list[tuple[str, int]] = []

    async def slow_first(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        number = len(order) // 2
        order.append(("start", number))
        running.append(number)
        assert len(running) == 1  # one commit at a time
        if number == 0:
            for _ in range(100_000):  # yield to the loop until the third batch is read
                if read["n"] >= 150:
                    break
                await asyncio.sleep(0)
            seen_during_first.append(read["n"])
        try:
            return await real_commit(self, entries, checkpoint)
        finally:
            running.remove(number)
            order.append(("end", number))

    monkeypatch.setattr(MirrorDatabase, "commit_batch", slow_first)
    report = await mirror(
        sandbox_client, db_url, once=True, sweep_every=None, batch_size=50, page_size=50
    )
    # 50 committing, 50 queued, the third 50 read (pages of at most 50: with one batch
    # pending at most, the walk would wait with fewer than 150 read)
    assert len(seen_during_first) == 1 and seen_during_first[0] >= 150
    assert order == [(step, n) for n in range(len(order) // 2) for step in ("start", "end")]
    assert report.read == report.upserted == 300
    await assert_in_step(db_url, sb)


async def test_a_batch_after_a_failed_commit_is_not_committed(
    sb: Sandbox, sandbox_client: AworkClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first commit fails while the second batch waits behind it: the second must not
    commit (its checkpoint covers the first batch's entries); the rerun loads everything."""
    real_commit = MirrorDatabase.commit_batch
    read = count_reads(monkeypatch)
    calls: list[int] = []
    queued_behind: list[int] = []

    async def fail_first(self: MirrorDatabase, entries: Any, checkpoint: Any) -> int:
        calls.append(len(entries))
        if len(calls) == 1:
            for _ in range(100_000):  # let the walk queue the second batch behind this one
                if read["n"] >= 150:
                    break
                await asyncio.sleep(0)
            queued_behind.append(read["n"])
            raise Crash("first commit")
        return await real_commit(self, entries, checkpoint)

    monkeypatch.setattr(MirrorDatabase, "commit_batch", fail_first)
    with pytest.raises(Crash):
        await mirror(
            sandbox_client, db_url, once=True, sweep_every=None, batch_size=50, page_size=50
        )
    # a second batch was read and waiting (else this would pass without any queue at all) ...
    assert len(queued_behind) == 1 and queued_behind[0] >= 150
    assert calls == [
        50
    ]  # ... and the batch queued behind the failed one never reached the database
    assert await table(db_url) == {}
    monkeypatch.setattr(MirrorDatabase, "commit_batch", real_commit)
    again = await mirror(sandbox_client, db_url, once=True, sweep_every=None)
    assert (again.kind, again.upserted) == ("first-load", 300)
    await assert_in_step(db_url, sb)


def _shaped(index: int, **fields: object) -> dict[str, Any]:
    """An entry with every typed column set, changed by ``fields``."""
    raw: dict[str, Any] = {
        "id": f"0b8e5a40-5f3c-4c53-9a0e-{index:012x}",
        "userId": "d20b5d59-db61-4487-889d-a11b62397bc7",
        "projectId": "f0a3a668-61e1-480d-99db-30aff8a10e70",
        "taskId": "dabe1ffa-6e20-4fd6-8b58-bad501f12d28",
        "typeOfWorkId": "ad9cedde-819d-4ca7-b461-08cc721754ef",
        "startDateUtc": "2026-02-01T00:00:00Z",
        "startTimeUtc": "20:28:00",
        "endDateUtc": "2026-02-01T00:00:00Z",
        "endTimeUtc": "22:13:59",
        "duration": 6300,
        "isBillable": True,
        "isBilled": False,
        "note": "Line one\nline two",
        "createdOn": "2026-02-01T22:55:48Z",
        "updatedOn": "2026-02-02T02:04:04.5Z",
        "resourceVersion": 639055946440000000 + index,
        "typeOfWork": {"id": "ad9cedde-819d-4ca7-b461-08cc721754ef", "name": "Dev"},
        "breaks": [],
    }
    raw.update(fields)
    return {key: value for key, value in raw.items() if value is not ...}


#: Entries the SQL of a JSON batch makes into columns (the common shape and its edges).
_COMMON_SHAPES: list[dict[str, Any]] = [
    _shaped(1),
    _shaped(2, updatedOn="2026-02-02T02:04:04Z", createdOn="2026-02-01T22:55:48.123456Z"),
    _shaped(3, updatedOn="2024-02-29T23:59:59.1Z", createdOn=None, note=None),
    _shaped(4, userId=None, projectId=None, taskId=None, typeOfWorkId=None),
    _shaped(5, startTimeUtc=None, endDateUtc=None, duration=0, isBillable=False, isBilled=True),
    _shaped(6, startDateUtc=..., endTimeUtc=..., isBillable=None, resourceVersion=None),
    _shaped(7, note='quotes " and \\ and \u00e9\u20ac\U0001f600 and \t', duration=-5),
    _shaped(8, resourceVersion=2**62, endTimeUtc="00:00:00", startTimeUtc="23:59:59"),
]

#: Entries outside it (each makes its whole batch take the per-entry rows).
_UNUSUAL_SHAPES: list[dict[str, Any]] = [
    _shaped(20, id="0B8E5A40-5F3C-4C53-9A0E-000000000014"),
    _shaped(21, userId="{d20b5d59-db61-4487-889d-a11b62397bc7}"),
    _shaped(22, updatedOn="2026-02-02T04:04:04+02:00"),
    _shaped(23, updatedOn="2026-02-02T02:04:04.1234567Z"),
    _shaped(24, startTimeUtc="08:30"),
    _shaped(25, endTimeUtc="25:99:00"),
    _shaped(26, note="NUL \u0000 ends a string in SQLite's JSON functions"),
]

#: Entries the regular expressions of the common shape alone would let through: refused.
_INVALID_SHAPES: list[dict[str, Any]] = [
    _shaped(27, createdOn="2026-02-30T00:00:00Z"),
    _shaped(28, startDateUtc="2026-02-01T00:00:00Z\n2026-02-01T00:00:00Z"),
    _shaped(
        28, userId="d20b5d59-db61-4487-889d-a11b62397bc7\nd20b5d59-db61-4487-889d-a11b62397bc7"
    ),
]


async def test_a_batch_of_json_texts_makes_the_same_rows_as_the_per_entry_path(
    any_db_url: str,
) -> None:
    """A batch of JSON texts is made into rows by the database's JSON functions; each column
    holds what :meth:`MirrorRow.from_bytes` gives (on SQLite and PostgreSQL), the version rule
    and the tombstones apply, a repeated id keeps its newest version; an entry outside the
    common shape sends its batch through the per-entry rows."""
    common = [orjson.dumps(raw) for raw in _COMMON_SHAPES]
    escaped = orjson.dumps(_shaped(9, note="@")).replace(b'"@"', rb'"\u00e9\ud83d\ude00\n\/"')
    common.append(escaped)  # awork may escape what orjson would not
    assert orjson.loads(escaped)["note"] == "\u00e9\U0001f600\n/"
    unusual = [orjson.dumps(raw) for raw in _UNUSUAL_SHAPES]
    if any_db_url.startswith("postgresql"):  # its text holds no NUL, whichever way it comes
        unusual = [text for text in unusual if b"\\u0000" not in text]
    assert _json_batch(common) is not None
    for text in unusual:
        assert _json_batch([*common, text]) is None, text
    async with MirrorDatabase(any_db_url) as db:
        for raw in _INVALID_SHAPES:
            assert _json_batch([*common, orjson.dumps(raw)]) is None, raw
            with pytest.raises(APIResponseValidationError, match=raw["id"]):
                await db.upsert([*common, orjson.dumps(raw)])
        assert await db.entries() == {}  # nothing of a refused batch
        # each batch on its own: by the database's JSON functions or by per-entry rows
        assert await db.upsert(common) == len(common)
        assert await db.upsert(unusual) == len(unusual)
        by_sql = await db.entries()
        async with db.engine.begin() as conn:
            await conn.execute(sa.delete(time_entries))
        assert await db.upsert([MirrorRow.from_bytes(text) for text in common + unusual]) == len(
            common
        ) + len(unusual)
        by_rows = await db.entries()
        assert set(by_sql) == set(by_rows) and len(by_sql) == len(common) + len(unusual)
        for entry_id, (version, row) in by_rows.items():
            assert by_sql[entry_id][0] == version
            assert {**by_sql[entry_id][1], "mirrored_on": None} == {**row, "mirrored_on": None}

        first = _COMMON_SHAPES[0]
        older = orjson.dumps({**first, "resourceVersion": first["resourceVersion"] - 1})
        newer = orjson.dumps({**first, "resourceVersion": first["resourceVersion"] + 1})
        assert await db.upsert([older, common[1]]) == 0  # older, and the same version
        assert await db.upsert([newer, older, common[1]]) == 1  # the newest of the id only
        await db.delete([first["id"]], source="webhook")
        assert await db.upsert([newer, common[2]]) == 0  # deleted: not resurrected
        rows = await db.entries()
    assert first["id"] not in rows
    assert rows[_COMMON_SHAPES[1]["id"]][0] == _COMMON_SHAPES[1]["resourceVersion"]
