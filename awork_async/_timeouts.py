"""Timeouts of a client and of one call.

``connect`` and ``read`` bound each attempt (handed to aiohttp as ``sock_connect`` and
``sock_read``: without ``sock_read`` a stalled read can hang forever, aiohttp#11740). ``body``
bounds reading one answer's whole body, per attempt (the transport enforces it: a server that
trickles a byte now and then never trips ``read``). ``total``
is the deadline of one logical call *across all of its retries*; the transport enforces it, so
it is deliberately not given to aiohttp as a per-attempt total.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import aiohttp
import attrs

from . import _constants as C

__all__ = ["TimeoutLike", "Timeouts"]


def _to_seconds(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a timeout must be a number of seconds or None, got {value!r}")
    return float(value)


def _check_positive(_inst: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"timeout {attribute.name} must be a positive number or None, got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Timeouts:
    """Timeouts in seconds; ``None`` means no limit.

    Attributes:
        connect: to open a connection (TCP and TLS), per attempt.
        read: between two reads of the answer, per attempt.
        total: the whole call, all retries and backoff waits included.
        body: reading one answer's whole body, per attempt; runs out like a read timeout
            (:class:`APITimeoutError`, retried for idempotent requests).
    """

    connect: float | None = attrs.field(
        default=C.DEFAULT_CONNECT_TIMEOUT, converter=_to_seconds, validator=_check_positive
    )
    read: float | None = attrs.field(
        default=C.DEFAULT_READ_TIMEOUT, converter=_to_seconds, validator=_check_positive
    )
    total: float | None = attrs.field(
        default=C.DEFAULT_TOTAL_TIMEOUT, converter=_to_seconds, validator=_check_positive
    )
    body: float | None = attrs.field(
        default=C.DEFAULT_BODY_TIMEOUT, converter=_to_seconds, validator=_check_positive
    )

    def to_client_timeout(self) -> aiohttp.ClientTimeout:
        """The per-attempt :class:`aiohttp.ClientTimeout` (no ``total``: see the module doc)."""
        return aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=self.connect, sock_read=self.read
        )

    def merge(self, override: TimeoutLike) -> Timeouts:
        """These timeouts with a per-call override applied.

        ``None`` keeps them; a number replaces ``total`` (the call's deadline); a
        :class:`Timeouts` replaces all four.
        """
        if override is None:
            return self
        if isinstance(override, Timeouts):
            return override
        return attrs.evolve(self, total=_to_seconds(override))

    def deadline(self, now: float) -> float | None:
        """The instant (on the clock that gave ``now``) by which the call must end, or None."""
        return None if self.total is None else now + self.total


#: What a ``timeout=`` argument accepts: seconds for the whole call, a :class:`Timeouts`, or
#: ``None`` for the client's own.
TimeoutLike: TypeAlias = "float | Timeouts | None"
