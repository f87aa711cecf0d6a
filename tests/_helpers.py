"""Constants and fakes shared by the unit tests."""

from __future__ import annotations

BASE = "https://api.awork.test/api/v1"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"


class FakeSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
