"""Deletions in the mirror: the sweep (``find_deleted``) and webhooks from the sandbox."""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from _helpers import FakeSleep, SandboxClock, quiet_client
from aiohttp import web
from test_mirror import assert_in_step, churn, table

from awork_async import AworkClient
from awork_async.mirror import MirrorCounters, PassReport, mirror
from awork_async.models import TimeEntryCreate, TimeEntryUpdate, WebhookConfigForm
from awork_async.sandbox import Sandbox, WebhookDeliveryConfig
from awork_async.webhooks import TIME_TRACKING_EVENTS, WebhookReceiver

SECRET = "mirror-s3cr3t"


@pytest.mark.awork_sandbox(entries=250, seed=6)
@pytest.mark.sandbox_clock
async def test_the_sweep_removes_entries_deleted_behind_the_mirrors_back(
    sb: Sandbox, clock: SandboxClock, db_url: str
) -> None:
    counters = MirrorCounters()
    async with AworkClient(
        token=sb.token, base_url=sb.base_url, hooks=counters.hooks(), sleep=FakeSleep()
    ) as awork:
        first = await mirror(awork, db_url, once=True, counters=counters)
        assert first.kind == "first-load"  # a full load counts as a sweep: none now
        await churn(awork, sb, clock, random.Random(3), deletes=True)
        sb.store.delete_entries(6)  # no webhook anyone could see
        gone = set(await table(db_url)) - set(sb.store.entries)
        assert len(gone) >= 6
        reports: list[PassReport] = []
        await mirror(
            awork,
            db_url,
            once=True,
            sweep_every=1e-9,  # due at once
            counters=counters,
            on_pass=reports.append,
        )
    assert [r.kind for r in reports] == ["pass", "sweep"]
    assert reports[1].deleted == len(gone)
    assert reports[1].requests >= 1
    await assert_in_step(db_url, sb)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.awork_sandbox(
    entries=200,
    seed=12,
    webhooks=WebhookDeliveryConfig(failure_rate=0.1, seed=2, sleep=FakeSleep()),
)
@pytest.mark.sandbox_clock
async def test_webhooks_keep_the_table_exact_between_passes(
    sb: Sandbox, clock: SandboxClock, db_url: str
) -> None:
    """After the first load no pass runs: every insert, update, timer change and deletion
    reaches the table through the webhooks (10% of the deliveries fail and are retried)."""
    receiver = WebhookReceiver(auth_header="X-Awork-Secret", auth_value=SECRET)
    runner = web.AppRunner(receiver.app())
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    reports: list[PassReport] = []
    try:
        async with quiet_client(sb.token, sb.base_url) as awork:
            await awork.webhooks.create(
                WebhookConfigForm(
                    name="mirror",
                    uri=f"http://127.0.0.1:{port}/awork/webhooks",
                    events=list(TIME_TRACKING_EVENTS),
                    is_active=True,
                    auth_header="X-Awork-Secret",
                    auth_value=SECRET,
                )
            )

            class Done(Exception):
                pass

            waits: list[float] = []

            async def between_passes(seconds: float) -> None:
                waits.append(seconds)
                if len(waits) == 1:  # after the first load: changes, deletions included
                    await churn(awork, sb, clock, random.Random(9), deletes=True)
                    sb.store.delete_entries(3)  # the store's own deletions also send webhooks
                    await sb.webhooks.join()
                    receiver.close()  # the mirror applies what was accepted, then stops
                    raise Done

            with pytest.raises(Done):
                await mirror(
                    awork,
                    db_url,
                    receiver=receiver,
                    sweep_every=None,  # webhooks only
                    on_pass=reports.append,
                    sleep=between_passes,
                )
    finally:
        await runner.cleanup()
    assert [r.kind for r in reports] == ["first-load"]
    assert receiver.stats.accepted > 0
    assert (
        sb.webhooks.stats.failed["injected_refused"] + sb.webhooks.stats.failed["injected_lost"] > 0
    )
    await assert_in_step(db_url, sb)


def test_cli_serves_webhooks_during_a_pass(tmp_path: Path) -> None:
    from _helpers import threaded_sandbox
    from typer.testing import CliRunner

    from awork_async.cli import app

    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    with threaded_sandbox(entries=50, seed=2, token="tok-mirror-hooks-0001") as sb:
        args = ["--base-url", sb.base_url, "--token", sb.token, "mirror", "--db", url, "--once"]
        args += ["--webhooks-port", str(_free_port()), "--auth-header", "X-Awork-Secret"]
        result = CliRunner().invoke(app, [*args, "--auth-value", SECRET])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("first-load: 50 read, 50 upserted")
    assert SECRET not in result.stdout + result.stderr


def test_cli_with_webhooks_over_several_passes(tmp_path: Path) -> None:
    """``awork-async mirror --webhooks-port … --sweep-every never --json`` left running: three
    rounds of updates, inserts, a timer entry and deletions through the API. The passes bring
    the changes, the webhooks (subscribed to deletions only) the deletions: no sweep runs. Once
    every deletion is reported and two more passes ran, the stopped process leaves the table
    equal to the sandbox."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import threading

    from _helpers import threaded_sandbox

    url = f"sqlite:///{tmp_path / 'passes.db'}"
    port = _free_port()
    with threaded_sandbox(entries=80, seed=21, token="tok-mirror-passes-0001", webhooks=True) as sb:

        async def register() -> None:
            async with quiet_client(sb.token, sb.base_url) as awork:
                await awork.webhooks.create(
                    WebhookConfigForm(
                        name="mirror",
                        uri=f"http://127.0.0.1:{port}/awork/webhooks",
                        events=["timetracking_deleted"],  # the rest comes with the passes
                        is_active=True,
                        auth_header="X-Awork-Secret",
                        auth_value=SECRET,
                    )
                )

        async def change(seed: int) -> None:
            rng = random.Random(seed)
            tow = next(i for i, t in sb.store.types_of_work.items() if not t.get("isArchived"))
            start = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
            plain = sorted(i for i, e in sb.store.entries.items() if not e.get("breaks"))
            async with quiet_client(sb.token, sb.base_url) as awork:
                updated = rng.sample(plain, 3)
                for entry_id in updated:
                    span = timedelta(minutes=rng.randint(5, 200))
                    await awork.time_entries.update(
                        entry_id,
                        TimeEntryUpdate.from_span(
                            start=start, end=start + span, timezone="UTC", type_of_work_id=tow
                        ),
                    )
                for _ in range(2):
                    await awork.time_entries.create(
                        TimeEntryCreate.from_span(
                            start=start,
                            duration=rng.randint(60, 7200),
                            timezone="UTC",
                            type_of_work_id=tow,
                            user_id=sb.store.me_id,
                        )
                    )
                await awork.timer.start(tow, timezone="UTC", note="timer")
                await awork.timer.stop()
                for entry_id in rng.sample(sorted(set(plain) - set(updated)), 2):
                    await awork.time_entries.delete(entry_id)

        asyncio.run(register())
        args = [sys.executable, "-m", "awork_async", "--base-url", sb.base_url, "--token"]
        args += [sb.token, "mirror", "--db", url, "--json", "--poll-every", "0.2"]
        args += ["--sweep-every", "never", "--webhooks-port", str(port)]
        args += ["--auth-header", "X-Awork-Secret"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWORK_")}
        env["AWORK_WEBHOOK_SECRET"] = SECRET
        with (tmp_path / "stderr.txt").open("wb") as errors:
            worker = subprocess.Popen(
                args, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
            )
            # A hang guard, not a timing assertion: a worker that stops reporting is killed, so
            # ``readline`` returns "" and the test fails instead of waiting forever.
            guard = threading.Timer(300, worker.kill)
            guard.start()
            try:
                assert worker.stdout is not None
                reports = [json.loads(worker.stdout.readline())]
                assert reports[0]["kind"] == "first-load"
                assert reports[0]["read"] == 80
                for round_ in range(3):
                    before = len(reports)
                    asyncio.run(change(round_))  # 2 deletions each, as webhooks
                    while (
                        sum(r["deleted"] for r in reports) < 2 * (round_ + 1)
                        or len(reports) < before + 2  # a whole pass after the changes
                    ):
                        reports.append(json.loads(worker.stdout.readline()))
            finally:
                guard.cancel()
                worker.send_signal(signal.SIGINT)
                worker.communicate(timeout=60)
        assert SECRET not in (tmp_path / "stderr.txt").read_text()
        assert {r["kind"] for r in reports[1:]} == {"pass"}  # no sweep: deletions by webhook
        assert sum(r["deleted"] for r in reports) == 6
        assert sum(r["upserted"] for r in reports[1:]) == 3 * (3 + 2 + 1)  # by the passes
        asyncio.run(assert_in_step(url, sb))
