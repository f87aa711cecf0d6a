"""The sandbox's in-memory data and every mutation on it (no HTTP here)."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, TypeAlias, TypeVar

import attrs

from . import _constants as S
from ._entries import Entry, entry_start
from ._generate import EntryFactory, Workspace, generate_workspace, new_uuid
from ._query import filter_sorted, plan_filter
from .config import SandboxConfig
from .errors import invalid_filter
from .filtering import (
    FilterContext,
    FilterSyntaxError,
    Node,
    Row,
    collect_names,
    compile_filter,
    parse_filter,
    uses_clock,
)
from .ordering import OrderKey, SortedRows, order_rows, parse_orderby

__all__ = ["Change", "Collection", "Position", "Store", "Write"]

#: The record collections :meth:`Store.apply` writes.
Collection: TypeAlias = Literal["entries", "time_bookings", "types_of_work", "tasks"]

#: Where :meth:`Store.insert_entries` / :meth:`Store.delete_entries` act in the default order.
Position = Literal["random", "first", "last"]

ORDER_CACHE_SIZE: Final = S.SANDBOX_ORDER_CACHE_SIZE
RESULT_CACHE_SIZE: Final = S.SANDBOX_RESULT_CACHE_SIZE

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def _remember(cache: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> _V:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def _recall(cache: OrderedDict[_K, _V], key: _K) -> _V | None:
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _default_key(entry: Row) -> tuple[str, str, str]:
    return (
        str(entry.get("startDateUtc") or ""),
        str(entry.get("startTimeUtc") or ""),
        str(entry["id"]),
    )


@attrs.frozen
class Write:
    """One record to store: ``record`` replaces the record ``id`` of ``collection`` (or adds
    it); ``record=None`` deletes it. Build ``record`` as a new dict (never edit the stored one),
    so a failure before :meth:`Store.apply` leaves the store as it was."""

    collection: Collection
    id: str
    record: dict[str, Any] | None


@attrs.frozen
class Change:
    """One record written by :meth:`Store.apply`: ``old`` is ``None`` when it was added,
    ``new`` is ``None`` when it was deleted (both are snapshots, safe to keep)."""

    collection: Collection
    id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def action(self) -> Literal["added", "updated", "deleted"]:
        """``added``, ``updated`` or ``deleted``."""
        if self.old is None:
            return "added"
        return "deleted" if self.new is None else "updated"


def _is_running(entry: Entry) -> bool:
    return entry["endDateUtc"] is None and entry["startTimeUtc"] is not None


class Store:
    """All generated data plus the indexes the routes need.

    ``entries`` maps id -> ``TimeTracking`` dict. The default list order is by UTC start, then
    id. Mutate entries only through the methods here (or call :meth:`touch` afterwards) so the
    cached orders and filter results are dropped.

    Every write goes through :meth:`apply`: a route validates the whole request, builds the new
    records, then applies them in one step (all of them or, when validation fails, none).
    Callables in ``listeners`` see each applied batch of :class:`Change` (webhooks hook there).

    Lists are answered from caches that every change drops (:meth:`touch` bumps ``version``):
    the sorted rows per list and ``orderby`` (:data:`ORDER_CACHE_SIZE` kept) and the filtered
    rows per list, filter and ``orderby`` (:data:`RESULT_CACHE_SIZE` kept). A comparison of the
    leading ascending date-time sort key (``createdOn ge …`` with ``orderby=createdOn,id``) is
    answered by binary search in them, so each keyset window of an export costs a page, not a
    sort of the whole list.
    """

    def __init__(
        self,
        ws: Workspace,
        factory: EntryFactory,
        *,
        seed: int,
        now: Callable[[], datetime],
        anchor: date,
        days: int,
    ) -> None:
        self.ws = ws
        self.anchor = anchor
        self.days = days
        self.factory = factory
        self.rng = random.Random(seed ^ 0x5A5A5A5A)
        self.now = now
        self.version = 0
        self._ordered: list[Entry] | None = None
        self._orders: OrderedDict[tuple[str, tuple[OrderKey, ...]], SortedRows] = OrderedDict()
        self._results: OrderedDict[tuple[str, Node, tuple[OrderKey, ...]], SortedRows] = (
            OrderedDict()
        )
        #: user id -> id of that user's running (or paused) entry.
        self.running: dict[str, str] = {}
        #: Called with the changes of every :meth:`apply`, after they are in place.
        self.listeners: list[Callable[[Sequence[Change]], None]] = []
        sample_break = {"startDate": "", "endDate": "", "duration": 0}
        self.entry_names = collect_names(
            [
                *list(ws.entries.values())[:50],
                *ws.tasks.values(),
                *ws.nested_users.values(),
                *ws.nested_types.values(),
                sample_break,
            ]
        )
        self.booking_names = collect_names([*ws.time_bookings.values()]) or {"id": "id"}
        self.type_names = collect_names([*ws.types_of_work.values()])
        for entry in ws.entries.values():
            if (
                entry["endDateUtc"] is None
                and entry["startTimeUtc"] is not None
                and entry["userId"]
            ):
                self.running[entry["userId"]] = entry["id"]

    @classmethod
    def generate(cls, config: SandboxConfig) -> Store:
        """Build the data described by ``config`` (deterministic for a given seed)."""
        anchor = config.anchor_date()
        ws, factory = generate_workspace(
            seed=config.seed,
            entries=config.entries,
            users=config.users,
            projects=config.projects,
            tasks=config.tasks,
            types_of_work=config.types_of_work,
            time_bookings=config.time_bookings,
            anchor=anchor,
            days=config.days,
        )
        return cls(ws, factory, seed=config.seed, now=config.now, anchor=anchor, days=config.days)

    # ---------------------------------------------------------------- shortcuts to collections

    @property
    def me_id(self) -> str:
        """Id of the token's user ("me")."""
        return self.ws.me_id

    @property
    def entries(self) -> dict[str, Entry]:
        """Time entries by id."""
        return self.ws.entries

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        """Users by id (full records)."""
        return self.ws.users

    @property
    def projects(self) -> dict[str, dict[str, Any]]:
        """Projects by id (``ProjectModelForTimeTrackings``)."""
        return self.ws.projects

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Tasks by id (``TaskModelForTimeTrackings``)."""
        return self.ws.tasks

    @property
    def types_of_work(self) -> dict[str, dict[str, Any]]:
        """Types of work by id (full ``TypeOfWork``)."""
        return self.ws.types_of_work

    @property
    def time_bookings(self) -> dict[str, dict[str, Any]]:
        """Time bookings by id."""
        return self.ws.time_bookings

    def new_id(self) -> str:
        """A fresh random (but reproducible) uuid."""
        return new_uuid(self.rng)

    def touch(self) -> None:
        """Record a change: drops cached orders and query results."""
        self.version += 1
        self._ordered = None
        self._orders.clear()
        self._results.clear()

    # ----------------------------------------------------------------------------- queries

    def ordered_entries(self) -> list[Entry]:
        """Entries in the default order (UTC start, then id); cached until the next change."""
        if self._ordered is None:
            self._ordered = sorted(self.ws.entries.values(), key=_default_key)
        return self._ordered

    def filter_context(self) -> FilterContext:
        """Context for filters over entries."""
        return FilterContext(me_id=self.me_id, now=self.now(), names=self.entry_names)

    def query(
        self,
        rows: Sequence[Row],
        filterby: str | None,
        orderby: str | None,
        names: Mapping[str, str],
        *,
        cache_key: str | None = None,
    ) -> list[Row]:
        """Filter and order ``rows``; bad syntax raises a 400 ``invalid-filter-or-order``.

        With ``cache_key`` (naming the list ``rows`` is, which must be the same until the next
        :meth:`touch`) the sorted order and the filtered rows are kept until the next change
        (filtered rows not for filters using the clock tokens, whose meaning changes with time).
        """
        try:
            keys: tuple[OrderKey, ...] = ()
            if not filterby:
                if orderby:
                    keys = tuple(parse_orderby(orderby, names))
                return self._sorted(rows, keys, cache_key).rows
            ctx = FilterContext(me_id=self.me_id, now=self.now(), names=names)
            node = parse_filter(filterby)
            predicate = compile_filter(node, ctx)
            if orderby:
                keys = tuple(parse_orderby(orderby, names))
        except FilterSyntaxError as exc:
            raise invalid_filter(str(exc)) from None
        view = self._sorted(rows, keys, cache_key)
        lead = keys[0].path if view.lead is not None else None
        plan = plan_filter(node, lead, ctx)
        if plan.rest is not None:
            if plan.rest is not node:
                predicate = compile_filter(plan.rest, ctx)
            view = self._filtered(view, plan.rest, predicate, keys, cache_key)
        if plan.key_range is not None and view.lead is not None:
            return plan.key_range.select(view.rows, view.lead)
        return view.rows

    def _sorted(
        self, rows: Sequence[Row], keys: tuple[OrderKey, ...], cache_key: str | None
    ) -> SortedRows:
        if cache_key is None:
            return order_rows(rows, keys)
        found = _recall(self._orders, (cache_key, keys))
        if found is not None:
            return found
        return _remember(self._orders, (cache_key, keys), order_rows(rows, keys), ORDER_CACHE_SIZE)

    def _filtered(
        self,
        view: SortedRows,
        rest: Node,
        predicate: Callable[[Row], bool],
        keys: tuple[OrderKey, ...],
        cache_key: str | None,
    ) -> SortedRows:
        if cache_key is None or uses_clock(rest):
            return filter_sorted(view, predicate)
        key = (cache_key, rest, keys)
        found = _recall(self._results, key)
        if found is not None:
            return found
        return _remember(self._results, key, filter_sorted(view, predicate), RESULT_CACHE_SIZE)

    def last_entry(self, user_id: str) -> Entry | None:
        """The user's most recently started entry, ignoring entries that start in the future."""
        now = self.now()
        best: Entry | None = None
        best_start: datetime | None = None
        for entry in self.ws.entries.values():
            if entry["userId"] != user_id:
                continue
            start = entry_start(entry)
            if start is None or start > now:
                continue
            if best_start is None or start > best_start:
                best, best_start = entry, start
        return best

    # --------------------------------------------------------------------------- mutations

    def apply(self, writes: Iterable[Write]) -> list[Change]:
        """Store validated records, all in one step; return what changed.

        The only place that changes records (besides the legacy :meth:`touch` contract). Entries
        are replaced whole (the running-timer index follows them). Tasks and the nested type of
        work are updated in place, since entries share them: every entry shows the change at once.
        Deleting an unknown id is a no-op.
        """
        changes: list[Change] = []
        for write in writes:
            change = self._write(write)
            if change is not None:
                changes.append(change)
        if changes:
            self.touch()
            for listener in list(self.listeners):
                listener(changes)
        return changes

    def _write(self, write: Write) -> Change | None:
        table: dict[str, dict[str, Any]] = getattr(self.ws, write.collection)
        key, new = write.id, write.record
        current = table.get(key)
        old = None if current is None else dict(current)
        if new is None:
            if current is None:
                return None
            del table[key]
        elif write.collection == "tasks" and current is not None:
            current.clear()
            current.update(new)
        else:
            table[key] = new
        if write.collection == "entries":
            self._index_running(key, new)
        elif write.collection == "types_of_work":
            self._sync_nested_type(key, new)
        return Change(write.collection, key, old, None if new is None else dict(new))

    def _index_running(self, entry_id: str, entry: Entry | None) -> None:
        for user_id in [u for u, e in self.running.items() if e == entry_id]:
            del self.running[user_id]
        if entry is not None and entry["userId"] and _is_running(entry):
            self.running[entry["userId"]] = entry_id

    def _sync_nested_type(self, type_id: str, full: dict[str, Any] | None) -> None:
        nested = self.ws.nested_types
        if full is None:
            nested.pop(type_id, None)
            for ids in self.ws.project_types_of_work.values():
                if type_id in ids:
                    ids.remove(type_id)
            return
        fields = {k: full[k] for k in ("name", "icon", "isArchived")}
        if type_id in nested:
            nested[type_id].update(fields)
        else:
            nested[type_id] = {"id": type_id, **fields}

    def add_entry(self, entry: Entry) -> None:
        """Insert (or replace) an entry."""
        self.apply([Write("entries", entry["id"], entry)])

    def remove_entry(self, entry_id: str) -> Entry | None:
        """Delete an entry; return it, or ``None`` when it did not exist."""
        entry = self.ws.entries.get(entry_id)
        if entry is not None:
            self.apply([Write("entries", entry_id, None)])
        return entry

    def insert_entries(self, count: int, *, position: Position = "random") -> list[str]:
        """Create ``count`` new finished entries (e.g. while a client pages); return their ids.

        ``first`` puts them before every existing entry in the default order, ``last`` after
        all of them, ``random`` anywhere in the generated date range.
        """
        ordered = self.ordered_entries()
        first_day, last_day = self.anchor - timedelta(days=self.days - 1), self.anchor
        if ordered:
            first_day = min(first_day, date.fromisoformat(ordered[0]["startDateUtc"][:10]))
            last_day = max(last_day, date.fromisoformat(ordered[-1]["startDateUtc"][:10]))
        ids: list[str] = []
        writes: list[Write] = []
        for _ in range(count):
            if position == "first":
                day = first_day - timedelta(days=2)
            elif position == "last":
                day = last_day + timedelta(days=2)
            else:
                day = first_day + timedelta(
                    days=self.rng.randrange((last_day - first_day).days + 1)
                )
            entry = self.factory.make(day, self.new_id())
            writes.append(Write("entries", entry["id"], entry))
            ids.append(entry["id"])
        self.apply(writes)
        return ids

    def delete_entries(self, count: int, *, position: Position = "random") -> list[str]:
        """Delete ``count`` entries (from the start, the end or anywhere of the default order)."""
        ordered = self.ordered_entries()
        count = min(count, len(ordered))
        if position == "first":
            victims = ordered[:count]
        elif position == "last":
            victims = ordered[len(ordered) - count :]
        else:
            victims = self.rng.sample(ordered, count)
        ids = [v["id"] for v in victims]
        self.apply([Write("entries", entry_id, None) for entry_id in ids])
        return ids
