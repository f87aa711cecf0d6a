"""The sandbox's webhooks: registrations and awork-like delivery (API notes §8).

* Webhooks registered through ``POST /webhooks`` are kept in :attr:`WebhookHub.hooks` (the
  ``WebhookConfig`` JSON shape), whether or not delivery is on.
* With delivery on (``Sandbox(webhooks=True)`` or a :class:`WebhookDeliveryConfig`, CLI
  ``--webhooks``), every change the store applies to a time entry becomes one event:
  ``timetracking_added`` (created, timer started, churn insert), ``timetracking_deleted``,
  ``timetracking_type_changed`` (its type of work changed) or ``timetracking_updated`` (any other
  change: PUT, timer stop/pause/resume, remove breaks, batch and legacy bulk changes). Each active
  webhook subscribed to the event receives a ``POST`` of awork's envelope (``timestamp``,
  ``eventType``, ``entity``, ``entityId``, ``entityType: "timetracking"``, ``entityLink``,
  ``traceId``, ``triggeredBy``, ``changes``) with its configured header.
* Guesses where awork's documentation is silent (API notes §8.1, §8.4, Q12): ``entityType`` is
  ``"timetracking"``, the entity is the ``TimeTracking`` model (the entry as it was, for a
  deletion), the timer's start/stop/pause/resume raise added/updated events, and an update that
  changes the type of work raises only ``timetracking_type_changed``.
* Deliveries to one webhook go out one at a time, in the order of the changes. A delivery that is
  not answered with a 2xx within ``timeout`` seconds is retried with exponential backoff (the
  same envelope: same trace id and timestamp, so receivers can drop what they already have);
  after ``max_failures`` failures in a row the webhook is paused (``isActive: false``,
  ``lastFailureReason`` set, its waiting deliveries dropped), as awork does. ``PUT`` with
  ``isActive: true`` resumes it. Every attempt is logged (``GET /webhooks/{id}/logs``).
* Deliveries go to loopback addresses only, unless ``allow_remote=True``: a webhook pointing
  elsewhere gets failed attempts with that reason.
* ``failure_rate`` injects failed attempts (half never sent, half sent with the answer treated as
  lost), drawn from ``random.Random(seed)``.

Tests wait for the deliveries with ``await sandbox.webhooks.join()``, never with sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol

import aiohttp
import attrs
import orjson
from yarl import URL

from .. import _constants as C
from ._timeutil import iso_utc
from .config import WebhookDeliveryConfig

__all__ = [
    "EVENT_TYPES",
    "SLACK_EVENT_TYPES",
    "WebhookDeliveryConfig",
    "WebhookHub",
    "entry_event_type",
]

_log = logging.getLogger("awork_async.sandbox.webhooks")

#: ``GET /webhooks/eventtypes`` (notes §8.1).
EVENT_TYPES: Final[tuple[str, ...]] = (
    "absence_added",
    "absence_deleted",
    "absence_updated",
    "company_added",
    "company_deleted",
    "company_type_changed",
    "company_updated",
    "project_added",
    "project_comment_added",
    "project_deleted",
    "projectmember_added",
    "projectmember_deleted",
    "project_status_changed",
    "project_type_changed",
    "project_updated",
    "task_added",
    "taskassignment_added",
    "taskassignment_deleted",
    "task_comment_added",
    "task_deleted",
    "tasklist_added",
    "tasklist_deleted",
    "tasklist_updated",
    "task_status_changed",
    "task_type_changed",
    "task_updated",
    *C.WEBHOOK_TIME_EVENTS,
    "user_activation_changed",
    "user_added",
    "user_deleted",
    "user_status_changed",
    "user_updated",
)
#: ``GET /webhooks/eventtypes/slack``: the sources give no list; the project and task events.
SLACK_EVENT_TYPES: Final[tuple[str, ...]] = tuple(
    e for e in EVENT_TYPES if e.startswith(("project", "task"))
)
#: Delivery log entries kept per webhook (oldest dropped first).
LOG_LIMIT: Final = 1000
#: Where ``entityLink`` points (a reserved domain: the sandbox has no web app).
ENTITY_LINK: Final = "https://sandbox.awork.invalid/time-tracking/{id}"
#: Fields whose change alone does not make a ``changes`` item.
_BOOKKEEPING: Final = frozenset({"updatedOn", "updatedBy", "resourceVersion"})


class ChangeLike(Protocol):
    """What the store reports for each applied record (``sandbox.store.Change``)."""

    @property
    def collection(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def old(self) -> Mapping[str, Any] | None: ...
    @property
    def new(self) -> Mapping[str, Any] | None: ...


def entry_event_type(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The event one applied time-entry record raises (``None``: nothing changed)."""
    if old is None and new is None:
        return None
    if old is None:
        return "timetracking_added"
    if new is None:
        return "timetracking_deleted"
    if old.get("typeOfWorkId") != new.get("typeOfWorkId"):
        return "timetracking_type_changed"
    return "timetracking_updated"


def _changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """awork's ``changes``: PascalCase properties whose plain values differ."""
    if old is None or new is None:
        return []
    out = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if (
            key in _BOOKKEEPING
            or isinstance(before, (dict, list))
            or isinstance(after, (dict, list))
        ):
            continue
        if before != after:
            out.append({"property": key[:1].upper() + key[1:], "old": before, "new": after})
    return out


def is_loopback(uri: str) -> bool:
    """Whether ``uri``'s host is ``localhost`` or a loopback IP address."""
    try:
        host = URL(uri).host
    except ValueError:
        return False
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.frozen
class _Delivery:
    body: bytes
    event_type: str
    entity_id: str


@attrs.define
class WebhookHubStats:
    """Delivery counters: ``events`` raised, ``attempts`` made, ``delivered`` (2xx),
    ``failed`` attempts by kind (``injected_refused``, ``injected_lost``, ``remote``,
    ``unreachable``, ``status``), ``paused`` webhooks, ``dropped`` deliveries."""

    events: int = 0
    attempts: int = 0
    delivered: int = 0
    failed: Counter[str] = attrs.field(factory=Counter)
    paused: int = 0
    dropped: int = 0


class WebhookHub:
    """Registered webhooks and their delivery (see the module docstring)."""

    def __init__(
        self,
        delivery: WebhookDeliveryConfig | None,
        *,
        now: Callable[[], datetime],
        me: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.delivery = delivery
        self._now = now
        self._me = me
        #: id -> ``WebhookConfig`` JSON.
        self.hooks: dict[str, dict[str, Any]] = {}
        #: id -> ``WebhookLog`` JSON, oldest first.
        self.logs: dict[str, deque[dict[str, Any]]] = {}
        self.stats = WebhookHubStats()
        self._failures: dict[str, int] = {}
        self._queues: dict[str, asyncio.Queue[_Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        #: Deliveries queued and not yet finished (delivered, dropped or given up).
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def enabled(self) -> bool:
        """Whether changes are delivered."""
        return self.delivery is not None

    # -- registrations ----------------------------------------------------------------------

    def register(self, hook: dict[str, Any]) -> None:
        """Add or replace a webhook (``PUT`` with ``isActive: true`` resumes a paused one)."""
        self.hooks[hook["id"]] = hook
        self.logs.setdefault(hook["id"], deque(maxlen=LOG_LIMIT))
        if hook["isActive"]:
            self._failures[hook["id"]] = 0

    def unregister(self, hook_id: str) -> None:
        """Remove a webhook; its waiting deliveries are dropped."""
        self.hooks.pop(hook_id, None)
        self.logs.pop(hook_id, None)
        self._failures.pop(hook_id, None)
        worker = self._workers.pop(hook_id, None)
        if worker is not None:
            worker.cancel()
        queue = self._queues.pop(hook_id, None)
        if queue is not None:
            self._drop_waiting(queue)

    # -- events -----------------------------------------------------------------------------

    def on_changes(self, changes: Sequence[ChangeLike]) -> None:
        """Store listener: one event per changed time entry, queued for each subscribed webhook.

        The envelopes are encoded now, so later changes cannot alter what is sent.
        """
        if self.delivery is None or self._closed or not self.hooks:
            return
        try:
            deliveries = self._deliveries(changes)
        except Exception:  # a listener must never fail the write that was already applied
            _log.exception("sandbox webhooks: could not build the events of a change")
            return
        loop = self._loop
        if loop is None:
            _log.warning(
                "sandbox webhooks: the sandbox is not running; %d events dropped", len(deliveries)
            )
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue_all(deliveries)
        else:  # a change made from another thread (e.g. a test driving a threaded sandbox)
            loop.call_soon_threadsafe(self._enqueue_all, deliveries)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (the sandbox's; called when it starts)."""
        self._loop = loop

    def _enqueue_all(self, deliveries: list[_Delivery]) -> None:
        if self._closed:
            return
        for delivery in deliveries:
            for hook_id, hook in self.hooks.items():
                if hook["isActive"] and delivery.event_type in _events(hook):
                    self._enqueue(hook_id, delivery)

    def _deliveries(self, changes: Sequence[ChangeLike]) -> list[_Delivery]:
        """The encoded envelopes of ``changes`` (time entries only)."""
        out: list[_Delivery] = []
        trace_id = uuid.uuid4().hex
        timestamp = self._now().isoformat(timespec="microseconds")
        me = self._me()
        triggered_by = {k: me.get(k) for k in ("id", "firstName", "lastName")}
        for change in changes:
            if change.collection != "entries":
                continue
            event_type = entry_event_type(change.old, change.new)
            if event_type is None:
                continue
            entity = change.new if change.new is not None else change.old
            envelope = {
                "timestamp": timestamp,
                "eventType": event_type,
                "entity": entity,
                "entityId": change.id,
                "entityType": "timetracking",
                "entityLink": ENTITY_LINK.format(id=change.id),
                "traceId": trace_id,
                "triggeredBy": triggered_by,
                "changes": _changes(change.old, change.new),
            }
            out.append(_Delivery(orjson.dumps(envelope), event_type, change.id))
            self.stats.events += 1
        return out

    def _enqueue(self, hook_id: str, delivery: _Delivery) -> None:
        queue = self._queues.get(hook_id)
        if queue is None:
            queue = self._queues[hook_id] = asyncio.Queue()
        queue.put_nowait(delivery)
        self._unfinished += 1
        self._idle.clear()
        worker = self._workers.get(hook_id)
        if worker is None or worker.done():
            self._workers[hook_id] = asyncio.get_running_loop().create_task(  # the bound loop
                self._work(hook_id, queue), name=f"awork-sandbox-webhook-{hook_id}"
            )

    async def join(self) -> None:
        """Wait until every queued delivery was delivered, dropped or its webhook paused."""
        await self._idle.wait()

    def _finished(self, count: int = 1) -> None:
        self._unfinished -= count
        if self._unfinished <= 0:
            self._unfinished = 0
            self._idle.set()

    def _drop_waiting(self, queue: asyncio.Queue[_Delivery]) -> None:
        """Drop every delivery still waiting in ``queue``."""
        count = 0
        while not queue.empty():
            queue.get_nowait()
            count += 1
        self.stats.dropped += count
        self._finished(count)

    async def close(self) -> None:
        """Cancel the deliveries and close the HTTP session (on sandbox shutdown)."""
        self._closed = True
        workers = list(self._workers.values())
        self._workers.clear()
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        for queue in self._queues.values():
            self._drop_waiting(queue)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- delivery ---------------------------------------------------------------------------

    async def _work(self, hook_id: str, queue: asyncio.Queue[_Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(hook_id, delivery, queue)
            finally:
                self._finished()

    async def _deliver(
        self, hook_id: str, delivery: _Delivery, queue: asyncio.Queue[_Delivery]
    ) -> None:
        config = self.delivery
        assert config is not None
        while True:
            hook = self.hooks.get(hook_id)
            if hook is None or not hook["isActive"]:
                self.stats.dropped += 1
                return
            status, reason = await self._attempt(hook, delivery, config)
            self._log(hook_id, delivery, status, reason)
            if reason is None:
                self._failures[hook_id] = 0
                self.stats.delivered += 1
                return
            failures = self._failures.get(hook_id, 0) + 1
            self._failures[hook_id] = failures
            hook["lastFailureReason"] = reason
            if failures >= config.max_failures:
                hook["isActive"] = False
                self.stats.paused += 1
                self.stats.dropped += 1
                self._drop_waiting(queue)
                _log.warning(
                    "sandbox webhook %s paused after %d failed deliveries: %s",
                    hook_id,
                    failures,
                    reason,
                )
                return
            await config.sleep(config.backoff(failures))

    async def _attempt(
        self, hook: Mapping[str, Any], delivery: _Delivery, config: WebhookDeliveryConfig
    ) -> tuple[int, str | None]:
        """One POST: ``(status, None)`` on a 2xx, else ``(status or 0, reason)``."""
        self.stats.attempts += 1
        uri = str(hook["uri"])
        if not config.allow_remote and not is_loopback(uri):
            self.stats.failed["remote"] += 1
            return 0, "The sandbox delivers to loopback addresses only (allow_remote is off)."
        fault = config.draw()
        if fault == "refused":
            self.stats.failed["injected_refused"] += 1
            return 0, "Injected failure: the receiver could not be reached."
        headers = {"Content-Type": "application/json", "User-Agent": "awork-sandbox-webhooks"}
        if hook.get("authenticationType") == "header" and hook.get("authentication"):
            name, _, value = str(hook["authentication"]).partition("=")
            headers[name] = value
        try:
            session = self._get_session()
            async with session.post(
                uri,
                data=delivery.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=config.timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self.stats.failed["unreachable"] += 1
            return 0, f"The receiver could not be reached: {type(exc).__name__}."
        if fault == "lost":
            self.stats.failed["injected_lost"] += 1
            return status, "Injected failure: the answer was lost."
        if not 200 <= status < 300:
            self.stats.failed["status"] += 1
            return status, f"The receiver answered {status}."
        return status, None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _log(self, hook_id: str, delivery: _Delivery, status: int, reason: str | None) -> None:
        log = self.logs.get(hook_id)
        if log is None:
            return
        log.append(
            {
                "message": delivery.body.decode("utf-8"),
                "webhookId": hook_id,
                "responseCode": status,
                "createdOn": iso_utc(self._now()),
                "reason": reason,
                "isSuccessful": reason is None,
            }
        )


def _events(hook: Mapping[str, Any]) -> set[str]:
    return {e.strip() for e in str(hook.get("events") or "").split(",") if e.strip()}
