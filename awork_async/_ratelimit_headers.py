"""Pure parsing of awork's rate limit response headers (notes §4).

awork documents ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until
the reported window resets) and ``X-RateLimit-{Limit,Remaining}-{Second,Minute}``;
``Retry-After`` is not documented but honoured when present. Header names are matched
case-insensitively; values that do not parse become ``None``, so a malformed header never breaks a
request. So do waits beyond any plausible window (``Retry-After: 1e12``, ``RateLimit-Reset:
1e308``, more than :data:`~awork_async._constants.MAX_PLAUSIBLE_RATE_LIMIT_WAIT`): one bogus
answer must not hold every later call, and parsing here is the one place both the rate limiter
and the retry policy read these headers through. Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import attrs

from awork_async._constants import (
    HEADER_RATELIMIT_LIMIT,
    HEADER_RATELIMIT_LIMIT_MINUTE,
    HEADER_RATELIMIT_LIMIT_SECOND,
    HEADER_RATELIMIT_REMAINING,
    HEADER_RATELIMIT_REMAINING_MINUTE,
    HEADER_RATELIMIT_REMAINING_SECOND,
    HEADER_RATELIMIT_RESET,
    HEADER_RETRY_AFTER,
    MAX_PLAUSIBLE_RATE_LIMIT_WAIT,
)

__all__ = ["RateLimitInfo", "parse_retry_after"]


def _first_item(value: str) -> str:
    """Return the first element of a possibly comma-separated header value, stripped."""
    return value.split(",", 1)[0].strip()


def _parse_count(value: str | None) -> int | None:
    """Parse a non-negative request count (``"50"``, ``"50.0"``); ``None`` if unusable."""
    if value is None:
        return None
    try:
        number = float(_first_item(value))
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return int(number)


def _plausible_wait(seconds: float) -> float | None:
    """``seconds`` if it is a wait a rate limit can mean, else ``None`` (noise, ignored)."""
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_PLAUSIBLE_RATE_LIMIT_WAIT:
        return None
    return seconds


def _parse_seconds(value: str | None) -> float | None:
    """Parse a plausible wait in seconds (see :func:`_plausible_wait`); ``None`` if unusable."""
    if value is None:
        return None
    try:
        number = float(_first_item(value))
    except ValueError:
        return None
    return _plausible_wait(number)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` value into seconds to wait from ``now``.

    Accepts delta-seconds (``"60"``, also fractional) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``). A date in the past yields ``0.0``. Returns ``None`` for a
    missing, negative or unparsable value, and for a wait beyond any plausible rate-limit window.
    ``now`` defaults to the current UTC time and is only used for HTTP-dates; naive datetimes are
    taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(_first_item(text))
    except ValueError:
        pass
    else:
        return _plausible_wait(number)
    if text[:1].isdigit() or text[:1] in "+-.":
        return None  # a malformed or negative number, not a date
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    reference = datetime.now(timezone.utc) if now is None else now
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=timezone.utc)
    return _plausible_wait(max(0.0, (when - reference).total_seconds()))


@attrs.frozen
class RateLimitInfo:
    """The rate limit state one response reports; every field is ``None`` when not sent.

    Attributes:
        limit: ``RateLimit-Limit``, the limit of the window the server currently reports.
        remaining: ``RateLimit-Remaining``, requests left in that window.
        reset: ``RateLimit-Reset``, seconds until that window resets.
        second_limit: ``X-RateLimit-Limit-Second``.
        second_remaining: ``X-RateLimit-Remaining-Second``.
        minute_limit: ``X-RateLimit-Limit-Minute``.
        minute_remaining: ``X-RateLimit-Remaining-Minute``.
        retry_after: ``Retry-After`` in seconds (delta-seconds or HTTP-date).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    second_limit: int | None = None
    second_remaining: int | None = None
    minute_limit: int | None = None
    minute_remaining: int | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str], *, now: datetime | None = None
    ) -> RateLimitInfo:
        """Read the rate limit headers of a response.

        ``headers`` may be any mapping (a plain ``dict`` or aiohttp's case-insensitive
        ``CIMultiDictProxy``); names are compared case-insensitively and, for repeated headers, the
        first value wins. ``now`` is the reference time for an HTTP-date ``Retry-After``.
        """
        lowered: dict[str, str] = {}
        for name, value in headers.items():
            lowered.setdefault(name.lower(), value)
        return cls(
            limit=_parse_count(lowered.get(HEADER_RATELIMIT_LIMIT)),
            remaining=_parse_count(lowered.get(HEADER_RATELIMIT_REMAINING)),
            reset=_parse_seconds(lowered.get(HEADER_RATELIMIT_RESET)),
            second_limit=_parse_count(lowered.get(HEADER_RATELIMIT_LIMIT_SECOND)),
            second_remaining=_parse_count(lowered.get(HEADER_RATELIMIT_REMAINING_SECOND)),
            minute_limit=_parse_count(lowered.get(HEADER_RATELIMIT_LIMIT_MINUTE)),
            minute_remaining=_parse_count(lowered.get(HEADER_RATELIMIT_REMAINING_MINUTE)),
            retry_after=parse_retry_after(lowered.get(HEADER_RETRY_AFTER), now),
        )

    @property
    def is_empty(self) -> bool:
        """True when the response carried none of the rate limit headers."""
        return all(value is None for value in attrs.astuple(self))

    def suggested_wait(self) -> float | None:
        """Seconds the server asks to wait: ``Retry-After``, else ``RateLimit-Reset``, else None."""
        if self.retry_after is not None:
            return self.retry_after
        return self.reset
