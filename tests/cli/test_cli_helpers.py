"""Tests of ``_helpers.threaded_sandbox`` (the shared helpers are imported from ``_helpers``)."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest
from _helpers import threaded_sandbox


async def _status(url: str, token: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status


def test_the_threaded_sandbox_answers_another_loop_and_stops() -> None:
    before = set(threading.enumerate())
    with threaded_sandbox(entries=3, seed=2) as sb:
        assert len(sb.store.entries) == 3
        assert asyncio.run(_status(sb.base_url, sb.token)) == 200
        (thread,) = [
            t for t in threading.enumerate() if t not in before and t.name == "cli-test-sandbox"
        ]
    assert not thread.is_alive()  # joined on exit


def test_a_sandbox_that_cannot_start_raises_in_the_caller() -> None:
    with pytest.raises(TypeError), threaded_sandbox(no_such_option=1):
        pass  # pragma: no cover - not reached
