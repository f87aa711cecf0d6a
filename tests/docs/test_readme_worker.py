"""The README's "worker that loses nothing", run against a sandbox that delivers webhooks.

The worker loads everything, then follows changes through webhooks while some of the sandbox's
deliveries fail; deletions made while its webhook was paused are found by the sweep. At the end
its copy equals the sandbox's data, entry for entry and version for version.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from _helpers import FakeSleep, quiet_client

from awork_async.models import TimeEntryCreate
from awork_async.sandbox import Sandbox, WebhookDeliveryConfig

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
WORKER = next(b for b in BLOCKS if "class Mirror" in b)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_readme_worker_keeps_an_exact_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    delivery = WebhookDeliveryConfig(failure_rate=0.1, seed=4, sleep=FakeSleep())
    async with Sandbox(entries=150, seed=8, webhooks=delivery) as sb:
        monkeypatch.setenv("AWORK_TOKEN", sb.token)
        monkeypatch.setenv("AWORK_BASE_URL", sb.base_url)
        monkeypatch.setenv("AWORK_WEBHOOK_AUTH_VALUE", "readme-s3cr3t")
        monkeypatch.delenv("WORKER_PUBLIC_URL", raising=False)
        namespace: dict[str, Any] = {"__name__": "readme_worker"}
        exec(compile(WORKER, "README worker", "exec"), namespace)

        stop, ready = asyncio.Event(), asyncio.Event()
        run = asyncio.create_task(
            namespace["worker"](stop, port=_free_port(), ready=ready, poll_every=3600.0)
        )
        await ready.wait()  # registered, and the first full load is done
        (hook_id,) = sb.webhooks.hooks
        async with quiet_client(sb.token, sb.base_url) as awork:
            tow = next(t["id"] for t in sb.store.types_of_work.values() if not t["isArchived"])
            made = [
                await awork.time_entries.create(
                    TimeEntryCreate.from_span(
                        start=dt.datetime(2025, 6, 1, 9, tzinfo=dt.timezone.utc)
                        + dt.timedelta(hours=n),
                        duration=600,
                        timezone="Europe/Berlin",
                        type_of_work_id=tow,
                        user_id=sb.store.me_id,
                    )
                )
                for n in range(10)
            ]
            ids = [m.id for m in made]
            await awork.time_entries.set_billable(ids[:5], True)
            await awork.time_entries.delete(ids[5])  # type: ignore[arg-type]
            await awork.time_entries.delete_many(ids[6:8])
            entry = await awork.timer.start(tow, timezone="Europe/Berlin")
            await awork.timer.stop()
            sb.store.delete_entries(5)  # someone else deletes entries too
            await sb.webhooks.join()
            # the webhook is paused (awork gave up): these deletions send nothing
            sb.webhooks.hooks[hook_id]["isActive"] = False
            gone = set(sb.store.delete_entries(7))
            await sb.webhooks.join()
            stop.set()
            mirror = await run
            assert {str(i) for i in mirror.rows} == set(sb.store.entries) | gone
            assert entry.id in mirror.rows
            await namespace["sweep"](awork, mirror)  # what the worker runs now and then
        assert {str(i) for i in mirror.rows} == set(sb.store.entries)
        for entry_id, copy in mirror.rows.items():
            assert copy.resource_version == sb.store.entries[str(entry_id)]["resourceVersion"]
        assert {str(i) for i in mirror.deleted} >= gone
        assert (
            sb.webhooks.stats.failed["injected_refused"] + sb.webhooks.stats.failed["injected_lost"]
            > 0
        )
