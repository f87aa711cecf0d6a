"""awork-like fixed-window rate limiting: one window per second and one per minute (notes §4)."""

from __future__ import annotations

import math

import attrs

from .config import RateLimitConfig

__all__ = ["FixedWindowRateLimiter", "RateDecision"]


@attrs.frozen
class RateDecision:
    """Outcome of one request: allowed or not, the headers to send, and Retry-After on refusal."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int | None = None


class FixedWindowRateLimiter:
    """Counts requests in the current second and minute windows of ``config.clock``.

    Refused requests (429) do not count against the quota. The ``RateLimit-*`` headers report
    the window with fewer requests left (the minute window on a tie).
    """

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self._second_window = -1
        self._minute_window = -1
        self._second_count = 0
        self._minute_count = 0

    def _roll(self, now: float) -> None:
        second = math.floor(now)
        minute = math.floor(now / 60)
        if second != self._second_window:
            self._second_window, self._second_count = second, 0
        if minute != self._minute_window:
            self._minute_window, self._minute_count = minute, 0

    def hit(self) -> RateDecision:
        """Count one request (unless refused) and return the decision."""
        now = self.config.clock()
        self._roll(now)
        per_second, per_minute = self.config.per_second, self.config.per_minute
        second_full = self._second_count >= per_second
        minute_full = self._minute_count >= per_minute
        allowed = not (second_full or minute_full)
        if allowed:
            self._second_count += 1
            self._minute_count += 1
        second_left = max(0, per_second - self._second_count)
        minute_left = max(0, per_minute - self._minute_count)
        second_reset = max(1, math.ceil(self._second_window + 1 - now))
        minute_reset = max(1, math.ceil((self._minute_window + 1) * 60 - now))
        if minute_left <= second_left:
            limit, remaining, reset = per_minute, minute_left, minute_reset
        else:
            limit, remaining, reset = per_second, second_left, second_reset
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "X-RateLimit-Limit-Second": str(per_second),
            "X-RateLimit-Remaining-Second": str(second_left),
            "X-RateLimit-Limit-Minute": str(per_minute),
            "X-RateLimit-Remaining-Minute": str(minute_left),
        }
        if allowed:
            return RateDecision(True, headers)
        retry_after = minute_reset if minute_full else second_reset
        headers["RateLimit-Reset"] = str(retry_after)
        headers["Retry-After"] = str(retry_after)
        return RateDecision(False, headers, retry_after)
