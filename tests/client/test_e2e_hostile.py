"""End to end against the sandbox answering well-framed 2xx garbage (issue 9 §3).

The sandbox's ``garbage`` fault replaces a successful answer's body with cut-off JSON, a proxy's
HTML page or nothing. Reads retry it like a 5xx, so walks and exports still deliver every entry
exactly once; a POST is not retried (its write happened) and raises at once.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import orjson
import pytest
from _helpers import no_sleep

from awork_async import APIResponseValidationError, AworkClient, NoRateLimiter, RetryPolicy
from awork_async.export import export_time_entries
from awork_async.models import TimeEntryCreate
from awork_async.sandbox import FaultConfig, Sandbox

ENTRIES = 300


def make_client(sb: Sandbox) -> AworkClient:
    return AworkClient(
        token=sb.token,
        base_url=sb.base_url,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(max_attempts=20, random=lambda: 0.0),
        sleep=no_sleep,
    )


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_a_walk_survives_ten_percent_garbage_answers(prefetch: int) -> None:
    faults = FaultConfig(seed=21 + prefetch, garbage_rate=0.1)
    async with Sandbox(entries=ENTRIES, seed=5, faults=faults) as sb:
        async with make_client(sb) as awork:
            entries = await awork.time_entries.list(page_size=10, prefetch=prefetch).collect()
        ids = [str(e.id) for e in entries]
        assert ids == [e["id"] for e in sb.store.ordered_entries()]
        assert len(set(ids)) == ENTRIES
        assert sb.stats.faults["garbage"] >= 3  # every variant was served


@pytest.mark.parametrize("options", [{}, {"orderby": "startDateUtc desc"}])
async def test_a_bulk_export_survives_ten_percent_garbage_answers(
    options: dict[str, Any],
) -> None:
    faults = FaultConfig(seed=8, garbage_rate=0.1)
    async with Sandbox(entries=ENTRIES, seed=6, faults=faults) as sb:
        buffer = io.BytesIO()
        async with make_client(sb) as awork:
            summary = await export_time_entries(
                awork, buffer, format="jsonl", page_size=10, **options
            )
        ids = [orjson.loads(line)["id"] for line in buffer.getvalue().splitlines()]
        assert len(ids) == len(set(ids)) == ENTRIES  # every entry exactly once
        assert set(ids) == set(sb.store.entries)
        assert summary.entries == ENTRIES
        assert summary.retries >= 1
        assert sb.stats.faults["garbage"] >= 3


async def test_a_post_answered_with_garbage_is_not_sent_twice() -> None:
    faults = FaultConfig(seed=1, garbage_rate=1.0, methods=("POST",))
    async with Sandbox(entries=10, seed=2, faults=faults) as sb:
        type_id = next(t for t, v in sb.store.types_of_work.items() if not v.get("isArchived"))
        start = dt.datetime(2025, 2, 3, 9, tzinfo=dt.timezone.utc)
        form = TimeEntryCreate.from_span(
            start=start,
            end=start + dt.timedelta(minutes=30),
            timezone="UTC",
            type_of_work_id=type_id,
            user_id=sb.store.me_id,
            note="garbage-post",
        )
        async with make_client(sb) as awork:
            with pytest.raises(APIResponseValidationError):
                await awork.time_entries.create(form)
        notes = [e.get("note") for e in sb.store.entries.values()]
        assert notes.count("garbage-post") == 1
