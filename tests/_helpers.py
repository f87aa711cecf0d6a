"""Constants and fakes shared by the unit tests."""

from __future__ import annotations

from awork_async import AworkClient, NoRateLimiter, RetryPolicy

BASE = "https://api.awork.test/api/v1"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"


class FakeClock:
    """A monotonic clock that moves only when a test sets ``now`` or awaits :meth:`sleep`.

    Pass the instance as ``clock`` and its :meth:`sleep` as ``sleep``: every wait is recorded in
    ``waits`` and advances the clock by that much, so waiting loops terminate without sleeping.
    """

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(seconds, 0.0)


class FakeSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def quiet_client(token: str, base_url: str, sleep: FakeSleep | None = None) -> AworkClient:
    """A client for tests: no rate limiting, no jitter, backoff waits recorded, not slept."""
    return AworkClient(
        token=token,
        base_url=base_url,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(random=lambda: 0.0),
        sleep=sleep if sleep is not None else FakeSleep(),
    )
