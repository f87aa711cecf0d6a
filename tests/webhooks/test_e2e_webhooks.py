"""End to end: a receiver registered with the sandbox sees every change exactly once.

Changes go through the client (CRUD, the timer, batch and legacy bulk routes) while 10% of the
sandbox's delivery attempts fail (half never sent, half with the answer lost, so the receiver
sees redeliveries). Forged deliveries are sent in between. The oracle is the store itself: each
change it applies to a time entry must reach the consumer once, in order per entry. Finally the
sweep must report exactly the entries the webhooks reported deleted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import orjson
import pytest
from _helpers import FakeSleep, quiet_client
from aiohttp.test_utils import TestServer as LocalServer

from awork_async import AworkClient, find_deleted
from awork_async.models import (
    TimeEntry,
    TimeEntryCreate,
    TimeEntryUpdate,
    TypeOfWorkForm,
    WebhookConfigForm,
)
from awork_async.sandbox import Sandbox, WebhookDeliveryConfig
from awork_async.sandbox.store import Change
from awork_async.sandbox.webhooks import entry_event_type
from awork_async.webhooks import TIME_TRACKING_EVENTS, WebhookEvent, WebhookReceiver

HEADER, SECRET = "X-Awork-Secret", "e2e-s3cr3t"
PATH = "/awork/webhooks"
UTC = dt.timezone.utc


class Oracle:
    """Every time-entry change the sandbox applied, as (event type, entry id), in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.collection == "entries":
                kind = entry_event_type(change.old, change.new)
                if kind is not None:
                    self.events.append((kind, change.id))


async def consume(receiver: WebhookReceiver, copy: dict[str, TimeEntry]) -> list[WebhookEvent]:
    """A worker: keeps ``copy`` in step with the events (newest resource version wins)."""
    seen: list[WebhookEvent] = []
    async for event in receiver.events():
        seen.append(event)
        key = str(event.entity_id)
        if event.event_type == "timetracking_deleted":
            copy.pop(key, None)
        elif isinstance(event.entity, TimeEntry):
            old = copy.get(key)
            if old is None or (event.entity.resource_version or 0) >= (old.resource_version or 0):
                copy[key] = event.entity
    return seen


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    hook = WebhookReceiver(auth_header=HEADER, auth_value=SECRET)
    server = LocalServer(hook.app(path=PATH), host="127.0.0.1")
    await server.start_server()
    try:
        yield hook, str(server.make_url(PATH))
    finally:
        await server.close()


async def forge(session: aiohttp.ClientSession, url: str, entry_id: str, header: str | None) -> int:
    body = {
        "eventType": "timetracking_deleted",
        "entityId": entry_id,
        "entity": {"id": entry_id},
        "traceId": "forged",
        "timestamp": "2025-01-01T00:00:00+00:00",
    }
    headers = {} if header is None else {HEADER: header}
    async with session.post(url, data=orjson.dumps(body), headers=headers) as response:
        return response.status


def _types(sb: Sandbox) -> list[str]:
    return [t["id"] for t in sb.store.types_of_work.values() if not t["isArchived"]]


async def _changes(awork: AworkClient, sb: Sandbox, forged: Any) -> tuple[set[str], list[str]]:
    """Make every kind of change; return the ids of the entries created on the way, and of
    those moved to another type of work when theirs was deleted."""
    me, (tow, tow2, *_) = sb.store.me_id, _types(sb)
    start = dt.datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    created = [
        await awork.time_entries.create(
            TimeEntryCreate.from_span(
                start=start + dt.timedelta(hours=n),
                duration=1800,
                timezone="Europe/Berlin",
                type_of_work_id=tow,
                user_id=me,
                note=f"e2e {n}",
            )
        )
        for n in range(24)
    ]
    ids = [c.id for c in created]
    assert all(i is not None for i in ids)
    await forged(str(ids[0]))
    await awork.time_entries.update(
        ids[0],
        TimeEntryUpdate.from_span(
            start=start, duration=900, timezone="Europe/Berlin", type_of_work_id=tow, note="new"
        ),
    )
    await awork.time_entries.update(  # a type-of-work change through PUT
        ids[1],
        TimeEntryUpdate.from_span(
            start=start, duration=900, timezone="Europe/Berlin", type_of_work_id=tow2
        ),
    )
    await awork.time_entries.delete(ids[2])
    # the timer: start, pause, resume, stop; starting again stops nothing (already stopped)
    running = await awork.timer.start(tow, timezone="Europe/Berlin", note="timer")
    await awork.timer.pause()
    await awork.timer.resume()
    await awork.timer.pause()
    stopped = await awork.timer.stop()
    assert stopped is not None
    await awork.time_entries.remove_breaks(running.id)  # type: ignore[arg-type]
    second = await awork.timer.start(tow, timezone="Europe/Berlin")
    third = await awork.timer.start(tow2, timezone="Europe/Berlin")  # stops ``second`` first
    await forged(str(ids[3]))
    # batch and legacy bulk routes
    await awork.time_entries.set_billable(ids[3:9], True)
    await awork.time_entries.set_type_of_work(ids[3:6], tow2)
    await awork.time_entries.delete_many([*ids[6:9], uuid.uuid4()])  # one unknown id: notFound
    await awork.time_entries.legacy_bulk("setbilled", ids[9:11])
    await awork.time_entries.legacy_bulk("settypeofwork", ids[11:13], type_of_work_id=tow2)
    await awork.time_entries.legacy_bulk("delete", ids[13:15])
    # deleting a type of work moves its entries to the replacement: type-of-work changes
    doomed = await awork.types_of_work.create(TypeOfWorkForm(name="e2e doomed type"))
    assert doomed.id is not None
    moved = [
        await awork.time_entries.create(
            TimeEntryCreate.from_span(
                start=start + dt.timedelta(days=2, hours=n),
                duration=600,
                timezone="Europe/Berlin",
                type_of_work_id=doomed.id,
                user_id=me,
            )
        )
        for n in range(2)
    ]
    await awork.types_of_work.delete(doomed.id, tow)
    # a task's new type of work, passed on to its time entries
    task_id = next(iter(sb.store.tasks))
    on_task = [
        await awork.time_entries.create(
            TimeEntryCreate.from_span(
                start=start + dt.timedelta(days=3, hours=n),
                duration=600,
                timezone="Europe/Berlin",
                type_of_work_id=tow,
                user_id=me,
                task_id=task_id,
            )
        )
        for n in range(2)
    ]
    await awork.types_of_work.change_for_tasks([task_id], tow2, change_time_entries=True)
    moved += on_task
    ids += [m.id for m in moved]
    # changes the sandbox makes on its own (like other users of the workspace)
    sb.store.insert_entries(3)
    sb.store.delete_entries(4)
    made = {str(i) for i in [*ids, running.id, second.id, third.id]}
    return made, [str(m.id) for m in moved]


@pytest.mark.filterwarnings("ignore:POST /timeentries/:DeprecationWarning")
async def test_every_change_reaches_the_receiver_exactly_once(
    receiver: tuple[WebhookReceiver, str],
) -> None:
    hook, url = receiver
    delivery = WebhookDeliveryConfig(failure_rate=0.1, seed=3, sleep=FakeSleep())
    oracle = Oracle()
    copy: dict[str, TimeEntry] = {}
    async with (
        Sandbox(entries=120, seed=9, webhooks=delivery) as sb,
        quiet_client(sb.token, sb.base_url) as awork,
        aiohttp.ClientSession() as session,
    ):
        sb.store.listeners.append(oracle)
        initial = {str(i): e for i, e in _initial(sb).items()}
        copy.update(initial)
        config = await awork.webhooks.create(
            WebhookConfigForm(
                name="e2e",
                uri=url,
                events=list(TIME_TRACKING_EVENTS),
                is_active=True,
                auth_header=HEADER,
                auth_value=SECRET,
            )
        )
        worker = asyncio.create_task(consume(hook, copy))
        statuses: list[int] = []

        async def forged(entry_id: str) -> None:
            statuses.append(await forge(session, url, entry_id, None))
            statuses.append(await forge(session, url, entry_id, "wrong"))
            statuses.append(await forge(session, url, entry_id, SECRET.upper()))

        made, moved = await _changes(awork, sb, forged)
        await sb.webhooks.join()
        hook.close()
        events = await worker

        got = [(e.event_type, str(e.entity_id)) for e in events]
        # exactly once: same multiset as the store's changes, nothing extra, nothing missing
        assert Counter(got) == Counter(oracle.events)
        assert len(oracle.events) > 60
        # in order per entry
        per_entry_got: dict[str, list[str]] = defaultdict(list)
        per_entry_expected: dict[str, list[str]] = defaultdict(list)
        for kind, entry_id in got:
            per_entry_got[entry_id].append(kind)
        for kind, entry_id in oracle.events:
            per_entry_expected[entry_id].append(kind)
        assert per_entry_got == per_entry_expected
        # every kind of event occurred, and the failures really happened
        assert {kind for kind, _ in got} == set(TIME_TRACKING_EVENTS)
        for entry_id in moved:
            assert ("timetracking_type_changed", entry_id) in got
        stats = sb.webhooks.stats
        assert stats.failed["injected_refused"] >= 1
        assert stats.failed["injected_lost"] >= 1
        assert hook.stats.duplicates >= 1  # redeliveries after a lost answer were dropped
        assert stats.paused == 0
        assert (await awork.webhooks.get(config.id)).is_active is True  # type: ignore[arg-type]
        # forged deliveries changed nothing
        assert statuses == [401] * 6
        assert hook.stats.unauthorized == 6
        assert all(e.trace_id != "forged" for e in events)
        # the worker's copy equals the sandbox
        assert set(copy) == set(sb.store.entries)
        for entry_id, entry in copy.items():
            assert entry.resource_version == sb.store.entries[entry_id]["resourceVersion"]
        # the sweep finds every deletion the webhooks reported, and nothing else
        deleted = {entry_id for kind, entry_id in got if kind == "timetracking_deleted"}
        known = set(initial) | made | {e for _, e in got}
        found = await find_deleted(awork, known)
        assert {str(i) for i in found} == deleted
        logs = await awork.webhooks.logs(config.id).collect()  # type: ignore[arg-type]
        assert sum(1 for log in logs if log.is_successful) == len(oracle.events)


def _initial(sb: Sandbox) -> dict[str, TimeEntry]:
    from awork_async._converter import structure

    return {i: structure(e, TimeEntry) for i, e in sb.store.entries.items()}
