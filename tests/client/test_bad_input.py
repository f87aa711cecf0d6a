"""Bad input raises a clear ValueError/TypeError before any request is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from awork_async import AworkClient
from awork_async.export import iter_time_entries_consistent
from awork_async.sync import changes_since

GOOD = "0d7a9e1c-5f6b-4c2a-9e8d-7b6a5c4d3e2f"

CASES: list[tuple[str, Callable[[AworkClient], Any], type[Exception], str]] = [
    ("get bad uuid", lambda c: c.time_entries.get("not-a-uuid"), ValueError, "time_entry_id"),
    ("get int id", lambda c: c.time_entries.get(42), TypeError, "time_entry_id"),
    ("delete bad uuid", lambda c: c.time_entries.delete("123"), ValueError, "time_entry_id"),
    ("project bad uuid", lambda c: c.time_entries.list_for_project("x"), ValueError, "project_id"),
    ("page size 0", lambda c: c.time_entries.list(page_size=0), ValueError, "page_size"),
    ("page size 1001", lambda c: c.time_entries.list(page_size=1001), ValueError, "page_size"),
    ("negative prefetch", lambda c: c.time_entries.list(prefetch=-1), ValueError, "prefetch"),
    ("last bad user", lambda c: c.time_entries.last("nope"), ValueError, "user_id"),
    (
        "batch unknown op",
        lambda c: c.time_entries.batch("explode", [GOOD]),
        ValueError,
        "operation",
    ),
    ("batch empty", lambda c: c.time_entries.batch("delete", []), ValueError, "at least one"),
    (
        "batch bad id",
        lambda c: c.time_entries.delete_many([GOOD, "zz"]),
        ValueError,
        "time_entry_ids",
    ),
    ("batch single id", lambda c: c.time_entries.delete_many(GOOD), TypeError, "iterable"),
    (
        "batch missing value",
        lambda c: c.time_entries.batch("setTask", [GOOD]),
        ValueError,
        "new_task_id",
    ),
    (
        "set billable non-bool",
        lambda c: c.time_entries.set_billable([GOOD], 1),
        TypeError,
        "billable",
    ),
    ("create wrong form", lambda c: c.time_entries.create({"x": 1}), TypeError, "TimeEntryCreate"),
    (
        "timer bad tz",
        lambda c: c.timer.start(GOOD, timezone="Europe/Atlantis"),
        ValueError,
        "time zone",
    ),
    ("timer bad tow", lambda c: c.timer.start("x", timezone="UTC"), ValueError, "type_of_work_id"),
    (
        "bookings reversed",
        lambda c: c.time_bookings.for_users([GOOD], dt.date(2024, 2, 1), dt.date(2024, 1, 1)),
        ValueError,
        "before",
    ),
    (
        "bookings datetime",
        lambda c: c.time_bookings.for_users([GOOD], dt.datetime(2024, 1, 1), dt.date(2024, 1, 2)),
        TypeError,
        "date",
    ),
    (
        "bookings no users",
        lambda c: c.time_bookings.for_users([], dt.date(2024, 1, 1), dt.date(2024, 1, 2)),
        ValueError,
        "empty",
    ),
    ("show_archived str", lambda c: c.types_of_work.list(show_archived="yes"), TypeError, "bool"),
    (
        "export concurrency 0",
        lambda c: iter_time_entries_consistent(c, concurrency=0),
        ValueError,
        "concurrency",
    ),
    (
        "sync concurrency bool",
        lambda c: changes_since(c, None, concurrency=True),
        TypeError,
        "concurrency",
    ),
]


@pytest.mark.parametrize(("name", "call", "exc", "words"), CASES, ids=[c[0] for c in CASES])
async def test_rejected_before_sending(
    name: str,
    call: Callable[[AworkClient], Any],
    exc: type[Exception],
    words: str,
    mocked_client: AworkClient,
    mocked: aioresponses,
) -> None:
    async def attempt() -> None:
        result = call(mocked_client)
        if isinstance(result, Awaitable):
            await result

    with pytest.raises(exc, match=words):
        await attempt()
    assert not mocked.requests, f"{name}: a request was sent"
