"""Generated sandbox data: determinism, internal consistency, size; and the pytest plugin."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from awork_async.sandbox import Sandbox, SandboxConfig, Store
from awork_async.sandbox._timeutil import to_ticks

pytest_plugins = ["pytester"]


def instant(date_text: str, time_text: str) -> datetime:
    return datetime.fromisoformat(f"{date_text[:10]}T{time_text}+00:00")


@pytest.fixture(scope="module")
def store() -> Store:
    return Store.generate(SandboxConfig(entries=2000, seed=42))


def test_same_seed_same_data_other_seed_other_data(store: Store) -> None:
    again = Store.generate(SandboxConfig(entries=2000, seed=42))
    assert list(again.entries) == list(store.entries)
    assert again.entries == store.entries
    other = Store.generate(SandboxConfig(entries=2000, seed=43))
    assert not set(other.entries) & set(store.entries)


def test_entries_are_internally_consistent(store: Store) -> None:
    for entry in store.entries.values():
        assert entry["startDateUtc"].endswith("T00:00:00Z")
        assert entry["endDateUtc"].endswith("T00:00:00Z")
        assert not entry["startDateLocal"].endswith("Z")
        assert entry["startDateLocal"].endswith("T00:00:00")
        start = instant(entry["startDateUtc"], entry["startTimeUtc"])
        end = instant(entry["endDateUtc"], entry["endTimeUtc"])
        breaks = entry["breakDuration"] or 0
        assert end - start == timedelta(seconds=entry["duration"] + breaks)
        assert breaks == sum(b["duration"] for b in entry["breaks"])
        zone = ZoneInfo(entry["timezone"])
        for side, moment in (("start", start), ("end", end)):
            local = moment.astimezone(zone)
            assert entry[f"{side}DateLocal"] == local.strftime("%Y-%m-%dT00:00:00")
            assert entry[f"{side}TimeLocal"] == local.strftime("%H:%M:%S")
        for b in entry["breaks"]:
            b_start = datetime.fromisoformat(b["startDate"].replace("Z", "+00:00"))
            b_end = datetime.fromisoformat(b["endDate"].replace("Z", "+00:00"))
            assert start <= b_start < b_end <= end
        updated = datetime.fromisoformat(entry["updatedOn"].replace("Z", "+00:00"))
        assert entry["resourceVersion"] == to_ticks(updated)
        assert entry["createdOn"] <= entry["updatedOn"]
        assert not entry["isBilled"] or entry["isBillable"]
        assert entry["typeOfWork"]["id"] == entry["typeOfWorkId"]
        assert entry["user"]["id"] == entry["userId"]
        if entry["task"] is not None:
            assert entry["taskId"] == entry["task"]["id"]
            if entry["task"]["project"] is not None:
                assert entry["projectId"] == entry["task"]["projectId"]
        if entry["project"] is not None:
            assert entry["project"]["id"] == entry["projectId"]


def test_data_is_varied(store: Store) -> None:
    entries = list(store.entries.values())
    assert any(e["breaks"] for e in entries)
    assert any(e["task"] is None and e["project"] is None for e in entries)
    assert any(e["task"] is None and e["project"] is not None for e in entries)
    assert {e["isBillable"] for e in entries} == {True, False}
    assert {e["isBilled"] for e in entries} == {True, False}
    assert len({e["timezone"] for e in entries}) > 4
    assert any(e["userId"] == store.me_id for e in entries)
    assert store.me_id in store.users
    assert len(store.users) == 25
    assert len(store.projects) == 40
    assert len(store.tasks) == 400
    assert len(store.types_of_work) == 10
    assert any(e["startDateLocal"] != e["startDateUtc"][:-1] for e in entries)


def test_nested_objects_are_shared(store: Store) -> None:
    by_type: dict[str, int] = {}
    for entry in store.entries.values():
        by_type.setdefault(entry["typeOfWorkId"], id(entry["typeOfWork"]))
        assert by_type[entry["typeOfWorkId"]] == id(entry["typeOfWork"])


async def test_hundred_thousand_entries_load_and_serve() -> None:
    async with Sandbox(SandboxConfig(entries=100_000, seed=1)) as sb:
        assert len(sb.store.entries) == 100_000
        async with aiohttp.ClientSession(headers=sb.auth_headers) as http:
            params = {"pageSize": "1000", "page": "100"}
            async with http.get(f"{sb.base_url}/timeentries", params=params) as r:
                body = await r.json()
                assert r.headers["aw-totalitems"] == "100000"
    assert len(body) == 1000
    assert body[-1]["id"] == sb.store.ordered_entries()[-1]["id"]


def test_pytest_plugin_fixtures(pytester: pytest.Pytester, pytestconfig: pytest.Config) -> None:
    pytester.makepyfile(
        """
        import aiohttp
        import pytest

        async def test_default(awork_sandbox):
            assert len(awork_sandbox.store.entries) == 200
            async with aiohttp.ClientSession(headers=awork_sandbox.auth_headers) as s:
                async with s.get(awork_sandbox.base_url + "/me") as r:
                    assert r.status == 200

        @pytest.mark.awork_sandbox(entries=7, seed=3)
        async def test_marker(awork_sandbox):
            assert len(awork_sandbox.store.entries) == 7

        async def test_factory(awork_sandbox_factory):
            one = await awork_sandbox_factory(entries=3)
            two = await awork_sandbox_factory(entries=4, token="t0k")
            assert one.port != two.port
            assert two.token == "t0k"
            assert len(two.store.entries) == 4
        """
    )
    args = ["-p", "asyncio", "-o", "asyncio_mode=auto", "-p", "no:cacheprovider"]
    if not pytestconfig.pluginmanager.has_plugin("awork_sandbox"):
        args += ["-p", "awork_async.sandbox.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3)


def test_timezone_now_default_is_aware() -> None:
    assert SandboxConfig().now().tzinfo is timezone.utc
