"""Constants and fakes shared by the unit tests."""

from __future__ import annotations

from awork_async import AworkClient, NoRateLimiter, RetryPolicy

BASE = "https://api.awork.test/api/v1"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"


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
