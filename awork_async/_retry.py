"""The retry policy: which failures are retried, how long to wait, and the retry loop.

The decision is pure (:meth:`RetryPolicy.decide`); the loop (:meth:`RetryPolicy.call`) runs it
with :class:`tenacity.AsyncRetrying`, an injectable sleep and a hook per retry.

Rules (API notes §4, §9.3):

* 429 is retried for every method, POST included: the server did not process the request. The
  wait is ``Retry-After``, else ``RateLimit-Reset``, else exponential backoff with jitter. A
  server-requested wait longer than ``max_retry_wait`` is not slept through: the
  :class:`RateLimitError` is raised with ``retry_after`` set to that wait.
* 5xx (``retry_statuses``), connection errors and timeouts (a body not read within
  ``Timeouts.body`` included), and a 2xx body that is not the JSON promised
  (:class:`APIResponseValidationError`: a truncated document, a proxy's HTML page) are retried
  with backoff, but only for idempotent methods. A POST is retried only when the request provably
  never reached the server (``APIConnectionError.request_sent is False``).
  :class:`OutcomeUnknownError` never is.
* Everything else (other 4xx, a 3xx, a body beyond ``max_response_bytes``, a closed client) is
  raised at once.
* Cancellation (and every ``BaseException`` that is not an ``Exception``) is never retried or
  swallowed, and the backoff sleep is cancellable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Final, TypeVar

import attrs
import tenacity
from tenacity import RetryCallState

from . import _constants as C
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    OutcomeUnknownError,
    RateLimitError,
)
from ._ratelimit_headers import RateLimitInfo
from ._redact import short_repr, shorten
from ._sansio import IDEMPOTENT_METHODS

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "RetryEvent",
    "RetryPolicy",
    "retry_reason",
]

T = TypeVar("T")

log = logging.getLogger(C.LOGGER_NAME)

#: Statuses retried (with backoff, idempotent methods only). 429 is handled on its own.
DEFAULT_RETRY_STATUSES: Final = C.DEFAULT_RETRY_STATUSES

OnRetry = Callable[["RetryEvent"], "Awaitable[None] | None"]


def retry_reason(error: BaseException) -> str:
    """A short, token-free description of a failure: ``"503"``, ``"429 rate-limit"``, the class."""
    if isinstance(error, APIStatusError):
        return f"{error.status} {error.code}" if error.code else str(error.status)
    return type(error).__name__


@attrs.frozen
class RetryEvent:
    """One retry that is about to happen (passed to ``on_retry`` and the ``on_retry`` hooks).

    Attributes:
        attempt: the attempt that failed (1 = the first); the next one is ``attempt + 1``.
        wait: seconds slept before the next attempt.
        error: the failure of that attempt.
        method, url: the request (the URL never contains the token).
    """

    attempt: int
    wait: float
    error: Exception
    method: str
    url: str = attrs.field(repr=short_repr)

    @property
    def reason(self) -> str:
        """Status and awork error code, or the exception class: see :func:`retry_reason`."""
        return retry_reason(self.error)


def _check_non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _check_jitter(_inst: object, _attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, got {value!r}")


def _upper_methods(methods: Iterable[str]) -> frozenset[str]:
    return frozenset(m.upper() for m in methods)


@attrs.frozen
class _Assessment:
    retry: bool
    wait: float
    rate_limited: bool


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long to retry a failed request. Immutable; pass your own to the client.

    Attributes:
        max_attempts: attempts in total, the first included (1 disables retries).
        backoff_initial: backoff before the second attempt, in seconds; doubled per attempt.
        backoff_max: upper bound of one backoff wait.
        max_retry_wait: the longest server-requested wait (429) slept through; beyond it the
            :class:`RateLimitError` is raised with ``retry_after`` set.
        jitter: fraction of the backoff removed at random: the wait is
            ``base * (1 - jitter * random())``, so in ``[base * (1 - jitter), base]``.
        retry_statuses: statuses retried with backoff (idempotent methods only); 429 is always
            retried, for every method, and need not be listed.
        idempotent_methods: methods safe to send twice.
        random: source of jitter in ``[0, 1)`` (inject a constant in tests).
        clock: epoch seconds, for ``Retry-After`` HTTP dates.
    """

    max_attempts: int = attrs.field(default=C.DEFAULT_MAX_ATTEMPTS)
    backoff_initial: float = attrs.field(
        default=C.DEFAULT_BACKOFF_INITIAL, converter=float, validator=_check_non_negative
    )
    backoff_max: float = attrs.field(
        default=C.DEFAULT_BACKOFF_MAX, converter=float, validator=_check_non_negative
    )
    max_retry_wait: float = attrs.field(
        default=C.DEFAULT_MAX_RETRY_WAIT, converter=float, validator=_check_non_negative
    )
    jitter: float = attrs.field(
        default=C.DEFAULT_RETRY_JITTER, converter=float, validator=_check_jitter
    )
    retry_statuses: frozenset[int] = attrs.field(
        default=DEFAULT_RETRY_STATUSES, converter=frozenset
    )
    idempotent_methods: frozenset[str] = attrs.field(
        default=IDEMPOTENT_METHODS, converter=_upper_methods
    )
    random: Callable[[], float] = attrs.field(default=_random.random, eq=False, repr=False)
    clock: Callable[[], float] = attrs.field(default=time.time, eq=False, repr=False)

    @max_attempts.validator
    def _check_max_attempts(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {value!r}")

    # -- pure parts -------------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        """Backoff after failed attempt ``attempt`` (1-based): ``initial * 2**(attempt-1)``,
        capped at ``backoff_max``, minus up to ``jitter`` of it."""
        exponent = min(max(attempt - 1, 0), 64)
        base = min(self.backoff_max, self.backoff_initial * 2.0**exponent)
        return base * (1.0 - self.jitter * self.random())

    def server_wait(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for: ``Retry-After``, else ``RateLimit-Reset``, else None."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        return RateLimitInfo.from_headers(headers, now=now).suggested_wait()

    def rate_limit_wait(self, error: RateLimitError, attempt: int) -> float:
        """Wait before retrying a 429: ``error.retry_after`` (the client sets it from the
        server's headers when it reads the answer), else the error's headers, else backoff."""
        wait = error.retry_after
        if wait is None:
            wait = self.server_wait(error.headers)
        if wait is None:
            wait = self.backoff(attempt)
        return wait

    def is_idempotent(self, method: str) -> bool:
        """Whether ``method`` may be sent twice without changing the outcome."""
        return method.upper() in self.idempotent_methods

    def _assess(
        self, *, method: str, error: BaseException, attempt: int, idempotent: bool | None
    ) -> _Assessment:
        no = _Assessment(retry=False, wait=0.0, rate_limited=False)
        if not isinstance(error, Exception):  # cancellation, KeyboardInterrupt, SystemExit
            return no
        if isinstance(error, RateLimitError):
            wait = self.rate_limit_wait(error, attempt)
            ok = attempt < self.max_attempts and wait <= self.max_retry_wait
            return _Assessment(retry=ok, wait=wait, rate_limited=True)
        safe = self.is_idempotent(method) if idempotent is None else idempotent
        if isinstance(error, OutcomeUnknownError):
            return no
        if isinstance(error, APIConnectionError):
            retryable = safe or not error.request_sent
        elif isinstance(error, APIStatusError):
            retryable = safe and error.status in self.retry_statuses
        elif isinstance(error, APIResponseValidationError):
            retryable = safe  # like a 5xx: a proxy's page or a cut-off document may pass
        else:
            retryable = False
        if not retryable or attempt >= self.max_attempts:
            return no
        return _Assessment(retry=True, wait=self.backoff(attempt), rate_limited=False)

    def decide(
        self,
        *,
        method: str,
        error: BaseException,
        attempt: int,
        idempotent: bool | None = None,
    ) -> float | None:
        """Pure: seconds to wait before the next attempt, or ``None`` to give up.

        ``attempt`` is the attempt that just failed (1-based). ``idempotent`` overrides the
        method-based judgement (the timer's ``pause``/``resume`` are POSTs that may repeat).
        """
        verdict = self._assess(method=method, error=error, attempt=attempt, idempotent=idempotent)
        return verdict.wait if verdict.retry else None

    # -- the loop ---------------------------------------------------------------------------

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        method: str,
        url: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: OnRetry | None = None,
        idempotent: bool | None = None,
        time_left: Callable[[], float | None] | None = None,
        recover: Callable[[Exception], Awaitable[bool]] | None = None,
    ) -> T:
        """Run ``fn`` and retry it according to this policy.

        Args:
            fn: one attempt; raises the typed exceptions of ``_exceptions``.
            method, url: the request, for the decision and the log (never the token).
            sleep: the backoff sleep (``asyncio.sleep`` by default; inject a fake in tests).
            on_retry: called (sync or async) with a :class:`RetryEvent` before each backoff.
            idempotent: overrides the method-based judgement, see :meth:`decide`.
            time_left: seconds left in the call's deadline (or None for no deadline); a wait
                that would not fit is not started and the error is raised at once.
            recover: asked first about each failure; ``True`` means the caller repaired its
                cause (the transport refreshed the token after a 401): the next attempt starts at
                once, without a retry event, and is not counted against ``max_attempts``.

        Returns the result of the first successful attempt. After the last attempt the original
        exception is raised (never tenacity's ``RetryError``); cancellation propagates at once.
        """
        method = method.upper()
        planned: dict[int, float] = {}
        recovered: set[int] = set()  # tenacity's attempt numbers the caller repaired

        async def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            error = outcome.exception()
            if not isinstance(error, Exception):  # never retry or swallow cancellation
                return False
            if recover is not None and await recover(error):
                recovered.add(state.attempt_number)
                return True
            attempt = state.attempt_number - len(recovered)
            verdict = self._assess(
                method=method, error=error, attempt=attempt, idempotent=idempotent
            )
            retry = verdict.retry
            why = "attempts exhausted" if attempt >= self.max_attempts else "wait exceeds cap"
            left = time_left() if time_left is not None else None
            if retry and left is not None and verdict.wait > left:
                retry, why = False, "wait exceeds the call's deadline"
            if verdict.rate_limited and isinstance(error, RateLimitError) and not retry:
                _set_retry_after(error, verdict.wait)
                log.info(
                    "not retrying %s %s after %s (attempt %d/%d): %s (retry after %.2fs)",
                    method,
                    shorten(url),
                    retry_reason(error),
                    attempt,
                    self.max_attempts,
                    why,
                    verdict.wait,
                )
            if retry:
                planned[attempt] = verdict.wait
            return retry

        def wait(state: RetryCallState) -> float:
            return planned.pop(state.attempt_number - len(recovered), 0.0)

        async def before_sleep(state: RetryCallState) -> None:
            if state.attempt_number in recovered:
                return  # repaired by the caller: not a retry of the policy's
            outcome = state.outcome
            assert outcome is not None
            error = outcome.exception()
            assert isinstance(error, Exception)
            delay = state.upcoming_sleep
            attempt = state.attempt_number - len(recovered)
            event = RetryEvent(attempt=attempt, wait=delay, error=error, method=method, url=url)
            log.info(
                "retrying %s %s after %s (attempt %d/%d failed, waiting %.2fs)",
                method,
                shorten(url),
                event.reason,
                event.attempt,
                self.max_attempts,
                delay,
                extra={
                    "awork_method": method,
                    "awork_url": url,
                    "awork_attempt": event.attempt,
                    "awork_reason": event.reason,
                    "awork_wait": delay,
                },
            )
            if on_retry is not None:
                result = on_retry(event)
                if result is not None:
                    await result

        retrying = tenacity.AsyncRetrying(
            sleep=sleep,
            stop=tenacity.stop_never,  # the retry predicate counts the attempts
            wait=wait,
            retry=should_retry,
            before_sleep=before_sleep,
            reraise=True,
        )
        result: T = await retrying(fn)
        return result


def _set_retry_after(error: RateLimitError, wait: float) -> None:
    """Record the wait on the error when the policy gives up on a 429 (its ``str`` shows it;
    the exception's ``args`` are left as raised)."""
    error.retry_after = wait
