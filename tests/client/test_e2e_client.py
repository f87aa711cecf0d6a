"""End to end: every resource of the client against the real sandbox server on 127.0.0.1.

Each test starts its own small sandbox (a few hundred entries, generated in milliseconds) and a
client with no rate limiting and no real backoff waits, then checks the answers against the
sandbox's in-memory store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import uuid
import warnings
from typing import Any

import pytest
from _helpers import no_sleep

from awork_async import (
    AuthenticationError,
    AworkClient,
    BadRequestError,
    ClientClosedError,
    InvalidFilterError,
    NoRateLimiter,
    NotFoundError,
    RetryPolicy,
    TimerState,
    ValidationFailedError,
)
from awork_async.filters import F, asc, desc, me, order_by
from awork_async.models import (
    TimeBookingForm,
    TimeEntryCreate,
    TimeEntryUpdate,
    TypeOfWorkForm,
)
from awork_async.sandbox import Sandbox

UTC = dt.timezone.utc
ENTRIES = 300


def make_client(sb: Sandbox, **kwargs: Any) -> AworkClient:
    """A client for ``sb`` without rate limiting or real backoff waits."""
    options: dict[str, Any] = {
        "token": sb.token,
        "base_url": sb.base_url,
        "rate_limiter": NoRateLimiter(),
        "retry": RetryPolicy(random=lambda: 0.0),
        "sleep": no_sleep,
    }
    options.update(kwargs)
    return AworkClient(**options)


#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=ENTRIES, seed=7)


def ids_of(items: Any) -> list[str]:
    return [str(item.id) for item in items]


def other_user(sb: Sandbox) -> str:
    return next(u for u in sb.store.users if u != sb.store.me_id)


def a_type_of_work(sb: Sandbox) -> str:
    return next(t for t, v in sb.store.types_of_work.items() if not v.get("isArchived"))


def new_entry_form(sb: Sandbox, *, user_id: str | None = None, hour: int = 9) -> TimeEntryCreate:
    start = dt.datetime(2025, 3, 3, hour, 0, tzinfo=UTC)
    return TimeEntryCreate.from_span(
        start=start,
        end=start + dt.timedelta(hours=1, minutes=30),
        timezone="Europe/Berlin",
        type_of_work_id=a_type_of_work(sb),
        user_id=user_id or sb.store.me_id,
        note="e2e",
        is_billable=True,
    )


# --------------------------------------------------------------------------- time entry lists


async def test_list_collects_every_entry_once(sb: Sandbox, sandbox_client: AworkClient) -> None:
    entries = await sandbox_client.time_entries.list(page_size=40).collect()
    assert len(entries) == ENTRIES
    assert sorted(ids_of(entries)) == sorted(sb.store.entries)
    # The server's default order is by UTC start; the client keeps it.
    expected = [e["id"] for e in sb.store.ordered_entries()]
    assert ids_of(entries) == expected


async def test_list_pages_carry_totals_and_raw_responses(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    pages = [page async for page in sandbox_client.time_entries.list(page_size=128).pages()]
    assert [p.page for p in pages] == [1, 2, 3]
    assert [len(p) for p in pages] == [128, 128, ENTRIES - 256]
    assert all(p.total_items == ENTRIES for p in pages)
    assert pages[-1].is_last and not pages[0].is_last
    first = pages[0].response
    assert first.status == 200 and first.method == "GET"
    assert "pageSize=128" in first.url and "page=1" in first.url
    assert first.trace_id and len(first.trace_id) == 32
    assert first.page_info.total_items == ENTRIES


async def test_list_max_items_and_prefetch(sb: Sandbox, sandbox_client: AworkClient) -> None:
    limited = await sandbox_client.time_entries.list(page_size=50, max_items=75).collect()
    assert len(limited) == 75
    assert sb.stats.by_route["GET /timeentries"] == 2  # 75 items need exactly two pages
    prefetched = await sandbox_client.time_entries.list(page_size=30, prefetch=4).collect()
    sequential = await sandbox_client.time_entries.list(page_size=30).collect()
    assert ids_of(prefetched) == ids_of(sequential)
    assert len(prefetched) == ENTRIES
    streamed = [e.id async for e in sandbox_client.time_entries.list(page_size=64, max_items=100)]
    assert len(streamed) == 100 and len(set(streamed)) == 100


async def test_list_filter_and_order_strings(sb: Sandbox, sandbox_client: AworkClient) -> None:
    me = sb.store.me_id
    mine = await sandbox_client.time_entries.list(
        filterby=f"userId eq guid'{me}' and isBillable eq true",
        orderby="duration desc",
    ).collect()
    expected = [
        e for e in sb.store.entries.values() if e["userId"] == me and e["isBillable"] is True
    ]
    assert mine and len(mine) == len(expected)
    assert {str(e.id) for e in mine} == {e["id"] for e in expected}
    durations = [e.duration or 0 for e in mine]
    assert durations == sorted(durations, reverse=True)


async def test_list_typed_filter_builder(sb: Sandbox, sandbox_client: AworkClient) -> None:
    my_id = sb.store.me_id
    expr = (F.user_id == uuid.UUID(my_id)) & (F.is_billable.eq(False))
    entries = await sandbox_client.time_entries.list(
        filterby=expr, orderby=order_by(desc(F.start_date_utc), asc(F.id))
    ).collect()
    expected = {
        e["id"] for e in sb.store.entries.values() if e["userId"] == my_id and not e["isBillable"]
    }
    assert entries and {str(e.id) for e in entries} == expected
    starts = [(e.start_date_utc, e.start_time_utc) for e in entries]
    assert starts == sorted(starts, reverse=True)
    # The me.id token resolves to the caller on the server.
    via_token = await sandbox_client.time_entries.list(filterby=F.user_id == me.id).collect()
    assert {str(e.id) for e in via_token} == {
        e["id"] for e in sb.store.entries.values() if e["userId"] == my_id
    }


async def test_simplified_project_and_task_lists(sb: Sandbox, sandbox_client: AworkClient) -> None:
    simplified = await sandbox_client.time_entries.list_simplified(page_size=100).collect()
    assert sorted(ids_of(simplified)) == sorted(sb.store.entries)
    with_task = next(e for e in sb.store.entries.values() if e.get("taskId") and e["projectId"])
    project_id, task_id = with_task["projectId"], with_task["taskId"]
    per_project = await sandbox_client.time_entries.list_for_project(project_id).collect()
    assert {str(e.id) for e in per_project} == {
        e["id"] for e in sb.store.entries.values() if e["projectId"] == project_id
    }
    per_task = await sandbox_client.time_entries.list_for_task(task_id).collect()
    assert {str(e.id) for e in per_task} == {
        e["id"] for e in sb.store.entries.values() if e.get("taskId") == task_id
    }
    assert with_task["id"] in ids_of(per_task)


# ------------------------------------------------------------------------- single time entries


async def test_get_create_update_delete(sb: Sandbox, sandbox_client: AworkClient) -> None:
    some_id = next(iter(sb.store.entries))
    fetched = await sandbox_client.time_entries.get(some_id)
    assert str(fetched.id) == some_id
    assert fetched.duration == sb.store.entries[some_id]["duration"]

    created = await sandbox_client.time_entries.create(new_entry_form(sb))
    assert created.id is not None and str(created.id) in sb.store.entries
    assert created.duration == 5400 and created.note == "e2e" and created.is_billable is True
    assert sb.stats.writes["POST /timeentries"] == 1

    start = dt.datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    update = TimeEntryUpdate.from_span(
        start=start,
        end=start + dt.timedelta(hours=2),
        timezone="Europe/Berlin",
        type_of_work_id=a_type_of_work(sb),
        note="changed",
    )
    updated = await sandbox_client.time_entries.update(created.id, update)
    assert updated.note == "changed" and updated.duration == 7200
    assert sb.store.entries[str(created.id)]["note"] == "changed"

    await sandbox_client.time_entries.delete(created.id)
    assert str(created.id) not in sb.store.entries
    with pytest.raises(NotFoundError) as info:
        await sandbox_client.time_entries.get(created.id)
    assert info.value.status == 404 and info.value.trace_id


async def test_remove_breaks(sb: Sandbox, sandbox_client: AworkClient) -> None:
    tow = a_type_of_work(sb)
    await sandbox_client.timer.start(tow, timezone="Europe/Berlin")
    paused = await sandbox_client.timer.pause()
    assert paused is not None and paused.breaks and paused.open_break is not None
    cleared = await sandbox_client.time_entries.remove_breaks(paused.id)  # type: ignore[arg-type]
    assert cleared.breaks == () or cleared.breaks is None
    await sandbox_client.timer.stop()


async def test_last_entry_for_me_and_a_user(sb: Sandbox, sandbox_client: AworkClient) -> None:
    mine = await sandbox_client.time_entries.last()
    expected = sb.store.last_entry(sb.store.me_id)
    assert mine is not None and expected is not None and str(mine.id) == expected["id"]
    user = other_user(sb)
    theirs = await sandbox_client.time_entries.last(user)
    expected_theirs = sb.store.last_entry(user)
    if expected_theirs is None:
        assert theirs is None
    else:
        assert theirs is not None and str(theirs.id) == expected_theirs["id"]


# ------------------------------------------------------------------------------ batch updates


async def test_batch_operations_chunk_and_merge(sb: Sandbox, sandbox_client: AworkClient) -> None:
    ids = list(sb.store.entries)[:7]
    missing = str(uuid.uuid4())
    result = await sandbox_client.time_entries.set_billable([*ids, missing], True, chunk_size=3)
    assert sb.stats.by_route["POST /timeentries/batch/{operation}"] == 3  # 8 ids, 3 per chunk
    assert sorted(map(str, result.ok_ids)) == sorted(ids)
    assert [str(i) for i in result.not_found_ids] == [missing]
    assert not result.all_ok
    assert all(sb.store.entries[i]["isBillable"] is True for i in ids)

    billed = await sandbox_client.time_entries.set_billed(ids, True, chunk_size=2)
    assert billed.all_ok and len(billed.ok_ids) == 7
    assert all(sb.store.entries[i]["isBilled"] is True for i in ids)

    tow = next(t for t in sb.store.types_of_work if t != sb.store.entries[ids[0]]["typeOfWorkId"])
    await sandbox_client.time_entries.set_type_of_work(ids[:2], tow)
    assert all(sb.store.entries[i]["typeOfWorkId"] == tow for i in ids[:2])

    project = next(iter(sb.store.projects))
    await sandbox_client.time_entries.set_project(ids[:2], project)
    assert all(sb.store.entries[i]["projectId"] == project for i in ids[:2])

    task_id, task = next((k, v) for k, v in sb.store.tasks.items() if v.get("projectId"))
    await sandbox_client.time_entries.set_task(ids[2:4], task_id)
    assert all(sb.store.entries[i]["taskId"] == task_id for i in ids[2:4])
    assert all(sb.store.entries[i]["projectId"] == task["projectId"] for i in ids[2:4])

    user = other_user(sb)
    await sandbox_client.time_entries.set_user(ids[4:5], user)
    assert sb.store.entries[ids[4]]["userId"] == user

    deleted = await sandbox_client.time_entries.delete_many([*ids[5:], missing], chunk_size=1)
    assert sorted(map(str, deleted.ok_ids)) == sorted(ids[5:])
    assert [str(i) for i in deleted.not_found_ids] == [missing]
    assert not any(i in sb.store.entries for i in ids[5:])


async def test_legacy_bulk(sb: Sandbox, sandbox_client: AworkClient) -> None:
    ids = list(sb.store.entries)[:3]
    with pytest.warns(DeprecationWarning, match="deprecated"):
        await sandbox_client.time_entries.legacy_bulk("setbilled", ids)
    assert all(sb.store.entries[i]["isBilled"] is True for i in ids)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        await sandbox_client.time_entries.legacy_bulk("delete", ids[:1])
    assert ids[0] not in sb.store.entries
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(NotFoundError):
        await sandbox_client.time_entries.legacy_bulk("setunbilled", [ids[1], str(uuid.uuid4())])
    assert sb.store.entries[ids[1]]["isBilled"] is True  # all or nothing


# ----------------------------------------------------------------------------------- the timer


async def test_timer_for_me(sb: Sandbox, sandbox_client: AworkClient) -> None:
    tow = a_type_of_work(sb)
    await sandbox_client.timer.stop()  # the generated data may hold a running timer
    assert (await sandbox_client.timer.status()).state is TimerState.STOPPED
    started = await sandbox_client.timer.start(tow, timezone="Europe/Berlin", note="timer")
    assert started.end_date_utc is None and started.note == "timer"
    status = await sandbox_client.timer.status()
    assert status.running and status.entry is not None and status.entry.id == started.id
    paused = await sandbox_client.timer.pause()
    assert paused is not None and paused.id == started.id
    assert (await sandbox_client.timer.status()).paused
    resumed = await sandbox_client.timer.resume()
    assert resumed is not None and resumed.open_break is None
    stopped = await sandbox_client.timer.stop()
    assert stopped is not None and stopped.id == started.id and stopped.end_date_utc is not None
    assert (await sandbox_client.timer.status()).state is TimerState.STOPPED
    # Nothing runs now: the API answers 204, which the client turns into None.
    assert await sandbox_client.timer.stop() is None
    assert await sandbox_client.timer.pause() is None
    assert sb.stats.by_status[204] >= 2


async def test_timer_for_another_user(sb: Sandbox, sandbox_client: AworkClient) -> None:
    user = other_user(sb)
    tow = a_type_of_work(sb)
    started = await sandbox_client.timer.start(tow, timezone="UTC", user_id=user)
    assert str(started.user_id) == user
    assert sb.store.running[user] == str(started.id)
    status = await sandbox_client.timer.status(user_id=user)
    assert status.running and status.entry is not None and status.entry.id == started.id
    with pytest.raises(BadRequestError):  # pause/resume only on one's own timer
        await sandbox_client.timer.pause(user_id=user)
    stopped = await sandbox_client.timer.stop(user_id=user)
    assert stopped is not None and stopped.id == started.id
    assert user not in sb.store.running
    assert await sandbox_client.timer.stop(user_id=user) is None


async def test_timetracking_settings(sandbox_client: AworkClient) -> None:
    settings = await sandbox_client.timer.settings()
    assert isinstance(settings, list) and settings
    assert all(s.type for s in settings)


# ----------------------------------------------------------------------------- time bookings


@pytest.mark.parametrize("family", ["time_bookings", "project_time_bookings"])
async def test_time_bookings(sb: Sandbox, sandbox_client: AworkClient, family: str) -> None:
    resource = getattr(sandbox_client, family)
    listed = await resource.list(page_size=60).collect()
    assert sorted(ids_of(listed)) == sorted(sb.store.time_bookings)
    user = sb.store.me_id
    project = next(iter(sb.store.projects))
    form = TimeBookingForm(
        user_id=user,
        project_id=project,
        start_date=dt.date(2025, 5, 5),
        end_date=dt.date(2025, 5, 9),
        duration=3600,
        description="planned",
    )
    created = await resource.create(form)
    assert created.id is not None and str(created.id) in sb.store.time_bookings
    assert created.start_date == dt.date(2025, 5, 5) and created.duration == 3600
    changed = await resource.update(
        created.id,
        TimeBookingForm(
            user_id=user,
            project_id=project,
            start_date=dt.date(2025, 5, 5),
            end_date=dt.date(2025, 5, 6),
            duration=1800,
        ),
    )
    assert changed.duration == 1800 and changed.end_date == dt.date(2025, 5, 6)
    by_user = await resource.for_users([user], dt.date(2025, 5, 1), dt.date(2025, 5, 31))
    assert created.id in {b.id for b in by_user[uuid.UUID(user)]}
    await resource.delete(created.id)
    assert str(created.id) not in sb.store.time_bookings
    with pytest.raises(NotFoundError):
        await resource.delete(created.id)


# ------------------------------------------------------------------------------ types of work


async def test_types_of_work(sb: Sandbox, sandbox_client: AworkClient) -> None:
    listed = await sandbox_client.types_of_work.list().collect()
    active = {t for t, v in sb.store.types_of_work.items() if not v.get("isArchived")}
    assert {str(t.id) for t in listed} == active
    some = next(iter(active))
    got = await sandbox_client.types_of_work.get(some)
    assert str(got.id) == some and got.name == sb.store.types_of_work[some]["name"]
    icons = await sandbox_client.types_of_work.icons()
    assert icons and all(isinstance(i, str) for i in icons)

    created = await sandbox_client.types_of_work.create(TypeOfWorkForm(name="E2E", icon=icons[0]))
    assert created.name == "E2E" and str(created.id) in sb.store.types_of_work
    renamed = await sandbox_client.types_of_work.update(created.id, TypeOfWorkForm(name="E2E v2"))  # type: ignore[arg-type]
    assert renamed.name == "E2E v2"
    archived = await sandbox_client.types_of_work.set_archived(created.id)  # type: ignore[arg-type]
    assert archived.is_archived is True
    assert created.id not in {t.id for t in await sandbox_client.types_of_work.list().collect()}
    with_archived = await sandbox_client.types_of_work.list(show_archived=True).collect()
    assert created.id in {t.id for t in with_archived}
    await sandbox_client.types_of_work.set_archived(created.id, False)  # type: ignore[arg-type]
    await sandbox_client.types_of_work.delete(created.id, some)  # type: ignore[arg-type]
    assert str(created.id) not in sb.store.types_of_work
    with pytest.raises(NotFoundError):
        await sandbox_client.types_of_work.get(created.id)  # type: ignore[arg-type]

    project = next(iter(sb.store.projects))
    for_project = await sandbox_client.types_of_work.list_for_project(project)
    assert for_project and {str(t.id) for t in for_project} <= set(sb.store.types_of_work)


# -------------------------------------------------------------------------- reports and me()


async def test_time_reports_and_me(sb: Sandbox, sandbox_client: AworkClient) -> None:
    reports = await sandbox_client.time_reports.list()
    assert isinstance(reports, list)
    for report in reports:
        if report.filter:  # a report's filter is a valid filterby for the entries list
            await sandbox_client.time_entries.list(filterby=report.filter, max_items=5).collect()
    me = await sandbox_client.me()
    assert str(me.id) == sb.store.me_id
    assert me.workspace is not None and me.workspace.id is not None


# ------------------------------------------------------------------------------------- errors


async def test_wrong_token_raises_authentication_error(sb: Sandbox) -> None:
    async with make_client(sb, token="not-the-token") as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.me()
    error = info.value
    assert error.status == 401 and error.trace_id and len(error.trace_id) == 32
    assert "not-the-token" not in str(error) and sb.token not in str(error)
    assert sb.stats.by_status[401] == 1  # a static token is not retried


async def test_invalid_filter_raises(sandbox_client: AworkClient) -> None:
    with pytest.raises(InvalidFilterError) as info:
        await sandbox_client.time_entries.list(filterby="isBillable eq eq true").collect()
    assert info.value.status == 400 and info.value.code == "invalid-filter-or-order"


async def test_validation_errors(sb: Sandbox, sandbox_client: AworkClient) -> None:
    form = TimeEntryCreate.from_span(
        start=dt.datetime(2025, 3, 3, 9, tzinfo=UTC),
        end=dt.datetime(2025, 3, 3, 10, tzinfo=UTC),
        timezone="UTC",
        type_of_work_id=uuid.uuid4(),  # no such type of work
        user_id=sb.store.me_id,
    )
    with pytest.raises(ValidationFailedError) as info:
        await sandbox_client.time_entries.create(form)
    error = info.value
    assert error.status == 400 and error.validation_errors
    assert any("typeofwork" in (v.property or "").lower() for v in error.validation_errors)
    assert sb.stats.writes_total == 0


# ------------------------------------------------------------------------------ raw responses


async def test_with_raw_response(sb: Sandbox, sandbox_client: AworkClient) -> None:
    some_id = next(iter(sb.store.entries))
    resp = await sandbox_client.with_raw_response.time_entries.get(some_id)
    assert str(resp.parsed.id) == some_id
    assert resp.status == 200 and resp.trace_id and resp.raw.method == "GET"
    assert resp.headers["Content-Type"].startswith("application/json")
    me = await sandbox_client.with_raw_response.me()
    assert str(me.parsed.id) == sb.store.me_id
    stopped = await sandbox_client.with_raw_response.timer.stop(user_id=other_user(sb))
    assert stopped.status in (200, 204)


async def test_rate_limit_headers_reach_the_raw_response() -> None:
    from awork_async.sandbox import RateLimitConfig

    config = RateLimitConfig(50, 1000)
    async with Sandbox(entries=20, rate_limit=config) as sandbox, make_client(sandbox) as awork:
        resp = await awork.with_raw_response.me()
    info = resp.rate_limit
    assert info.second_remaining == 49 and info.minute_remaining == 999


# ----------------------------------------------------------------------------------- lifecycle


async def test_lifecycle_closes_everything(sb: Sandbox) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        awork = make_client(sb)
        async with awork:
            await awork.me()
        assert awork.closed
        await awork.aclose()  # twice is harmless
        with pytest.raises(ClientClosedError):
            await awork.me()
        # A client used without a context manager, closed explicitly.
        other = make_client(sb)
        await other.time_entries.list(max_items=3).collect()
        await other.aclose()
        del awork, other
        gc.collect()
        await asyncio.sleep(0)
    messages = [str(w.message) for w in caught]
    assert not any("Unclosed" in m for m in messages), messages


async def test_caller_owned_session_stays_open(sb: Sandbox) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with make_client(sb, session=session) as awork:
            assert str((await awork.me()).id) == sb.store.me_id
        assert not session.closed
        async with make_client(sb, session=session) as again:
            await again.me()
