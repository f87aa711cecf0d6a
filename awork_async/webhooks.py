"""Receive awork's webhooks: verified, typed, de-duplicated events through a bounded queue.

::

    from awork_async.webhooks import WebhookReceiver

    receiver = WebhookReceiver(auth_header="X-Awork-Secret", auth_value="s3cr3t")
    app = receiver.app(path="/awork/webhooks")      # serve it, or mount receiver.handle

    async for event in receiver.events():          # one consumer task
        if event.event_type == "timetracking_deleted":
            await delete_row(event.entity_id)
        elif event.event_type.startswith("timetracking_"):
            await upsert(event.entity)             # a TimeEntry

What a delivery goes through (API notes §8), each step a separate function:

1. **Verify**: awork signs nothing; the only check is the static header configured on the webhook
   (``WebhookConfigForm(auth_header=..., auth_value=...)``). Its SHA-256 digest is compared with
   the expected one in constant time (:func:`hmac.compare_digest`) before the body is read. A
   missing, repeated or wrong header is answered ``401`` and nothing is queued.
2. **Parse**: bodies larger than ``max_body_size`` get ``413``, bodies that are not a JSON object
   or not an awork envelope get ``400``. The envelope becomes a :class:`WebhookEvent`; for the
   ``timetracking_*`` events its ``entity`` is a :class:`~awork_async.models.TimeEntry`, for any
   other event type the entity's JSON object is kept as it came.
3. **De-duplicate**: awork redelivers when it did not see a 2xx in time. A delivery whose
   ``(traceId, eventType, entityId, timestamp)`` was already accepted is answered ``200`` and
   dropped. The last ``dedup_size`` keys are remembered (least recently seen forgotten first).
4. **Hand over**: the event goes into a bounded in-memory queue and the answer is ``200`` at
   once; :meth:`WebhookReceiver.events` yields the events in the order they were accepted, so the
   events of one entity arrive in the order received. When ``queue_size`` events are waiting the
   receiver answers ``503`` (awork retries later) and logs a warning.

**What to watch.** awork retries a failed delivery up to 10 times and *pauses the webhook* after
10 failures without a success; a paused webhook sends nothing until it is re-enabled (awork UI,
or ``client.webhooks.update(id, form)`` with ``is_active=True``). Every ``503`` (consumer behind),
``401`` (wrong header) and ``400`` counts as a failure. Watch the warnings of the
``awork_async.webhooks`` logger and :attr:`WebhookReceiver.stats`, and check
``(await client.webhooks.get(id)).is_active`` / ``last_failure_reason`` and
``client.webhooks.logs(id)``. Queued events live in memory only: a crash loses what was accepted
but not yet processed, which is why a worker also runs ``changes_since`` and an occasional
:func:`~awork_async.sync.find_deleted` sweep (README, "A worker that loses nothing").

awork does not document the delivery order across retries: a retried ``timetracking_updated`` can
arrive after a later change of the same entry. Compare ``entity.resource_version`` (or
``updated_on``) before overwriting, and keep the ids of deleted entries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Final, TypeAlias
from uuid import UUID

import attrs
import orjson
from aiohttp import web

from . import _constants as C
from ._converter import STRUCTURE_ERRORS, structure
from .models import NestedUser, TimeEntry

__all__ = [
    "TIME_TRACKING_EVENTS",
    "WebhookChange",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookReceiverStats",
    "parse_event",
]

_log = logging.getLogger("awork_async.webhooks")

#: awork's four time-tracking events (notes §8.1).
TIME_TRACKING_EVENTS: Final[tuple[str, ...]] = C.WEBHOOK_TIME_EVENTS

#: The de-duplication key: ``(traceId, eventType, entityId, timestamp)`` as sent.
DeliveryKey: TypeAlias = tuple[str | None, str, str | None, str | None]


@attrs.frozen(kw_only=True)
class WebhookChange:
    """One entry of the envelope's ``changes``: a PascalCase ``property`` (``"TypeOfWorkId"``) with
    its ``old`` and ``new`` JSON values (``None`` when absent)."""

    property: str | None = None
    old: Any = None
    new: Any = None


@attrs.frozen(kw_only=True)
class _Envelope:
    """The JSON body awork POSTs (notes §8.4), decoded by the package's one converter."""

    timestamp: datetime | None = None
    event_type: str | None = None
    entity: dict[str, Any] | None = None
    entity_id: UUID | None = None
    entity_type: str | None = None
    entity_link: str | None = None
    trace_id: str | None = None
    triggered_by: NestedUser | None = None
    changes: tuple[WebhookChange, ...] | None = None


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One verified webhook delivery.

    Attributes:
        event_type: e.g. ``"timetracking_deleted"``.
        entity_id: the id of the entity the event is about.
        entity: a :class:`~awork_async.models.TimeEntry` for ``timetracking_*`` events (on
            ``timetracking_deleted`` the entry as it was), the JSON object for other types,
            ``None`` when the envelope carries none.
        entity_type, entity_link, trace_id: as sent.
        timestamp: when awork raised the event (aware).
        triggered_by: the user who made the change.
        changes: the changed properties, when awork sends them (not always).
        entity_error: why a ``timetracking_*`` entity did not decode as a ``TimeEntry`` (then
            ``entity`` is the JSON object as sent and ``time_entry`` is ``None``: fetch the
            entry with ``client.time_entries.get(entity_id)``); ``None`` when it decoded.
        raw: the envelope exactly as received (not part of equality).
    """

    event_type: str
    entity_id: UUID | None = None
    entity: TimeEntry | Mapping[str, Any] | None = None
    entity_type: str | None = None
    entity_link: str | None = None
    trace_id: str | None = None
    timestamp: datetime | None = None
    triggered_by: NestedUser | None = None
    changes: tuple[WebhookChange, ...] | None = None
    entity_error: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def is_time_tracking(self) -> bool:
        """True for the ``timetracking_*`` events (``entity`` is then a ``TimeEntry``)."""
        return self.event_type.startswith("timetracking_")

    @property
    def time_entry(self) -> TimeEntry | None:
        """``entity`` when it is a :class:`~awork_async.models.TimeEntry`, else ``None``."""
        return self.entity if isinstance(self.entity, TimeEntry) else None

    @property
    def key(self) -> DeliveryKey:
        """The de-duplication key ``(traceId, eventType, entityId, timestamp)`` as sent."""
        return _delivery_key(self.raw, self.event_type)


def _raw_str(value: object) -> str | None:
    return None if value is None else str(value)


def _delivery_key(raw: Mapping[str, Any], event_type: str) -> DeliveryKey:
    return (
        _raw_str(raw.get("traceId")),
        event_type,
        _raw_str(raw.get("entityId")),
        _raw_str(raw.get("timestamp")),
    )


class InvalidDelivery(ValueError):
    """A body that is not an awork webhook envelope (answered ``400``)."""


def parse_event(body: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Decode one delivery body (bytes, text or parsed JSON) into a :class:`WebhookEvent`.

    Raises ``ValueError`` when it is not JSON, not an object, lacks ``eventType`` or has fields
    of the wrong type. No verification happens here: use :class:`WebhookReceiver` for that.
    """
    if isinstance(body, Mapping):
        data: object = dict(body)
    else:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidDelivery("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidDelivery(f"expected a JSON object, got {type(data).__name__}")
    try:
        envelope = structure(data, _Envelope)
    except STRUCTURE_ERRORS as exc:
        raise InvalidDelivery(f"not an awork webhook envelope: {_describe(exc)}") from None
    if not envelope.event_type:
        raise InvalidDelivery("the envelope has no eventType")
    entity: TimeEntry | Mapping[str, Any] | None = envelope.entity
    entity_error: str | None = None
    if envelope.entity is not None and envelope.event_type.startswith("timetracking_"):
        # The shape of a webhook's entity is not documented (API notes Q12). A verified delivery
        # whose entity does not decode as a time entry is still accepted (a 400 would make awork
        # retry and then pause the webhook, losing every later event): the entity stays the raw
        # JSON object and `entity_error` says why, so a worker can fetch the entry by id.
        try:
            entity = structure(envelope.entity, TimeEntry)
        except STRUCTURE_ERRORS as exc:
            entity_error = f"the entity is not a time entry: {_describe(exc)}"
            _log.warning("webhook %s: %s", envelope.event_type, entity_error)
    return WebhookEvent(
        event_type=envelope.event_type,
        entity_id=envelope.entity_id,
        entity=entity,
        entity_type=envelope.entity_type,
        entity_link=envelope.entity_link,
        trace_id=envelope.trace_id,
        timestamp=envelope.timestamp,
        triggered_by=envelope.triggered_by,
        changes=envelope.changes,
        entity_error=entity_error,
        raw=data,
    )


def _describe(exc: BaseException) -> str:
    """A short reason for a structuring error (cattrs groups carry the path in notes)."""
    notes = getattr(exc, "__notes__", None) or []
    inner = getattr(exc, "exceptions", None)
    if inner:
        first = inner[0]
        notes = [*notes, *(getattr(first, "__notes__", None) or [])]
        text = f"{type(first).__name__}: {first}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    where = "; ".join(str(n) for n in notes)
    return f"{text} ({where})"[:200] if where else text[:200]


@attrs.define
class WebhookReceiverStats:
    """Counters of one receiver (for metrics and tests).

    ``accepted`` events were queued; ``duplicates`` were redeliveries dropped with a 200;
    ``unauthorized`` (401), ``invalid`` (400), ``too_large`` (413) and ``overloaded`` (503) were
    refused, and each of those counts as a failure at awork.
    """

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    unauthorized: int = 0
    invalid: int = 0
    too_large: int = 0
    overloaded: int = 0


_CLOSED: Final = object()


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value or value != value.strip() or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be non-empty, without line breaks or surrounding spaces")
    return value


def _check_size(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class WebhookReceiver:
    """Receives awork's webhook deliveries and hands them to one consumer (see the module doc).

    Args:
        auth_header, auth_value: the header awork sends (as configured on the webhook with
            ``WebhookConfigForm(auth_header=..., auth_value=...)``). Required: awork offers no
            other verification. The value is never shown in reprs or logs.
        queue_size: events that may wait for the consumer before deliveries get ``503``.
        dedup_size: delivery keys remembered to drop redeliveries.
        max_body_size: the largest body read (bytes); larger ones get ``413``.
    """

    def __init__(
        self,
        *,
        auth_header: str,
        auth_value: str,
        queue_size: int = C.WEBHOOK_QUEUE_SIZE,
        dedup_size: int = C.WEBHOOK_DEDUP_SIZE,
        max_body_size: int = C.WEBHOOK_MAX_BODY,
    ) -> None:
        self._header = _check_text("auth_header", auth_header)
        secret = _check_text("auth_value", auth_value).encode("utf-8")
        self._expected = hashlib.sha256(secret).digest()
        self.queue_size = _check_size("queue_size", queue_size)
        self.dedup_size = _check_size("dedup_size", dedup_size)
        self.max_body_size = _check_size("max_body_size", max_body_size)
        # Unbounded underneath: the bound is enforced when accepting, so close() always fits.
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._pending = 0
        self._seen: OrderedDict[DeliveryKey, None] = OrderedDict()
        self._consuming = False
        self._closed = False
        self.stats = WebhookReceiverStats()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (
            f"<WebhookReceiver auth_header={self._header!r} pending={self._pending}"
            f"/{self.queue_size}{state}>"
        )

    @property
    def auth_header(self) -> str:
        """The name of the header checked on every delivery."""
        return self._header

    @property
    def pending(self) -> int:
        """Events accepted but not yet taken by the consumer."""
        return self._pending

    @property
    def closed(self) -> bool:
        return self._closed

    # -- serving -------------------------------------------------------------------------

    def app(self, path: str = "/awork/webhooks") -> web.Application:
        """An ``aiohttp`` application answering ``POST path`` (serve it, or add it as a
        sub-application); its ``client_max_size`` is ``max_body_size``."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        application = web.Application(client_max_size=self.max_body_size)
        application.router.add_post(path, self.handle)
        return application

    async def handle(self, request: web.Request) -> web.Response:
        """The request handler (``app.router.add_post(path, receiver.handle)`` to mount it)."""
        self.stats.received += 1
        if not self._verified(request):
            self.stats.unauthorized += 1
            _log.warning(
                "webhook delivery from %s refused: missing or wrong %s header (401)",
                request.remote,
                self._header,
            )
            return web.Response(status=401, text="unauthorized")
        if self._closed:
            self.stats.overloaded += 1
            return web.Response(status=503, text="receiver closed")
        body = await self._read(request)
        if body is None:
            self.stats.too_large += 1
            _log.warning("webhook delivery refused: body larger than %d bytes", self.max_body_size)
            return web.Response(status=413, text="body too large")
        try:
            event = parse_event(body)
        except InvalidDelivery as exc:
            self.stats.invalid += 1
            _log.warning("webhook delivery refused (400): %s", exc)
            return web.Response(status=400, text=str(exc))
        return self._accept(event)

    def _verified(self, request: web.Request) -> bool:
        values = request.headers.getall(self._header, [])
        # Compare even when the header is missing, so timing tells nothing either way; digests of
        # equal length, so not even the secret's length shows.
        given = values[0] if len(values) == 1 else ""
        digest = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
        same = hmac.compare_digest(digest, self._expected)
        return same and len(values) == 1

    async def _read(self, request: web.Request) -> bytes | None:
        length = request.content_length
        if length is not None and length > self.max_body_size:
            return None
        chunks: list[bytes] = []
        total = 0
        while chunk := await request.content.read(self.max_body_size + 1 - total):
            chunks.append(chunk)
            total += len(chunk)
            if total > self.max_body_size:
                return None
        return b"".join(chunks)

    def _accept(self, event: WebhookEvent) -> web.Response:
        """Queue a verified event unless it is a redelivery or the consumer is behind."""
        key = event.key
        # Without a trace id and a timestamp a redelivery cannot be told from a new change.
        keyed = key[0] is not None or key[3] is not None
        if keyed and key in self._seen:
            self._seen.move_to_end(key)
            self.stats.duplicates += 1
            return web.Response(status=200, text="duplicate")
        if self._pending >= self.queue_size:
            self.stats.overloaded += 1
            _log.warning(
                "webhook consumer is behind (%d events waiting): answered 503 so awork retries "
                "later; awork pauses the webhook after %d failed deliveries",
                self._pending,
                C.WEBHOOK_MAX_FAILURES,
            )
            return web.Response(status=503, text="busy")
        if keyed:
            self._seen[key] = None
            while len(self._seen) > self.dedup_size:
                self._seen.popitem(last=False)
        self._pending += 1
        self._queue.put_nowait(event)
        self.stats.accepted += 1
        return web.Response(status=200, text="ok")

    # -- consuming -----------------------------------------------------------------------

    async def events(self) -> AsyncIterator[WebhookEvent]:
        """The accepted events in the order they were accepted, until :meth:`close`.

        One consumer at a time (a second concurrent iteration raises ``RuntimeError``), which
        keeps the events of one entity in the order they were received.
        """
        if self._consuming:
            raise RuntimeError("events() is already being iterated: use one consumer task")
        self._consuming = True
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSED:
                    return
                self._pending -= 1
                assert isinstance(item, WebhookEvent)
                yield item
        finally:
            self._consuming = False

    def close(self) -> None:
        """Refuse further deliveries (``503``) and end :meth:`events` once the events already
        accepted have been taken. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_CLOSED)
