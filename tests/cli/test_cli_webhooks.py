"""``awork-async webhooks list/create/delete/listen`` and ``sandbox --webhooks``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
from _helpers import FakeSleep, quiet_client, threaded_sandbox
from typer.testing import CliRunner, Result

from awork_async.cli import app
from awork_async.sandbox import Sandbox, WebhookDeliveryConfig

SECRET = "cli-hook-s3cr3t"
HEADER = "X-Awork-Secret"


@pytest.fixture
def webhooks_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox per test (the tests register and delete webhooks)."""
    delivery = WebhookDeliveryConfig(sleep=FakeSleep())
    with threaded_sandbox(entries=30, seed=5, token="tok-webhooks-cli-01", webhooks=delivery) as sb:
        yield sb


def run(sb: Sandbox, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["--base-url", sb.base_url, "--token", sb.token, *args], env=env)


def test_create_list_delete(webhooks_sandbox: Sandbox) -> None:
    result = run(webhooks_sandbox, "webhooks", "list")
    assert result.exit_code == 0, result.stderr
    assert "0 webhooks" in result.stdout

    result = run(
        webhooks_sandbox,
        "webhooks",
        "create",
        "--uri",
        "http://127.0.0.1:9/hook",
        "--auth-header",
        HEADER,
        env={"AWORK_WEBHOOK_AUTH_VALUE": SECRET},
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("created webhook ")
    assert "timetracking_added,timetracking_updated" in result.stdout
    (hook_id,) = webhooks_sandbox.webhooks.hooks
    assert webhooks_sandbox.webhooks.hooks[hook_id]["authentication"] == f"{HEADER}={SECRET}"

    table = run(webhooks_sandbox, "webhooks", "list")
    assert table.exit_code == 0, table.stderr
    assert hook_id in table.stdout and HEADER in table.stdout
    as_json = run(webhooks_sandbox, "webhooks", "list", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    (listed,) = json.loads(as_json.stdout)
    assert listed["id"] == hook_id
    assert listed["authentication"] == f"{HEADER}=***"
    for output in (table.stdout, table.stderr, as_json.stdout):
        assert SECRET not in output

    deleted = run(webhooks_sandbox, "webhooks", "delete", hook_id)
    assert deleted.exit_code == 0, deleted.stderr
    assert webhooks_sandbox.webhooks.hooks == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--uri", "http://127.0.0.1:9/"], "--auth-header and --auth-value"),
        (
            ["create", "--uri", "ftp://x", "--auth-header", HEADER, "--auth-value", SECRET],
            "uri",
        ),
        (
            [
                *("create", "--uri", "http://127.0.0.1:9/", "--event", "a,b"),
                *("--auth-header", HEADER, "--auth-value", SECRET),
            ],
            "events",
        ),
        (["delete", "not-an-id"], "not an id"),
        (["listen", "--auth-header", HEADER], "--auth-header and --auth-value"),
    ],
)
def test_usage_errors(webhooks_sandbox: Sandbox, args: list[str], message: str) -> None:
    result = run(webhooks_sandbox, "webhooks", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert SECRET not in result.stderr
    assert webhooks_sandbox.webhooks.hooks == {}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWORK")}
    env["XDG_CONFIG_HOME"] = "/nonexistent-awork-test-config"
    env["AWORK_WEBHOOK_AUTH_VALUE"] = SECRET
    return env


def test_listen_prints_verified_events_as_json_lines(webhooks_sandbox: Sandbox) -> None:
    listener = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awork_async",
            "webhooks",
            "listen",
            "--port",
            "0",
            "--auth-header",
            HEADER,
            "--max-events",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert listener.stderr is not None and listener.stdout is not None
        first = listener.stderr.readline()  # blocks until it listens
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[2]
        assert SECRET not in first
        created = run(
            webhooks_sandbox,
            "webhooks",
            "create",
            "--uri",
            url,
            "--auth-header",
            HEADER,
            "--auth-value",
            SECRET,
        )
        assert created.exit_code == 0, created.stderr

        async def changes() -> str:
            forged = {"eventType": "timetracking_deleted"}  # no header: not printed
            async with aiohttp.ClientSession() as session, session.post(url, json=forged) as r:
                assert r.status == 401
            async with quiet_client(webhooks_sandbox.token, webhooks_sandbox.base_url) as awork:
                tow = next(
                    t for t in webhooks_sandbox.store.types_of_work.values() if not t["isArchived"]
                )
                entry = await awork.timer.start(tow["id"], timezone="Europe/Berlin")
                await awork.timer.stop()
                await awork.time_entries.delete(entry.id)  # type: ignore[arg-type]
                return str(entry.id)

        entry_id = asyncio.run(changes())
        lines = [json.loads(listener.stdout.readline()) for _ in range(3)]
        assert [(e["eventType"], e["entityId"]) for e in lines] == [
            ("timetracking_added", entry_id),
            ("timetracking_updated", entry_id),
            ("timetracking_deleted", entry_id),
        ]
        assert listener.wait(timeout=60) == 0  # --max-events reached
        rest = listener.stdout.read()
        assert rest == ""
        assert SECRET not in listener.stderr.read()
    finally:
        if listener.poll() is None:
            listener.terminate()
        listener.communicate(timeout=30)


def test_sandbox_command_has_a_webhooks_flag() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--help"])
    assert "--webhooks" in result.stdout
    assert "--webhook-failure-rate" in result.stdout
