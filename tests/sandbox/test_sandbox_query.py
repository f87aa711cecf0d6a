"""The sandbox's cached list queries: same answers as the plain path, dropped on every change."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from _helpers import SandboxClock
from hypothesis import given
from hypothesis import strategies as st

from awork_async.sandbox import Sandbox, SandboxConfig, Store
from awork_async.sandbox._query import KeyRange
from awork_async.sandbox._timeutil import parse_datetime, to_naive_utc
from awork_async.sandbox.filtering import FilterContext, Row, compile_filter
from awork_async.sandbox.ordering import OrderKey, parse_orderby, sort_rows
from awork_async.sandbox.store import ORDER_CACHE_SIZE, RESULT_CACHE_SIZE

NOW = datetime(2025, 7, 10, 12, 0, 0, 250_000, tzinfo=timezone.utc)
TIE = "2025-03-01T10:00:05"


# ------------------------------------------------------------------------ reference path


def _slow_naive_utc(text: str) -> datetime | None:
    """The regex parser only (no fast path, no cache)."""
    value = parse_datetime(text)
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _value(row: Row, path: tuple[str, ...]) -> object:
    cur: object = row
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def reference_sort(rows: Sequence[Row], keys: Sequence[OrderKey]) -> list[Row]:
    """One stable pass per key, last key first; a column of date-time strings by instant."""
    result = list(rows)
    for key in reversed(keys):
        raw = [_value(row, key.path) for row in result]
        dates = all(
            v is None or isinstance(v, (Mapping, list)) or (isinstance(v, str) and bool(d))
            for v, d in ((v, _slow_naive_utc(v) if isinstance(v, str) else None) for v in raw)
        )

        def sort_value(v: object, dates: bool = dates) -> tuple[int, Any]:
            if v is None or isinstance(v, (Mapping, list)):
                return (0, 0)
            if isinstance(v, str):
                return (2, _slow_naive_utc(v) if dates else v.lower())
            if isinstance(v, bool):
                return (1, int(v))
            return (1, v)

        pairs = sorted(
            zip(map(sort_value, raw), result, strict=True),
            key=lambda pair: pair[0],
            reverse=key.descending,
        )
        result = [row for _, row in pairs]
    return result


def reference_query(
    store: Store, rows: Sequence[Row], filterby: str | None, orderby: str | None
) -> list[object]:
    names = store.entry_names
    kept = list(rows)
    if filterby:
        predicate = compile_filter(filterby, FilterContext(store.me_id, store.now(), names))
        kept = [row for row in kept if predicate(row)]
    if orderby:
        kept = reference_sort(kept, parse_orderby(orderby, names))
    return [row["id"] for row in kept]


# --------------------------------------------------------------------------------- data


def _mixed_store() -> Store:
    """A small store whose ``createdOn`` mixes formats, ties, offsets and a null."""
    store = Store.generate(SandboxConfig(entries=400, seed=11, now=lambda: NOW))
    entries = list(store.entries.values())
    formats = [
        f"{TIE}.123Z",
        f"{TIE}Z",
        "2025-03-01T10:00:04.999Z",
        f"{TIE}Z",
        "2025-03-01T11:00:05+01:00",  # the same instant as TIE, written with an offset
        f"{TIE}.000Z",
        f"{TIE}.0000001Z",  # 100 ns: below Python's precision, equal to TIE
        "2025-03-01T10:00:05.5Z",
    ]
    for entry, created in zip(entries[:8], formats, strict=True):
        entry["createdOn"] = created
    entries[8]["createdOn"] = None
    entries[9]["note"] = "2025-01-01T00:00:00Z"  # a date-like note in a text column
    store.touch()
    return store


@pytest.fixture(scope="module")
def store() -> Store:
    return _mixed_store()


def _filters(store: Store) -> list[str | None]:
    created = sorted(
        e["createdOn"] for e in store.entries.values() if str(e["createdOn"]).endswith("0Z")
    )
    x, y = created[len(created) // 3], created[2 * len(created) // 3]
    some_id = sorted(store.entries)[len(store.entries) // 2]
    after_tie = f"{TIE}.000001Z"
    return [
        None,
        "isBillable eq true",
        f"createdOn ge datetime'{x}'",
        f"createdOn gt datetime'{x}'",
        f"createdOn le datetime'{x}'",
        f"createdOn lt datetime'{x}'",
        f"createdOn eq datetime'{TIE}Z'",
        f"createdOn ge datetime'{TIE}Z' and createdOn lt datetime'{after_tie}'",
        f"datetime'{x}' le createdOn",
        f"datetime'{TIE}+01:00' gt createdOn",
        f"(isBillable eq true) and createdOn ge datetime'{x}'",
        f"createdOn ge datetime'{x}' and createdOn gt datetime'{x}' and "
        f"createdOn le datetime'{y}' and createdOn lt datetime'{y}'",
        f"createdOn ge datetime'{y}' and createdOn le datetime'{x}'",
        f"createdOn ge datetime'{x}' or isBillable eq false",
        f"not (createdOn ge datetime'{x}')",
        f"createdOn ne datetime'{TIE}Z'",
        "createdOn ge today-200d and userId eq me.id",
        f"createdOn ge datetime'{x}' and (createdOn lt datetime'{y}' and duration gt 3600)",
        f"CREATEDON ge datetime'{x}'",
        f"createdOn ge '{x}'",
        f"createdOn ge datetime'{x}' and id gt guid'{some_id}'",
        f"updatedOn ge datetime'{x}' and createdOn lt datetime'{y}'",
        "note eq null",
    ]


ORDERS: list[str | None] = [
    None,
    "createdOn,id",
    "createdOn",
    "createdOn desc,id",
    "createdOn,duration desc,id",
    "updatedOn,id",
    "duration desc,id",
    "project/name,id",
    "id",
    "note,id",
    "startDateUtc,startTimeUtc desc,id",
]


# ------------------------------------------------------------------------- equivalence


def test_cached_and_fast_paths_equal_the_reference(store: Store) -> None:
    rows = store.ordered_entries()
    for filterby, orderby in itertools.product(_filters(store), ORDERS):
        want = reference_query(store, rows, filterby, orderby)
        names = store.entry_names
        first = store.query(rows, filterby, orderby, names, cache_key="all")
        again = store.query(rows, filterby, orderby, names, cache_key="all")
        plain = store.query(rows, filterby, orderby, names)
        case = (filterby, orderby)
        assert [r["id"] for r in first] == want, case
        assert [r["id"] for r in again] == want, case
        assert [r["id"] for r in plain] == want, case


def test_date_times_sort_by_instant_not_text(store: Store) -> None:
    head = store.query(store.ordered_entries(), None, "createdOn,id", store.entry_names)
    assert head[0]["createdOn"] is None
    mutated = {str(e["id"]) for e in list(store.entries.values())[:8]}
    late = [r for r in head if r["id"] in mutated]
    ties = sorted(
        str(r["id"])
        for r in late
        if r["createdOn"]
        in (f"{TIE}Z", "2025-03-01T11:00:05+01:00", f"{TIE}.000Z", f"{TIE}.0000001Z")
    )
    assert len(ties) == 5
    assert late[0]["createdOn"] == "2025-03-01T10:00:04.999Z"
    assert [r["id"] for r in late[1:6]] == ties  # equal instants: then by id
    assert [r["createdOn"] for r in late[6:]] == [f"{TIE}.123Z", "2025-03-01T10:00:05.5Z"]
    newest_first = sort_rows(late, parse_orderby("createdOn desc"))
    assert newest_first[0]["createdOn"] == "2025-03-01T10:00:05.5Z"
    assert newest_first[-1]["createdOn"] == "2025-03-01T10:00:04.999Z"


def test_text_columns_stay_text_ordered() -> None:
    rows: list[Row] = [
        {"id": "1", "t": "b"},
        {"id": "2", "t": "2025-01-01T00:00:00Z"},
        {"id": "3", "t": "A"},
        {"id": "4", "t": None},
        {"id": "5", "t": 7},
    ]
    assert [r["id"] for r in sort_rows(rows, parse_orderby("t"))] == ["4", "5", "2", "3", "1"]
    assert [r["id"] for r in sort_rows(rows, parse_orderby("t desc"))] == [
        "1",
        "3",
        "2",
        "5",
        "4",
    ]


def test_key_range_narrowing() -> None:
    a, b = datetime(2025, 1, 1), datetime(2025, 1, 2)
    r = KeyRange().narrow("ge", a).narrow("gt", a).narrow("lt", b).narrow("le", b)
    assert r == KeyRange(a, False, b, False)
    assert KeyRange().narrow("eq", a) == KeyRange(a, True, a, True)
    assert KeyRange().narrow("gt", a).narrow("ge", b) == KeyRange(b, True, None, True)


_DIGIT = st.sampled_from("0123456789")
_NOISE = st.sampled_from("0123456789-:.TZz +٣x")


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 23), _NOISE), max_size=2),
)
def test_fast_date_time_parse_matches_the_regex_parser(
    moment: datetime, millis: bool, edits: list[tuple[int, str]]
) -> None:
    text = moment.isoformat(timespec="milliseconds" if millis else "seconds") + "Z"
    chars = list(text)
    for position, char in edits:
        chars[min(position, len(chars) - 1)] = char
    text = "".join(chars)
    assert to_naive_utc(text) == _slow_naive_utc(text)


# -------------------------------------------------------------------------- invalidation


def test_results_are_cached_until_a_change() -> None:
    store = _mixed_store()
    rows = store.ordered_entries()
    names = store.entry_names
    window = "isBillable eq true"
    first = store.query(rows, window, "createdOn,id", names, cache_key="all")
    assert store.query(rows, window, "createdOn,id", names, cache_key="all") is first
    version = store.version
    victim = first[0]
    store.remove_entry(str(victim["id"]))
    assert store.version == version + 1
    after = store.query(store.ordered_entries(), window, "createdOn,id", names, cache_key="all")
    assert after is not first
    assert victim not in after
    assert len(after) == len(first) - 1


def test_cache_sizes_are_bounded() -> None:
    store = _mixed_store()
    rows = store.ordered_entries()
    for orderby in ORDERS[1:]:
        for filterby in ("isBillable eq true", "duration gt 3600", "note ne null"):
            store.query(rows, filterby, orderby, store.entry_names, cache_key="all")
    assert len(store._orders) == ORDER_CACHE_SIZE
    assert len(store._results) == RESULT_CACHE_SIZE


def test_store_inserts_and_deletes_show_in_ranges() -> None:
    store = _mixed_store()
    names = store.entry_names
    newest = max(to_naive_utc(str(e["createdOn"])) or datetime.min for e in store.entries.values())
    window = f"createdOn ge datetime'{newest.isoformat()}Z'"

    def ids() -> list[str]:
        got = store.query(store.ordered_entries(), window, "createdOn,id", names, cache_key="all")
        return [str(r["id"]) for r in got]

    before = ids()
    added = store.insert_entries(3, position="last")
    for entry_id in added:
        store.entries[entry_id]["createdOn"] = (newest + timedelta(seconds=1)).isoformat() + "Z"
    store.touch()
    assert ids() == before + sorted(added)
    store.remove_entry(added[0])
    assert ids() == before + sorted(added[1:])


@pytest.fixture
def clock() -> SandboxClock:
    """The HTTP tests' sandbox clock starts at ``NOW`` (sub-millisecond, to test rounding)."""
    return SandboxClock(NOW)


async def _window(http: aiohttp.ClientSession, sb: Sandbox, filterby: str) -> tuple[int, list[str]]:
    params = {"filterby": filterby, "orderby": "createdOn,id", "page": "1", "pageSize": "1000"}
    async with http.get(f"{sb.base_url}/timeentries", params=params) as r:
        assert r.status == 200
        body = await r.json()
        return int(r.headers["aw-totalitems"]), [e["id"] for e in body]


@pytest.mark.awork_sandbox(entries=80, seed=5)
@pytest.mark.sandbox_clock
async def test_http_writes_show_in_keyset_windows(sb: Sandbox, clock: SandboxClock) -> None:
    store = sb.store
    rows = sorted(store.entries.values(), key=lambda e: (e["createdOn"], e["id"]))
    middle = rows[len(rows) // 2]["createdOn"]
    window = f"createdOn ge datetime'{middle}'"
    billable = f"(isBillable eq true) and {window}"
    tow = next(t["id"] for t in store.types_of_work.values() if not t["isArchived"])
    async with aiohttp.ClientSession(headers=sb.auth_headers) as http:
        total, ids = await _window(http, sb, window)
        assert ids == [e["id"] for e in rows[len(rows) // 2 :]]
        assert total == len(ids)
        _, billed_before = await _window(http, sb, billable)

        form = {
            "typeOfWorkId": tow,
            "timezone": "UTC",
            "userId": store.me_id,
            "isBillable": True,
            "startDateUtc": "2025-06-01T00:00:00Z",
            "startTimeUtc": "08:00:00",
            "duration": 600,
        }
        clock.now = NOW + timedelta(microseconds=1000)
        async with http.post(f"{sb.base_url}/timeentries", json=form) as r:
            created = await r.json()
        assert created["createdOn"] == "2025-07-10T12:00:00.251Z"
        total, ids = await _window(http, sb, window)
        assert (total, ids[-1]) == (len(rows) - len(rows) // 2 + 1, created["id"])
        assert (await _window(http, sb, billable))[1] == [*billed_before, created["id"]]

        target = billed_before[0]
        async with http.put(
            f"{sb.base_url}/timeentries/{target}",
            json={
                "typeOfWorkId": store.entries[target]["typeOfWorkId"],
                "timezone": store.entries[target]["timezone"],
                "isBillable": False,
                "isBilled": False,
            },
        ) as r:
            assert r.status == 200
        assert target not in (await _window(http, sb, billable))[1]

        async with http.post(
            f"{sb.base_url}/timeentries/batch/setIsBillable",
            json={"timeEntryIds": [target], "isBillable": True},
        ) as r:
            assert r.status == 207
        assert target in (await _window(http, sb, billable))[1]

        async with http.delete(f"{sb.base_url}/timeentries/{created['id']}") as r:
            assert r.status == 204
        total, ids = await _window(http, sb, window)
        assert created["id"] not in ids
        assert total == len(rows) - len(rows) // 2


@pytest.mark.awork_sandbox(entries=80, seed=5)
@pytest.mark.sandbox_clock
async def test_http_orders_fraction_less_date_times_first(sb: Sandbox) -> None:
    entries = list(sb.store.entries.values())[:3]
    for entry, created in zip(
        entries, [f"{TIE}.123Z", f"{TIE}Z", "2025-03-01T10:00:04.999Z"], strict=True
    ):
        entry["createdOn"] = created
    sb.store.touch()
    window = "createdOn ge datetime'2025-03-01T10:00:00Z' and createdOn lt datetime'2025-03-02'"
    async with aiohttp.ClientSession(headers=sb.auth_headers) as http:
        _, ids = await _window(http, sb, window)
    assert ids[:3] == [entries[2]["id"], entries[1]["id"], entries[0]["id"]]
