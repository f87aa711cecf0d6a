"""The sandbox's generated data ends near "now" (deterministic for a seed and a "now")."""

from __future__ import annotations

import datetime as dt

from awork_async.sandbox import SandboxConfig, Store

NOW = dt.datetime(2031, 3, 15, 12, 0, tzinfo=dt.timezone.utc)


def _days(store: Store) -> list[str]:
    return sorted(e["startDateUtc"][:10] for e in store.entries.values())


def test_data_spans_the_year_before_now_and_lies_in_the_past() -> None:
    store = Store.generate(SandboxConfig(entries=3000, seed=4, now=lambda: NOW))
    days = _days(store)
    assert "2031-03-08" <= days[-1] <= "2031-03-13"  # ends a few days before "now"
    assert "2030-03-10" <= days[0] <= "2030-03-20"  # and spans a year
    stamp = NOW.isoformat().replace("+00:00", "Z")
    for entry in store.entries.values():
        assert entry["createdOn"] < stamp
        assert entry["updatedOn"] < stamp
        assert entry["endDateUtc"] is None or entry["endDateUtc"] < stamp


def test_same_seed_and_now_give_the_same_data() -> None:
    first = Store.generate(SandboxConfig(entries=200, seed=9, now=lambda: NOW))
    again = Store.generate(SandboxConfig(entries=200, seed=9, now=lambda: NOW))
    assert first.entries == again.entries
    later = Store.generate(
        SandboxConfig(entries=200, seed=9, now=lambda: NOW + dt.timedelta(days=40))
    )
    assert _days(later)[-1] > _days(first)[-1]


def test_a_fixed_anchor_wins_over_now() -> None:
    anchor = dt.date(2025, 6, 30)
    store = Store.generate(SandboxConfig(entries=500, seed=1, anchor=anchor, now=lambda: NOW))
    assert store.anchor == anchor
    assert _days(store)[-1] <= "2025-07-01"
    fixed = Store.generate(SandboxConfig(entries=500, seed=1, anchor=anchor))
    assert fixed.entries == store.entries


def test_default_data_ends_near_today() -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    days = _days(Store.generate(SandboxConfig(entries=2000, seed=2)))
    assert (today - dt.date.fromisoformat(days[-1])).days <= 5
