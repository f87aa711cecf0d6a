"""Request counters of the sandbox, for assertions in tests and for the CLI."""

from __future__ import annotations

from collections import Counter

import attrs

__all__ = ["SandboxStats"]


@attrs.define
class SandboxStats:
    """Counters; routes are keyed ``"GET /timeentries/{timeEntryId}"`` (path below ``/api/v1``)."""

    #: Every request received (including rejected ones).
    requests: int = 0
    by_status: Counter[int] = attrs.field(factory=Counter)
    by_route: Counter[str] = attrs.field(factory=Counter)
    #: 429s sent by the rate limiter (injected 429s are counted under ``faults["rate_limit"]``).
    rate_limited: int = 0
    #: Injected faults by kind: ``rate_limit``, ``error``, ``drop``, ``slow``, ``truncate``,
    #: ``garbage``.
    faults: Counter[str] = attrs.field(factory=Counter)
    #: Non-GET requests the handlers completed with a 2xx, by route: proves no write was doubled.
    writes: Counter[str] = attrs.field(factory=Counter)
    #: Responses that were never (completely) delivered: drops and truncations.
    undelivered: int = 0

    @property
    def writes_total(self) -> int:
        """All applied writes."""
        return sum(self.writes.values())

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = self.rate_limited = self.undelivered = 0
        self.by_status.clear()
        self.by_route.clear()
        self.faults.clear()
        self.writes.clear()
