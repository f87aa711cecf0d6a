"""Configuration of the sandbox (public): data sizes, rate limits and fault knobs."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Literal, TypeAlias

import attrs

from .. import _constants as C
from . import _constants as S
from ._timeutil import UTC

__all__ = [
    "FaultConfig",
    "FaultKind",
    "RateLimitConfig",
    "SandboxConfig",
    "WebhookDeliveryConfig",
    "utc_now",
]

#: Kinds of injected faults.
FaultKind: TypeAlias = Literal["rate_limit", "error", "drop", "slow", "truncate", "garbage"]
_KINDS: frozenset[str] = frozenset({"rate_limit", "error", "drop", "slow", "truncate", "garbage"})


def utc_now() -> datetime:
    """The current time, aware, in UTC (default clock of the timer endpoints)."""
    return datetime.now(UTC)


def _rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


@attrs.define
class RateLimitConfig:
    """awork-like fixed-window limits (notes §4). ``clock`` returns seconds (monotonic)."""

    per_second: int = attrs.field(
        default=C.DEFAULT_RATE_PER_SECOND, validator=attrs.validators.ge(1)
    )
    per_minute: int = attrs.field(
        default=C.DEFAULT_RATE_PER_MINUTE, validator=attrs.validators.ge(1)
    )
    clock: Callable[[], float] = time.monotonic


@attrs.define
class FaultConfig:
    """Fault injection knobs. Rates are probabilities per request (0..1); all off by default.

    Every attribute can be changed while the sandbox runs (``sb.faults.error_rate = 0.1``).
    Faults are drawn from a ``random.Random(seed)``, so a run is reproducible. Queued faults
    (:meth:`inject_next`) are served first, one per request, before any random draw.
    """

    seed: int = 0
    #: Injected ``429`` (with ``Retry-After: retry_after``), independent of the rate limiter.
    rate_limit_rate: float = attrs.field(default=0.0, validator=_rate)
    #: Injected server errors, status drawn from ``error_statuses``.
    error_rate: float = attrs.field(default=0.0, validator=_rate)
    error_statuses: tuple[int, ...] = (500, 502, 503)
    #: Connections closed without any answer.
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    #: With ``drop_after_processing`` the request is handled (a POST is applied) before the drop.
    drop_after_processing: bool = False
    #: Responses delayed by ``slow_delay`` seconds.
    slow_rate: float = attrs.field(default=0.0, validator=_rate)
    slow_delay: float = attrs.field(default=S.SANDBOX_SLOW_DELAY, validator=_non_negative)
    #: Bodies cut short: a Content-Length larger than what is sent, then the connection closes.
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    #: Well-framed 2xx answers whose body is not the JSON promised (cut-off JSON, a proxy's HTML
    #: page, an empty body, in turn); the request itself was carried out.
    garbage_rate: float = attrs.field(default=0.0, validator=_rate)
    #: Fixed delay added to every request (seconds), e.g. ``0.1`` for "100 ms per page".
    latency: float = attrs.field(default=0.0, validator=_non_negative)
    retry_after: int = S.SANDBOX_RETRY_AFTER
    #: Only requests whose path below ``/api/v1`` starts with one of these get faults (empty: all).
    paths: tuple[str, ...] = ()
    #: Only these HTTP methods get faults (empty: all).
    methods: tuple[str, ...] = ()
    queue: deque[tuple[FaultKind, int | None]] = attrs.field(factory=deque, repr=False)
    rng: random.Random = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def inject_next(self, kind: FaultKind, count: int = 1, *, status: int | None = None) -> None:
        """Make the next ``count`` eligible requests fail with ``kind`` (``status`` for errors)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        for _ in range(count):
            self.queue.append((kind, status))

    def reset(self) -> None:
        """Switch every fault off and empty the queue (the latency knob is reset too)."""
        self.rate_limit_rate = self.error_rate = self.drop_rate = 0.0
        self.slow_rate = self.truncate_rate = self.garbage_rate = self.latency = 0.0
        self.queue.clear()

    def applies_to(self, method: str, path: str) -> bool:
        """Whether faults may hit this request (path relative to ``/api/v1``)."""
        if self.methods and method.upper() not in {m.upper() for m in self.methods}:
            return False
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def draw(self) -> tuple[FaultKind, int | None] | None:
        """The fault for the next eligible request, or ``None``."""
        if self.queue:
            return self.queue.popleft()
        rng = self.rng
        if self.rate_limit_rate and rng.random() < self.rate_limit_rate:
            return "rate_limit", 429
        if self.error_rate and rng.random() < self.error_rate:
            return "error", rng.choice(self.error_statuses or (500,))
        if self.drop_rate and rng.random() < self.drop_rate:
            return "drop", None
        if self.slow_rate and rng.random() < self.slow_rate:
            return "slow", None
        if self.truncate_rate and rng.random() < self.truncate_rate:
            return "truncate", None
        if self.garbage_rate and rng.random() < self.garbage_rate:
            return "garbage", None
        return None


@attrs.define
class WebhookDeliveryConfig:
    """How the sandbox delivers webhooks (mutable while it runs, like the fault knobs).

    Attributes:
        failure_rate: share of attempts that fail on purpose (0..1), seeded by ``seed``.
        max_failures: failures in a row after which a webhook is paused (awork: 10).
        backoff_base, backoff_max: the wait before retry ``n`` is ``base * 2**(n-1)`` seconds,
            at most ``backoff_max`` (``0`` retries at once: fast tests).
        timeout: seconds a receiver has to answer (awork: 30).
        allow_remote: deliver to non-loopback hosts too (off: the sandbox never calls out).
        sleep: the backoff's sleep (inject a fake in tests).
    """

    failure_rate: float = attrs.field(default=0.0, validator=_rate)
    seed: int = 0
    max_failures: int = attrs.field(
        default=C.WEBHOOK_MAX_FAILURES, validator=attrs.validators.ge(1)
    )
    backoff_base: float = attrs.field(
        default=S.SANDBOX_WEBHOOK_BACKOFF_BASE, validator=attrs.validators.ge(0.0)
    )
    backoff_max: float = attrs.field(
        default=S.SANDBOX_WEBHOOK_BACKOFF_MAX, validator=attrs.validators.ge(0.0)
    )
    timeout: float = attrs.field(
        default=S.WEBHOOK_DELIVERY_TIMEOUT, validator=attrs.validators.gt(0.0)
    )
    allow_remote: bool = False
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)
    rng: random.Random = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** max(0, failures - 1)))

    def draw(self) -> Literal["refused", "lost"] | None:
        """The injected failure of the next attempt, or ``None``."""
        if self.failure_rate and self.rng.random() < self.failure_rate:
            return "refused" if self.rng.random() < 0.5 else "lost"
        return None


def _to_delivery(value: WebhookDeliveryConfig | bool | None) -> WebhookDeliveryConfig | None:
    """``True`` -> the default delivery, ``False``/``None`` -> off."""
    if value is True:
        return WebhookDeliveryConfig()
    if value is False or value is None:
        return None
    return value


@attrs.define
class SandboxConfig:
    """Everything :func:`~awork_async.sandbox.build_app` and :class:`Sandbox` need."""

    entries: int = attrs.field(default=S.SANDBOX_ENTRIES, validator=attrs.validators.ge(0))
    seed: int = S.SANDBOX_SEED
    host: str = S.SANDBOX_HOST
    port: int = 0
    #: Bearer token the server accepts; random when ``None``.
    token: str | None = None
    #: ``None`` disables rate limiting (no RateLimit headers either).
    rate_limit: RateLimitConfig | None = None
    faults: FaultConfig = attrs.field(factory=FaultConfig)
    users: int = attrs.field(default=S.SANDBOX_USERS, validator=attrs.validators.ge(2))
    projects: int = attrs.field(default=S.SANDBOX_PROJECTS, validator=attrs.validators.ge(1))
    tasks: int = attrs.field(default=S.SANDBOX_TASKS, validator=attrs.validators.ge(1))
    types_of_work: int = attrs.field(
        default=S.SANDBOX_TYPES_OF_WORK, validator=attrs.validators.ge(2)
    )
    time_bookings: int = attrs.field(
        default=S.SANDBOX_TIME_BOOKINGS, validator=attrs.validators.ge(0)
    )
    #: Generated entries lie in the ``days`` days up to ``anchor`` (inclusive). ``None`` (the
    #: default): three days before today by the ``now`` clock (UTC), so date filters such as
    #: "the last 30 days" find data while every generated timestamp lies in the past. The data
    #: depends only on ``seed``, the sizes and the anchor: pass a fixed ``anchor`` for data
    #: that is the same on every day.
    anchor: date | None = None
    days: int = attrs.field(default=S.SANDBOX_DAYS, validator=attrs.validators.ge(1))
    default_page_size: int = S.SANDBOX_DEFAULT_PAGE_SIZE
    #: The token user is an admin (like an API key). ``False`` exercises the permission rules.
    admin: bool = True
    #: Clock of the timer endpoints and of ``now``/``today`` in filters (aware UTC datetimes).
    now: Callable[[], datetime] = utc_now

    def anchor_date(self) -> date:
        """The last day of generated entries: ``anchor``, else a few days before ``now()``."""
        if self.anchor is not None:
            return self.anchor
        from ._generate import default_anchor

        return default_anchor(self.now())

    #: Seconds between background churn steps (inserts and deletes); ``None``: no churn.
    churn_interval: float | None = None
    churn_batch: int = 5
    #: Webhook delivery (``True`` for the defaults; ``None``: registrations are kept, nothing
    #: is sent).
    webhooks: WebhookDeliveryConfig | None = attrs.field(default=None, converter=_to_delivery)
