"""The sandbox's webhooks: the configuration routes and awork-like delivery (retries, pause)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import orjson
import pytest
from _helpers import FakeSleep, quiet_client
from aiohttp.test_utils import TestServer as LocalServer

from awork_async import AworkClient, NotFoundError, ValidationFailedError
from awork_async.models import WebhookConfigForm
from awork_async.sandbox import Sandbox, WebhookDeliveryConfig
from awork_async.sandbox.webhooks import entry_event_type, is_loopback
from awork_async.webhooks import WebhookEvent, WebhookReceiver

HEADER, SECRET = "X-Awork-Secret", "s3cr3t"
PATH = "/awork/webhooks"
TIME_EVENTS = [
    "timetracking_added",
    "timetracking_updated",
    "timetracking_deleted",
    "timetracking_type_changed",
]


@attrs.frozen
class FakeChange:
    collection: str
    id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


IDS = [str(uuid.UUID(int=n + 1)) for n in range(64)]


def eid(name: str) -> str:
    """A uuid standing for ``e<n>``."""
    return IDS[int(name[1:])]


TOW1, TOW2 = str(uuid.UUID(int=101)), str(uuid.UUID(int=102))


def entry(name: str, tow: str = TOW1, note: str = "x") -> dict[str, Any]:
    # ``id``, ``timezone`` and ``typeOfWorkId``: what every time entry carries (TimeEntry.REQUIRED)
    return {
        "id": eid(name),
        "timezone": "UTC",
        "typeOfWorkId": tow,
        "note": note,
        "duration": 60,
    }


def change(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> FakeChange:
    return FakeChange("entries", eid(name), old, new)


def fast() -> WebhookDeliveryConfig:
    """Delivery whose backoff waits are recorded, never slept."""
    return WebhookDeliveryConfig(sleep=FakeSleep())


def form(uri: str, **changes: Any) -> WebhookConfigForm:
    values: dict[str, Any] = {
        "name": "sync",
        "uri": uri,
        "events": TIME_EVENTS,
        "is_active": True,
        "auth_header": HEADER,
        "auth_value": SECRET,
    }
    values.update(changes)
    return WebhookConfigForm(**values)


def drain(receiver: WebhookReceiver) -> list[WebhookEvent]:
    out = []
    while not receiver._queue.empty():
        item = receiver._queue.get_nowait()
        if isinstance(item, WebhookEvent):
            receiver._pending -= 1
            out.append(item)
    return out


@pytest.fixture
async def receiver_url() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver(auth_header=HEADER, auth_value=SECRET)
    server = LocalServer(receiver.app(path=PATH), host="127.0.0.1")
    await server.start_server()
    try:
        yield receiver, str(server.make_url(PATH))
    finally:
        await server.close()


def _sandbox(delivery: WebhookDeliveryConfig | None) -> Sandbox:
    return Sandbox(entries=5, seed=3, webhooks=delivery)


async def _client(sb: Sandbox) -> AworkClient:
    return quiet_client(sb.token, sb.base_url)


# -- the configuration routes -----------------------------------------------------------------


async def test_config_routes_round_trip() -> None:
    async with _sandbox(None) as sb, await _client(sb) as awork:
        created = await awork.webhooks.create(form("http://127.0.0.1:9/hook"))
        assert created.id is not None
        assert created.event_types == tuple(TIME_EVENTS)
        assert created.auth_header == HEADER
        assert created.receiver_type == "custom"
        assert (await awork.webhooks.get(created.id)) == created
        listed = await awork.webhooks.list().collect()
        assert [h.id for h in listed] == [created.id]
        changed = await awork.webhooks.update(
            created.id, form("http://127.0.0.1:9/other", is_active=False, events=["task_added"])
        )
        assert changed.uri == "http://127.0.0.1:9/other"
        assert changed.is_active is False
        assert changed.event_types == ("task_added",)
        assert await awork.webhooks.logs(created.id).collect() == []
        types = await awork.webhooks.event_types()
        assert set(TIME_EVENTS) <= set(types)
        assert set(await awork.webhooks.event_types(slack=True)) <= set(types)
        await awork.webhooks.delete(created.id)
        with pytest.raises(NotFoundError):
            await awork.webhooks.get(created.id)
        with pytest.raises(NotFoundError):
            await awork.webhooks.delete(created.id)


async def test_unknown_events_are_refused() -> None:
    async with _sandbox(None) as sb, await _client(sb) as awork:
        with pytest.raises(ValidationFailedError) as info:
            await awork.webhooks.create(form("http://127.0.0.1:9/", events=["no_such_event"]))
        assert "no_such_event" in str(info.value.validation_errors)
        assert sb.webhooks.hooks == {}


# -- delivery ---------------------------------------------------------------------------------


def _register(sb: Sandbox, uri: str, *, events: str = ",".join(TIME_EVENTS)) -> str:
    hook_id = str(uuid.uuid4())
    sb.webhooks.register(
        {
            "id": hook_id,
            "name": "t",
            "uri": uri,
            "events": events,
            "isActive": True,
            "authenticationType": "header",
            "authentication": f"{HEADER}={SECRET}",
            "lastFailureReason": None,
        }
    )
    return hook_id


def test_event_type_rules() -> None:
    assert entry_event_type(None, entry("e0")) == "timetracking_added"
    assert entry_event_type(entry("e0"), None) == "timetracking_deleted"
    assert entry_event_type(entry("e0"), entry("e0", note="y")) == "timetracking_updated"
    assert entry_event_type(entry("e0"), entry("e0", tow=TOW2)) == "timetracking_type_changed"
    assert entry_event_type(None, None) is None


@pytest.mark.parametrize(
    ("uri", "loopback"),
    [
        ("http://127.0.0.1:8000/x", True),
        ("http://127.8.0.1/x", True),
        ("http://localhost:1/x", True),
        ("http://[::1]:80/x", True),
        ("https://example.com/x", False),
        ("http://10.0.0.1/x", False),
        ("not a url", False),
    ],
)
def test_loopback_rule(uri: str, loopback: bool) -> None:
    assert is_loopback(uri) is loopback


async def test_changes_are_posted_with_the_header(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = receiver_url
    async with _sandbox(fast()) as sb:
        hook_id = _register(sb, url)
        other = _register(sb, url, events="timetracking_deleted")
        sb.webhooks.on_changes(
            [
                change("e1", None, entry("e1")),
                change("e1", entry("e1"), entry("e1", note="y")),
                FakeChange("tasks", "k1", {}, {"x": 1}),  # not a time entry: no event
            ]
        )
        sb.webhooks.on_changes([change("e1", entry("e1", note="y"), None)])
        await sb.webhooks.join()
        events = drain(receiver)
        # both webhooks post the deletion to the same receiver: the second copy is dropped
        assert receiver.stats.duplicates == 1
        by_type = {e.event_type: e for e in events}
        assert len(events) == len(by_type) == 3
        added = by_type["timetracking_added"]
        updated = by_type["timetracking_updated"]
        deleted = by_type["timetracking_deleted"]
        assert added.entity is not None and added.raw["entity"]["note"] == "x"
        assert updated.raw["changes"] == [{"property": "Note", "old": "x", "new": "y"}]
        assert deleted.raw["entity"]["note"] == "y"  # the entry as it was
        assert added.trace_id == updated.trace_id != deleted.trace_id
        assert added.raw["entityType"] == "timetracking"
        assert receiver.stats.unauthorized == 0
        logs = list(sb.webhooks.logs[hook_id])
        assert [log["isSuccessful"] for log in logs] == [True, True, True]
        sent = [orjson.loads(log["message"])["eventType"] for log in logs]
        assert sent == ["timetracking_added", "timetracking_updated", "timetracking_deleted"]
        assert len(sb.webhooks.logs[other]) == 1


async def test_failed_deliveries_are_retried_with_backoff_and_deduplicated(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = receiver_url
    sleep = FakeSleep()
    delivery = WebhookDeliveryConfig(failure_rate=0.5, seed=7, backoff_base=2.0, sleep=sleep)
    async with _sandbox(delivery) as sb:
        hook_id = _register(sb, url)
        changes = [change(f"e{n}", None, entry(f"e{n}")) for n in range(40)]
        for one in changes:
            sb.webhooks.on_changes([one])
        await sb.webhooks.join()
        events = drain(receiver)
        # every change arrives exactly once, in order, although half the attempts failed
        assert [e.raw["entityId"] for e in events] == [c.id for c in changes]
        stats = sb.webhooks.stats
        assert stats.failed["injected_refused"] > 5
        assert stats.failed["injected_lost"] > 5
        assert stats.delivered == 40
        assert receiver.stats.duplicates > 0  # answers "lost" after the receiver got them
        assert sleep.waits and set(sleep.waits) <= {2.0, 4.0, 8.0, 16.0, 32.0, 60.0}
        assert sb.webhooks.hooks[hook_id]["isActive"] is True


async def test_webhook_is_paused_after_ten_failures_and_resumed_by_put(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = receiver_url
    sleep = FakeSleep()
    async with _sandbox(WebhookDeliveryConfig(sleep=sleep)) as sb, await _client(sb) as awork:
        hook = await awork.webhooks.create(form(url, auth_value="wrong-secret"))
        assert hook.id is not None
        for n in range(3):
            sb.webhooks.on_changes([change(f"e{n}", None, entry(f"e{n}"))])
        await sb.webhooks.join()
        paused = await awork.webhooks.get(hook.id)
        assert paused.is_active is False
        assert paused.last_failure_reason == "The receiver answered 401."
        assert receiver.stats.unauthorized == 10
        assert sleep.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
        logs = await awork.webhooks.logs(hook.id).collect()
        assert len(logs) == 10
        assert all(log.response_code == 401 and not log.is_successful for log in logs)
        assert sb.webhooks.stats.dropped == 3
        # paused: nothing is sent
        sb.webhooks.on_changes([change("e9", None, entry("e9"))])
        await sb.webhooks.join()
        assert receiver.stats.received == 10
        # re-enabled with the right secret: deliveries resume
        await awork.webhooks.update(hook.id, form(url))
        sb.webhooks.on_changes([change("e10", None, entry("e10"))])
        await sb.webhooks.join()
        assert [e.raw["entityId"] for e in drain(receiver)] == [eid("e10")]
        assert (await awork.webhooks.get(hook.id)).last_failure_reason is None


async def test_only_loopback_receivers_are_called() -> None:
    sleep = FakeSleep()
    async with _sandbox(WebhookDeliveryConfig(sleep=sleep, max_failures=2)) as sb:
        hook_id = _register(sb, "https://example.com/hook")
        sb.webhooks.on_changes([change("e1", None, entry("e1"))])
        await sb.webhooks.join()
        assert sb.webhooks.stats.failed == {"remote": 2}
        assert sb.webhooks.hooks[hook_id]["isActive"] is False
        assert "loopback" in sb.webhooks.hooks[hook_id]["lastFailureReason"]


async def test_without_delivery_nothing_is_sent(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    receiver, url = receiver_url
    async with _sandbox(None) as sb:
        _register(sb, url)
        sb.webhooks.on_changes([change("e1", None, entry("e1"))])
        await sb.webhooks.join()
        assert receiver.stats.received == 0
        assert sb.webhooks.stats.events == 0


async def test_deleting_a_webhook_drops_its_deliveries(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    _, url = receiver_url
    async with _sandbox(fast()) as sb:
        hook_id = _register(sb, url)
        sb.webhooks.on_changes([change(f"e{n}", None, entry(f"e{n}")) for n in range(5)])
        sb.webhooks.unregister(hook_id)
        await sb.webhooks.join()
        assert sb.webhooks.stats.delivered + sb.webhooks.stats.dropped == 5


def test_config_accepts_true_and_false() -> None:
    from awork_async.sandbox import SandboxConfig

    assert isinstance(SandboxConfig(webhooks=True).webhooks, WebhookDeliveryConfig)  # type: ignore[arg-type]
    config = SandboxConfig()
    config.webhooks = True  # type: ignore[assignment]
    assert isinstance(config.webhooks, WebhookDeliveryConfig)
    assert Sandbox(webhooks=False).config.webhooks is None
    assert Sandbox(webhooks=True).config.webhooks is not None


async def test_changes_from_another_thread_are_delivered(
    receiver_url: tuple[WebhookReceiver, str],
) -> None:
    from _helpers import threaded_sandbox

    receiver, url = receiver_url
    with threaded_sandbox(entries=5, seed=2, webhooks=fast()) as sb:
        _register(sb, url)
        inserted = sb.store.insert_entries(2)  # this thread is not the sandbox's loop
        events = receiver.events()
        got = [await anext(events), await anext(events)]
        await events.aclose()
    assert [str(e.entity_id) for e in got] == inserted
    assert {e.event_type for e in got} == {"timetracking_added"}


@pytest.mark.awork_sandbox(entries=3, webhooks=True)
async def test_the_pytest_marker_turns_delivery_on(awork_sandbox: Sandbox) -> None:
    assert awork_sandbox.webhooks.enabled
