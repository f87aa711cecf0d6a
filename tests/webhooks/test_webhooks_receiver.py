"""``WebhookReceiver``: verification, parsing, de-duplication, the bounded hand-over."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer as LocalServer
from hypothesis import given, settings
from hypothesis import strategies as st

from awork_async.models import TimeEntry
from awork_async.webhooks import InvalidDelivery, WebhookEvent, WebhookReceiver, parse_event

SECRET = "s3cr3t-value"
HEADER = "X-Awork-Secret"
PATH = "/awork/webhooks"
ENTRY_ID = "0d7a9e1c-5f6b-4c2a-9e8d-7b6a5c4d3e2f"


def envelope(
    event_type: str = "timetracking_updated",
    entity_id: str = ENTRY_ID,
    trace: str = "t1",
    timestamp: str = "2025-07-24T14:28:39.5966465+00:00",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": timestamp,
        "eventType": event_type,
        "entityId": entity_id,
        "entityType": "timetracking",
        "entity": {
            "id": entity_id,
            "timezone": "UTC",  # with id and typeOfWorkId: what TimeEntry.REQUIRED asks for
            "typeOfWorkId": ENTRY_ID,
            "duration": 60,
            "resourceVersion": 3,
        },
        "entityLink": "https://x.awork.com/time",
        "traceId": trace,
        "triggeredBy": {"id": ENTRY_ID, "firstName": "Ada", "lastName": "L"},
    }
    body.update(extra)
    return body


class Harness:
    def __init__(
        self, receiver: WebhookReceiver, server: LocalServer, session: aiohttp.ClientSession
    ):
        self.receiver, self.server, self.session = receiver, server, session

    async def post(
        self, body: object, *, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> int:
        sent = {HEADER: SECRET} if headers is None else headers
        data = raw if raw is not None else orjson.dumps(body)
        async with self.session.post(
            self.server.make_url(PATH),
            data=data,
            headers={"Content-Type": "application/json", **sent},
        ) as response:
            await response.read()
            return response.status

    def drain(self) -> list[WebhookEvent]:
        """Everything queued so far, without waiting."""
        out: list[WebhookEvent] = []
        queue = self.receiver._queue
        while not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, WebhookEvent):
                self.receiver._pending -= 1
                out.append(item)
        return out


async def _harness(receiver: WebhookReceiver) -> AsyncIterator[Harness]:
    server = LocalServer(receiver.app(path=PATH))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield Harness(receiver, server, session)
    finally:
        await server.close()


@pytest.fixture
async def hook() -> AsyncIterator[Harness]:
    async for harness in _harness(WebhookReceiver(auth_header=HEADER, auth_value=SECRET)):
        yield harness


async def test_verified_delivery_is_typed_and_queued(hook: Harness) -> None:
    assert await hook.post(envelope()) == 200
    (event,) = hook.drain()
    assert event.event_type == "timetracking_updated"
    assert event.entity_id == uuid.UUID(ENTRY_ID)
    assert isinstance(event.entity, TimeEntry)
    assert event.entity.resource_version == 3
    assert event.time_entry is event.entity
    assert event.triggered_by is not None and event.triggered_by.first_name == "Ada"
    assert event.timestamp is not None and event.timestamp.tzinfo is not None
    assert event.raw["traceId"] == "t1"
    assert hook.receiver.stats.accepted == 1


async def test_other_entity_types_stay_raw(hook: Harness) -> None:
    body = envelope("task_added", entity={"id": ENTRY_ID, "name": "x", "unknown": [1]})
    assert await hook.post(body) == 200
    (event,) = hook.drain()
    assert event.entity == {"id": ENTRY_ID, "name": "x", "unknown": [1]}
    assert not event.is_time_tracking


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HEADER: "wrong"},
        {HEADER: SECRET + "x"},
        {HEADER: SECRET[:-1]},
        {"X-Other": SECRET},
        {HEADER.lower(): "s3cr3t-valuE"},
    ],
    ids=["missing", "wrong", "longer", "shorter", "other-header", "case"],
)
async def test_unauthenticated_deliveries_change_nothing(
    hook: Harness, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "awork_async.webhooks"):
        assert await hook.post(envelope(), headers=headers) == 401
    assert hook.drain() == []
    assert hook.receiver.stats.unauthorized == 1
    assert hook.receiver.stats.accepted == 0
    assert SECRET not in caplog.text
    # a forged delivery does not poison the de-duplication: the real one still gets through
    assert await hook.post(envelope()) == 200
    assert len(hook.drain()) == 1


async def test_repeated_header_is_refused(hook: Harness) -> None:
    async with hook.session.post(
        hook.server.make_url(PATH),
        data=orjson.dumps(envelope()),
        headers=[(HEADER, SECRET), (HEADER, SECRET)],
    ) as response:
        assert response.status == 401
    assert hook.drain() == []


async def test_header_is_compared_in_constant_time(hook: Harness) -> None:
    with mock.patch("awork_async.webhooks.hmac.compare_digest", return_value=False) as compare:
        assert await hook.post(envelope()) == 401
        assert await hook.post(envelope(), headers={}) == 401
    assert compare.call_count == 2
    expected = hashlib.sha256(SECRET.encode()).digest()
    assert compare.call_args_list[0].args == (expected, expected)
    missing = compare.call_args_list[1].args
    assert len(missing[0]) == len(missing[1]) == 32  # no length shows either


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b"{}", 400),
        (b'{"eventType": 5}', 400),
        (b'{"eventType": "timetracking_added", "entityId": "not-a-uuid"}', 400),
        (b"", 400),
    ],
)
async def test_bad_bodies_get_4xx_and_the_receiver_lives_on(
    hook: Harness, raw: bytes, status: int
) -> None:
    assert await hook.post(None, raw=raw) == status
    assert hook.drain() == []
    assert await hook.post(envelope()) == 200
    assert len(hook.drain()) == 1


async def test_oversized_bodies_get_413() -> None:
    receiver = WebhookReceiver(auth_header=HEADER, auth_value=SECRET, max_body_size=2048)
    async for hook in _harness(receiver):
        big = envelope(entity={"id": ENTRY_ID, "note": "x" * 5000})
        assert await hook.post(big) == 413

        # chunked, without a Content-Length
        async def chunks(data: bytes = orjson.dumps(big)) -> AsyncIterator[bytes]:
            yield data

        async with hook.session.post(
            hook.server.make_url(PATH), data=chunks(), headers={HEADER: SECRET}
        ) as response:
            assert response.status == 413
        assert hook.drain() == []
        assert receiver.stats.too_large == 2
        assert await hook.post(envelope()) == 200


async def test_redeliveries_are_dropped(hook: Harness) -> None:
    assert await hook.post(envelope()) == 200
    assert await hook.post(envelope()) == 200  # the same delivery again: acknowledged, dropped
    assert await hook.post(envelope(trace="t2")) == 200
    assert await hook.post(envelope(event_type="timetracking_type_changed")) == 200
    assert await hook.post(envelope(timestamp="2025-07-24T14:28:40+00:00")) == 200
    assert len(hook.drain()) == 4
    assert hook.receiver.stats.duplicates == 1


async def test_dedup_memory_is_bounded() -> None:
    receiver = WebhookReceiver(auth_header=HEADER, auth_value=SECRET, dedup_size=3)
    async for hook in _harness(receiver):
        for n in range(5):
            assert await hook.post(envelope(trace=f"t{n}")) == 200
        assert len(receiver._seen) == 3
        assert await hook.post(envelope(trace="t4")) == 200  # remembered: dropped
        assert await hook.post(envelope(trace="t0")) == 200  # forgotten: accepted again
        assert len(hook.drain()) == 6
        assert receiver.stats.duplicates == 1


async def test_without_trace_and_timestamp_nothing_is_deduplicated(hook: Harness) -> None:
    body = {"eventType": "timetracking_updated", "entityId": ENTRY_ID}
    assert await hook.post(body) == 200
    assert await hook.post(body) == 200
    assert len(hook.drain()) == 2


async def test_full_queue_answers_503_and_the_redelivery_is_accepted_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = WebhookReceiver(auth_header=HEADER, auth_value=SECRET, queue_size=2)
    async for hook in _harness(receiver):
        assert await hook.post(envelope(trace="a")) == 200
        assert await hook.post(envelope(trace="b")) == 200
        with caplog.at_level(logging.WARNING, "awork_async.webhooks"):
            assert await hook.post(envelope(trace="c")) == 503
        assert "behind" in caplog.text and "pauses" in caplog.text
        assert receiver.stats.overloaded == 1
        assert receiver.pending == 2
        events = receiver.events()
        first = await anext(events)
        assert first.trace_id == "a"
        assert await hook.post(envelope(trace="c")) == 200  # awork's retry now fits
        rest = [await anext(events), await anext(events)]
        assert [e.trace_id for e in rest] == ["b", "c"]
        await events.aclose()


async def test_events_of_one_entity_keep_their_order(hook: Harness) -> None:
    other = str(uuid.uuid4())
    sequence = [
        envelope("timetracking_added", trace="1"),
        envelope("timetracking_added", entity_id=other, trace="2"),
        envelope("timetracking_updated", trace="3"),
        envelope("timetracking_type_changed", trace="4"),
        envelope("timetracking_deleted", entity_id=other, trace="5"),
        envelope("timetracking_deleted", trace="6"),
    ]
    for body in sequence:
        assert await hook.post(body) == 200
    hook.receiver.close()
    seen = [event async for event in hook.receiver.events()]
    assert [e.trace_id for e in seen] == ["1", "2", "3", "4", "5", "6"]


async def test_one_consumer_at_a_time(hook: Harness) -> None:
    first = hook.receiver.events()
    waiting = asyncio.ensure_future(anext(first))
    await asyncio.sleep(0)  # let the first consumer start waiting
    with pytest.raises(RuntimeError, match="one consumer"):
        await anext(hook.receiver.events())
    assert await hook.post(envelope()) == 200
    assert (await waiting).trace_id == "t1"
    await first.aclose()


async def test_close_drains_then_ends_and_refuses_new_deliveries(hook: Harness) -> None:
    assert await hook.post(envelope()) == 200
    hook.receiver.close()
    hook.receiver.close()
    assert await hook.post(envelope(trace="late")) == 503
    assert [e.trace_id async for e in hook.receiver.events()] == ["t1"]


def test_constructor_checks_and_repr() -> None:
    receiver = WebhookReceiver(auth_header=HEADER, auth_value="very-secret-value")
    assert "very-secret" not in repr(receiver)
    assert HEADER in repr(receiver)
    with pytest.raises(TypeError, match="auth_value"):
        WebhookReceiver(auth_header=HEADER, auth_value=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="auth_header"):
        WebhookReceiver(auth_header="", auth_value="x")
    with pytest.raises(ValueError, match="auth_value"):
        WebhookReceiver(auth_header=HEADER, auth_value="a\nb")
    with pytest.raises(ValueError, match="queue_size"):
        WebhookReceiver(auth_header=HEADER, auth_value="x", queue_size=0)
    with pytest.raises(ValueError, match="path"):
        receiver.app(path="no-slash")


def test_parse_event_accepts_parsed_json() -> None:
    event = parse_event(envelope("timetracking_deleted"))
    assert event.event_type == "timetracking_deleted"
    assert event.key == ("t1", "timetracking_deleted", ENTRY_ID, envelope()["timestamp"])


async def test_handle_mounts_into_another_app_and_keeps_its_own_size_limit() -> None:
    from aiohttp import web

    receiver = WebhookReceiver(auth_header=HEADER, auth_value=SECRET, max_body_size=4096)
    outer = web.Application(client_max_size=10 * 1024 * 1024)  # the host app allows more
    outer.router.add_post("/hooks/awork", receiver.handle)
    server = LocalServer(outer)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = server.make_url("/hooks/awork")
            big = orjson.dumps(envelope(entity={"id": ENTRY_ID, "note": "x" * 10_000}))
            async with session.post(url, data=big, headers={HEADER: SECRET}) as response:
                assert response.status == 413
            small = orjson.dumps(envelope())
            async with session.post(url, data=small, headers={HEADER: SECRET}) as response:
                assert response.status == 200
    finally:
        await server.close()
    receiver.close()
    assert [e.trace_id async for e in receiver.events()] == ["t1"]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_FIELDS = st.sampled_from(
    [
        *("timestamp", "eventType", "entity", "entityId", "entityType", "entityLink"),
        *("traceId", "triggeredBy", "changes"),
    ]
)


@settings(max_examples=100, deadline=None, database=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        _JSON.map(orjson.dumps),
        st.dictionaries(_FIELDS, _JSON, max_size=9).map(
            lambda d: orjson.dumps({"eventType": "timetracking_updated", **d})
        ),
    )
)
def test_any_body_is_an_event_or_a_clean_refusal(body: bytes) -> None:
    try:
        event = parse_event(body)
    except InvalidDelivery:
        return
    assert isinstance(event.event_type, str) and event.event_type
    assert event.entity is None or isinstance(event.entity, (TimeEntry, dict))


def test_an_entity_that_is_not_a_time_entry_is_kept_raw_not_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # awork documents no entity shape (API notes Q12): refusing would make awork retry and pause
    # the webhook, so a verified delivery is accepted with the entity as sent and the reason.
    body = envelope("timetracking_updated", entity={"id": ENTRY_ID, "duration": 60})
    with caplog.at_level(logging.WARNING, logger="awork_async.webhooks"):
        event = parse_event(orjson.dumps(body))
    assert event.time_entry is None
    assert event.entity == {"id": ENTRY_ID, "duration": 60}
    assert event.entity_error is not None and "timezone" in event.entity_error
    assert str(event.entity_id) == ENTRY_ID
    assert "not a time entry" in caplog.text
    assert parse_event(envelope()).entity_error is None


async def test_a_verified_delivery_with_an_odd_entity_is_accepted(hook: Harness) -> None:
    raw = b'{"eventType": "timetracking_added", "entity": {"duration": "long"}}'
    assert await hook.post(None, raw=raw) == 200
    [event] = hook.drain()
    assert event.time_entry is None and event.entity == {"duration": "long"}
    assert event.entity_error is not None
