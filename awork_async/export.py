"""Consistent bulk export of time entries: keyset windows, resumable checkpoints, JSONL and CSV.

Offset pages (``page=1,2,3…``) drift when entries are created or deleted while a long export
runs: a deletion before the current page shifts every later entry one place forward, so one is
skipped; an insertion repeats one (API notes §2). This module walks **keyset windows** instead:

* a stable order, ``orderby=createdOn,id``;
* each request asks for page 1 of the window ``createdOn ge <last delivered createdOn>``
  (combined with the caller's filter by ``and``), in full pages of up to 1000 entries;
* the window bound is *inclusive*, so entries sharing the boundary timestamp are re-read; the ids
  already delivered at that timestamp are skipped. An inclusive bound also survives the precision
  gap between the server (100 ns ticks) and Python (microseconds): a truncated timestamp is never
  above the stored one;
* when a whole page shares one timestamp (a bulk import can create thousands of entries in one
  instant), the walk switches to that *tie group*: ``createdOn ge X and createdOn lt X+1µs and
  id gt guid'<last id>'`` ordered by ``id``, then carries on after the group. Ids are only ever
  compared by the server, so its own ``guid`` ordering is used consistently.

Guarantee: every entry that exists for the whole export (and matches the filter) is delivered
exactly once, whatever is inserted or deleted meanwhile. Entries created during the export are
delivered when they land ahead of the cursor (new entries normally do: their ``createdOn`` is
"now") and are not required otherwise; deleted entries may or may not appear.

:func:`iter_time_entries_consistent` streams entries with a resumable :class:`ExportCheckpoint`;
:func:`export_time_entries` writes JSONL or CSV to a path (replaced only when the export
succeeded) or an open binary file, persisting checkpoints atomically so that ``resume=True``
continues a crashed export byte-identically.

**Pages stay JSON.** An answer is split into each entry's JSON (``expect="raw-array"``, msgspec),
and the walk reads only what it needs of each entry (id, key, ``resourceVersion``) with a msgspec
struct; no dict and no cursor is built per entry. The JSONL export writes the entries as they
came; CSV, models and ``raw=True`` dicts are decoded once, at consumption, a page at a time.

**Concurrency.** Each window depends on the previous page, so one walk requests its windows one
after another. To have ``concurrency`` requests in flight, the ``createdOn`` range is cut into
partitions walked at the same time: after the first window, at offset quantiles of its range
(many small partitions started lazily in key order, each offset page read when the partition
before starts and serving as its own first window), then adaptively where
``aw-totalitems`` shows the entries are (:mod:`awork_async._partitions`: about the requests of a
sequential walk).
The entries still come in ``createdOn,id`` order, so files and checkpoints are the same whatever
the concurrency. **Order and memory:** pages of partitions ahead of the one being delivered
wait in memory up to ``min(concurrency, 8)`` pages, then in a temporary file (each entry's
JSON as received, length-prefixed; deleted as read): strict order and flat memory (about
twice that many pages) without slowing the partitions ahead, at the cost of disk space for
what they read ahead (at worst the rest of the export). Making them wait instead would keep the
disk untouched but make the walk as slow as one partition whenever partitions are large (see
``benchmarks/bench_export.py``).

``export_time_entries(orderby=...)`` is the **ordered** mode for callers who need the file in
their own order (e.g. ``duration desc,id``): plain offset pages through
``client.time_entries.list``, several requested ahead. It gives up the guarantee above: entries
created, deleted or re-sorted during the export may be skipped or repeated. Its checkpoints are
taken at page boundaries (the next page number and the output's size), so a resume still never
duplicates a line; a checkpoint of one mode (or order) is never resumed by the other.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import operator
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Final,
    Literal,
    TypeAlias,
    TypeVar,
    cast,
    overload,
)
from uuid import UUID

import attrs
import orjson

from . import _constants as C
from ._checkpoint import (
    ExportCheckpoint,
    FrontierPartition,
    check_resumable,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from ._client import requester_of
from ._exceptions import APIResponseValidationError
from ._export_formats import (
    CSV_COLUMNS,
    CSV_TEXT_COLUMNS,
    _CsvEncoder,
    entry_to_json_line,
    entry_to_row,
    neutralise_csv_cell,
)
from ._files import (
    create_temp_beside,
    discard_temp,
    replace_with,
    write_atomic,
)
from ._json_pages import (
    _dump_page,
    _fast_keys,
    _JsonPage,
    _load_page,
    _page_entries,
    _to_entry,
)
from ._keyset import KeysetCursor, Row, _leave_group, _row_key, window_query
from ._pages import Lane, LaneContext, PageEngine, validate_concurrency
from ._paginator import validate_page_size
from ._partitions import Partition, SplitPlanner, offset_plan, partition_count
from ._response import RawResponse, capture_responses
from ._spool import (
    SpoolError,
    _LaneSpool,
    _open_spool,
    _PageSpool,
    _spool_path,
    _Standing,
)
from .filters import OrderBy, to_filter_string, to_order_string
from .models import TimeEntry

if TYPE_CHECKING:
    from ._client import AworkClient
    from ._validation import FilterLike

__all__ = [
    "CSV_COLUMNS",
    "CSV_TEXT_COLUMNS",
    "DEFAULT_ORDERED_PREFETCH",
    "ExportCheckpoint",
    "ExportFormat",
    "ExportSummary",
    "FrontierPartition",
    "KeysetCursor",
    "KeysetWalk",
    "SpoolError",
    "check_resumable",
    "entry_to_json_line",
    "entry_to_row",
    "export_time_entries",
    "iter_time_entries_consistent",
    "load_checkpoint",
    "neutralise_csv_cell",
    "read_checkpoint",
    "save_checkpoint",
    "window_query",
    "write_atomic",
    "write_checkpoint",
]

T_ = TypeVar("T_")
#: The file formats of :func:`export_time_entries`.
ExportFormat: TypeAlias = Literal["jsonl", "csv"]

_FORMATS: Final = frozenset({"jsonl", "csv"})
#: Entries written between two checkpoints of :func:`export_time_entries`.
DEFAULT_CHECKPOINT_EVERY: Final = C.DEFAULT_EXPORT_CHECKPOINT_EVERY
#: Sort key of the export windows.
EXPORT_KEY_FIELD: Final = C.EXPORT_KEY_FIELD
DEFAULT_ORDERED_PREFETCH: Final = C.DEFAULT_ORDERED_PREFETCH

# --------------------------------------------------------------------- pages of a keyset walk


@attrs.frozen
class _Read:
    """A page's entries with what the walk read of them (checked)."""

    entries: list[bytes]
    keys: list[datetime]
    ids: list[UUID]
    versions: list[int | None] | None
    raw: RawResponse

    def tail(self, start: int) -> _Read:
        """The entries from ``start`` on."""
        versions = None if self.versions is None else self.versions[start:]
        return _Read(self.entries[start:], self.keys[start:], self.ids[start:], versions, self.raw)


async def _all(calls: Sequence[Awaitable[T_]]) -> list[T_]:
    """Await ``calls`` at once; when one fails the others are cancelled (and awaited)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Starts:
    """The partition starts of a walk's offset plan, read lazily in key order (shared by lanes).

    Plan entry ``j`` (1-based) is an offset page of the window after ``cursor``; it starts a
    partition at the first key of the page greater than the page's first key, provided that
    key lies after the previous start (changes meanwhile may have moved it behind); else, or
    when the page is empty or one tie group, entry ``j`` starts nothing. Each page is read
    once, when the lane of the partition before it starts (that partition needs its upper
    bound), and is its own partition's first window.
    """

    def __init__(self, walk: KeysetWalk, cursor: KeysetCursor, plan: list[tuple[int, int]]):
        self._walk = walk
        self._cursor = cursor
        self._plan = plan
        self._fetches: dict[int, asyncio.Task[tuple[list[bytes], RawResponse]]] = {}
        self._resolved: dict[int, asyncio.Task[tuple[datetime | None, datetime | None]]] = {}
        # The first window of each start read and not yet taken by its lane (popped by
        # ``start``: an offset page is held only until its lane takes it, so memory stays
        # bounded by the lanes, not by the number of partitions).
        self._firsts: dict[int, _Read] = {}

    def _fetch(self, index: int) -> asyncio.Task[tuple[list[bytes], RawResponse]]:
        task = self._fetches.get(index)
        if task is None:
            page, size = self._plan[index - 1]
            task = asyncio.ensure_future(self._walk._fetch_offset(self._cursor, page, size))
            self._fetches[index] = task
        return task

    def _resolve(self, index: int) -> asyncio.Task[tuple[datetime | None, datetime | None]]:
        task = self._resolved.get(index)
        if task is None:
            self._fetch(index)
            task = asyncio.ensure_future(self._read(index))
            self._resolved[index] = task
        return task

    async def _read(self, index: int) -> tuple[datetime | None, datetime | None]:
        """``(the last start up to index, the start of index or None)``; the start's first
        window waits in ``_firsts`` for its lane."""
        entries, raw = await asyncio.shield(self._fetch(index))
        del self._fetches[index]  # done; what is kept of it is in _firsts
        floor: datetime | None = None
        if index > 1:
            floor, _ = await asyncio.shield(self._resolve(index - 1))
        if not entries:
            return floor, None
        read = self._walk._read_checked(self._cursor, entries, raw)
        skip = bisect.bisect_right(read.keys, read.keys[0])
        if skip == len(read.keys):
            return floor, None  # one tie group: no bound here
        low = read.keys[skip]
        if floor is not None and low <= floor:
            return floor, None  # changes meanwhile put it behind the previous start
        self._firsts[index] = read.tail(skip)
        return low, low

    def read_ahead(self, index: int) -> None:
        """Request the offset page of plan entry ``index`` now (if there is one and it was not
        requested yet)."""
        if index <= len(self._plan) and index not in self._resolved:
            self._fetch(index)

    async def start(self, index: int) -> tuple[datetime, _Read] | None:
        """The start of plan entry ``index`` and its first window (``None``: no partition);
        for its lane, once."""
        _, low = await asyncio.shield(self._resolve(index))
        if low is None:
            return None
        return low, self._firsts.pop(index)

    async def bound_after(self, index: int) -> datetime | None:
        """The upper bound of the partition of entry ``index``: the next start (``None``: open)."""
        for following in range(index + 1, len(self._plan) + 1):
            _, low = await asyncio.shield(self._resolve(following))
            if low is not None:
                return low
        return None

    async def aclose(self) -> None:
        """Cancel the reads still under way and wait for them (their errors were raised to the
        lanes that needed them, or nobody needs them any more)."""
        tasks = [*self._resolved.values(), *self._fetches.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._firsts.clear()


class KeysetWalk:
    """Walks ``GET /timeentries`` in keyset windows ordered by ``field``, then id.

    Iterate :meth:`rows` for ``(raw entry, cursor after it)``. Each entry present for the
    whole walk comes exactly once (see the module docstring). ``pages`` counts the requests
    made; ``total_estimate`` is ``aw-totalitems`` of the first window (``None`` until known).
    ``prefetch`` is the number of windows requested ahead of the caller, as everywhere in the
    package (``0``: each window only when the caller asks for more; ``True``/``False`` are
    still accepted as 1/0).

    Raises :class:`APIResponseValidationError` when the server answers out of order (an entry
    before the window or a decreasing key), since the guarantee would not hold.
    """

    def __init__(
        self,
        client: AworkClient,
        *,
        field: str,
        filterby: FilterLike = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        cursor: KeysetCursor | None = None,
        path: str = "/timeentries",
        prefetch: int = 1,
        concurrency: int = C.DEFAULT_CONCURRENCY,
        partitions: Sequence[datetime] = (),
        spool: _PageSpool | None = None,
        frontier: Sequence[FrontierPartition] = (),
    ) -> None:
        if isinstance(prefetch, bool):  # older callers passed a flag
            prefetch = int(prefetch)
        if not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"prefetch must be an int >= 0, got {prefetch!r}")
        self.concurrency = validate_concurrency(concurrency)
        self._requester = requester_of(client)
        self.field = field
        self.filterby = to_filter_string(filterby)
        self.page_size = validate_page_size(page_size)
        self.start = cursor if cursor is not None else KeysetCursor()
        self.path = path
        self.prefetch = prefetch
        self.pages = 0
        self.total_estimate: int | None = None
        self._planner = SplitPlanner(page_size=self.page_size)
        self._partitions: list[Partition] = []
        self._contexts: dict[int, LaneContext[_JsonPage]] = {}
        self._engine: PageEngine[_JsonPage] | None = None
        self._splitting = False
        key = self.start.key
        #: The cuts between partitions (sorted): those ahead of the cursor form the frontier.
        self._cuts = sorted({cut for cut in partitions if key is None or cut > key})
        #: Whether the first window has been seen (the partitions are planned after it).
        self._planned = bool(self._cuts)
        self._frontier: tuple[int, int, tuple[datetime, ...]] = (0, 0, ())
        #: A checkpointed walk: pages of partitions ahead go to this durable spool, and each
        #: partition's standing is kept (by lower bound) for :meth:`frontier_at`.
        self._spool = spool
        self._standings: dict[datetime, _Standing] = {}
        #: A version-4 checkpoint's frontier to continue (the partition being written first).
        self._resumed = tuple(frontier)
        #: The partitions planned from offset quantiles, started lazily (after the first window).
        self._starts: _Starts | None = None

    def cuts_after(self, key: datetime | None) -> tuple[datetime, ...]:
        """The cuts after ``key``: the partitions not delivered yet when ``key`` was reached."""
        index = 0 if key is None else bisect.bisect_right(self._cuts, key)
        cached_index, cached_len, cached = self._frontier
        if (cached_index, cached_len) != (index, len(self._cuts)) or not cached:
            cached = tuple(self._cuts[index:])
            self._frontier = (index, len(self._cuts), cached)
        return cached

    @property
    def partitions(self) -> int:
        """Partitions walked so far (1 + the splits)."""
        return len(self._partitions)

    async def _fetch(
        self, cursor: KeysetCursor, upper: datetime | None = None
    ) -> tuple[list[bytes], int | None, RawResponse]:
        filterby, orderby = window_query(self.field, cursor, self.filterby, upper)
        params: dict[str, str | int | None] = {
            "filterby": filterby,
            "orderby": orderby,
            "page": 1,
            "pageSize": self.page_size,
        }
        # The items stay JSON (split, not decoded): the walk reads only keys and ids.
        answer = await self._requester.request("GET", self.path, params=params, expect="raw-array")
        data, raw = answer.parsed, answer.raw
        self.pages += 1
        entries = [] if data is None else cast("list[bytes]", data)
        total = raw.checked_total_items(page=1, page_size=self.page_size, received=len(entries))
        if self.total_estimate is None and data is not None:
            self.total_estimate = total
        return entries, total, raw

    def _out_of_order(self, raw: RawResponse, what: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"{raw.method} {raw.url}: {what}; the server's order does not match its filter, "
            "so a consistent walk is impossible",
            status=raw.status,
            method=raw.method,
            url=raw.url,
        )

    async def batches(self) -> AsyncGenerator[list[tuple[Row, KeysetCursor]], None]:
        """Yield every entry once, in key order, each with the cursor after it, a page at a time.

        Runs on the page engine (:mod:`awork_async._pages`). The key range starts as one
        partition (one lane) and is split into up to ``concurrency`` partitions walked at once
        (:mod:`awork_async._partitions`); their pages are yielded in key order, and pages of
        partitions ahead of the caller wait in memory (``min(concurrency, 8)`` pages) or in a
        temporary file. Within a partition the next window is requested as soon as a page has
        arrived, ``prefetch`` pages ahead of the caller.
        """
        async with contextlib.aclosing(self.json_pages()) as pages:
            async for page in pages:
                yield list(zip(page.rows(), page.cursors(), strict=True))

    async def json_pages(self) -> AsyncGenerator[_JsonPage, None]:
        """The pages of :meth:`batches` with each entry still its JSON (internal page type).

        What the export and the sync consume: no dict and no cursor is built per entry.
        """
        if self._engine is not None:
            raise RuntimeError("a KeysetWalk can be iterated only once")
        spool = self._spool
        engine: PageEngine[_JsonPage] = PageEngine(
            concurrency=self.concurrency,
            prefetch=self.prefetch,
            # A checkpointed walk keeps no page ahead in memory: they go to the durable spool.
            memory_pages=0 if spool is not None else min(self.concurrency, C.MAX_MEMORY_PAGES),
            spill=self.concurrency > 1 or spool is not None,
            on_idle=self._split,
            codec=(_dump_page, _load_page),
            spool=None if spool is None else lambda: _LaneSpool(spool),
        )
        self._engine = engine
        # One partition, or those of the frontier a resumed checkpoint recorded.
        bounds = [*self._cuts, None]
        resumed = self._resumed or [None] * len(bounds)
        first = Partition(hi=bounds[0], position=self.start.key)
        self._partitions.append(first)
        lanes = [self._lane(first, self.start, resumed=resumed[0])]
        for low, high, was in zip(self._cuts, bounds[1:], resumed[1:], strict=True):
            part = Partition(hi=high, position=low)
            self._partitions.append(part)
            lanes.append(self._lane(part, KeysetCursor(low), resumed=was))
        try:
            async with contextlib.aclosing(engine.run(lanes)) as pages:
                async for page in pages:
                    standing = page.standing
                    # Handed to the consumer: no longer a page the checkpoint must keep.
                    if (
                        standing is not None
                        and page.spooled is not None
                        and standing.pages
                        and standing.pages[0] == page.spooled
                    ):
                        standing.pages.popleft()
                    yield page
        finally:
            if self._starts is not None:
                await self._starts.aclose()

    def frontier_at(self, page: _JsonPage, index: int) -> tuple[FrontierPartition, ...]:
        """The durable frontier after entry ``index`` of ``page`` (the one being written).

        Empty when the walk has no durable spool. First the partition being written: the
        rest of this page and its later pages when they are in the spool (else it goes on
        from the cursor), then every partition ahead with its durable pages and position.
        """
        head = page.standing
        if self._spool is None or head is None:
            return ()
        cursor = page.cursor_after(index)
        cuts = self.cuts_after(cursor.key)
        uppers = [*cuts, None]  # each partition ends where the next one starts
        if page.spooled is None:
            current = FrontierPartition(None, uppers[0], cursor)
        else:
            offset, length, skip = page.spooled
            rest = [(offset, length, skip + index + 1)] if index + 1 < len(page) else []
            current = FrontierPartition(
                None, uppers[0], head.position, head.ended(), (*rest, *head.pages)
            )
        ahead = [current]
        for cut, upper in zip(cuts, uppers[1:], strict=True):
            standing = self._standings.get(cut)
            if standing is None:  # pragma: no cover - every cut has its lane's standing
                ahead.append(FrontierPartition(cut, upper, KeysetCursor(cut)))
                continue
            ahead.append(
                FrontierPartition(
                    cut, upper, standing.position, standing.ended(), tuple(standing.pages)
                )
            )
        return tuple(ahead)

    async def rows(self) -> AsyncGenerator[tuple[Row, KeysetCursor], None]:
        """Yield every entry once, in key order, each with the cursor after it.

        The pages of :meth:`batches` one entry at a time (see there).
        """
        async with contextlib.aclosing(self.batches()) as batches:
            async for batch in batches:
                for item in batch:
                    yield item

    def _split(self) -> None:
        """Use free lane slots: cut the partition with the most entries left (if worth it)."""
        engine = self._engine
        if engine is None or self._splitting:
            return
        self._splitting = True
        try:
            while engine.running_lanes() < self.concurrency:
                choice = self._planner.choose(self._partitions)
                if choice is None:
                    return
                part, cut = choice
                new = self._planner.split(part, cut)
                self._partitions.append(new)
                bisect.insort(self._cuts, cut)
                self._contexts[id(part)].insert_after(self._lane(new, KeysetCursor(cut)))
        finally:
            self._splitting = False

    def _lane(
        self,
        part: Partition,
        start: KeysetCursor,
        first: _Read | None = None,
        resumed: FrontierPartition | None = None,
    ) -> Lane[_JsonPage]:
        """The lane walking the windows of ``part`` from ``start`` on, one after another
        (``first``: its first window, already read from an offset page; ``resumed``: its
        standing in a version-4 checkpoint: its durable pages are replayed from the spool,
        then it walks on from its position)."""
        standing: _Standing | None = None
        if self._spool is not None:
            lower = None if start is self.start else start.key
            if resumed is None:
                standing = _Standing(part, lower, start)
            else:
                standing = _Standing(part, lower, resumed.position, resumed.pages, resumed.done)
            if lower is not None:
                self._standings[lower] = standing

        async def run(ctx: LaneContext[_JsonPage]) -> None:
            self._contexts[id(part)] = ctx
            try:
                cursor = start
                if resumed is not None:
                    assert self._spool is not None
                    for where in resumed.pages:
                        page = self._spool.read(where)
                        page.standing = standing
                        await ctx.put(page)
                    if resumed.done:
                        part.left = 0
                        if standing is not None:
                            standing.finished = True
                        return
                    cursor = resumed.position
                await self._walk_partition(ctx, part, cursor, first, standing)
                if standing is not None:
                    standing.finished = True
            finally:
                part.done = True
                del self._contexts[id(part)]

        return run

    async def _walk_partition(
        self,
        ctx: LaneContext[_JsonPage],
        part: Partition,
        cursor: KeysetCursor,
        first: _Read | None = None,
        standing: _Standing | None = None,
    ) -> None:
        while True:
            part.position, part.in_group = cursor.key, cursor.in_group
            read: _Read | None
            if first is not None:
                # An offset page, checked already: read without this partition's bound and
                # its total counts the whole range (so says nothing about this partition).
                read, first, upper, total = first, None, None, None
                entries, raw = read.entries, read.raw
            else:
                await ctx.turn()
                upper = None if cursor.in_group else part.hi
                entries, total, raw = await self._fetch(cursor, upper)
                self._planner.observe_total(total)
                read = None
                if entries:
                    read = self._read_checked(cursor, entries, raw)
                if not self._planned:
                    await self._plan(ctx, part, cursor, entries, total)
            cut = False
            keys: list[datetime] = []
            ids: list[UUID] = []
            versions: list[int | None] | None = None
            if read is not None:
                keys, ids, versions = read.keys, read.ids, read.versions
                if part.hi is not None and part.hi != upper and not cursor.in_group:
                    # Bounded after it was requested: the entries from the bound on are not ours.
                    stop = bisect.bisect_left(keys, part.hi)
                    if stop < len(keys):
                        cut = True
                        entries, keys, ids = entries[:stop], keys[:stop], ids[:stop]
                        versions = versions[:stop] if versions is not None else None
            if not entries:
                if cut or not cursor.in_group:
                    return
                cursor = _leave_group(cursor)
                continue
            keep, last = self._advance(cursor, keys, ids)
            delivered = len(entries) if keep is None else len(keep)
            after = (
                None
                if cut
                else self._next(cursor, last, len(entries), keys[0], total, delivered, raw)
            )
            self._observe(part, len(entries), keys[0], keys[-1], total, fresh=upper == part.hi)
            # Before handing the page over (which may wait): a cut made meanwhile must lie
            # after every entry of this page, and a finished partition is not cut at all.
            part.position, part.in_group = last.key, last.in_group
            if after is None:
                part.left = 0
            if delivered:
                if keep is not None:
                    entries = [entries[i] for i in keep]
                    keys = [keys[i] for i in keep]
                    ids = [ids[i] for i in keep]
                    versions = None if versions is None else [versions[i] for i in keep]
                page = _JsonPage(entries, cursor, self.field, keys, ids, versions)
                if standing is not None:
                    page.standing, page.after, page.final = standing, after, after is None
                await ctx.put(page)
                if standing is not None and page.spooled is None:
                    standing.volatile = True  # kept in memory for the consumer: not durable
            if after is None:
                return
            cursor = after
            part.position, part.in_group = cursor.key, cursor.in_group
            ctx.offer()

    def _read_checked(self, cursor: KeysetCursor, entries: list[bytes], raw: RawResponse) -> _Read:
        """A page's entries with their keys, ids and versions, checked against the window."""
        keys, ids, versions = self._read_keys(cursor, entries, raw)
        self._check_order(cursor, keys, ids, raw)
        return _Read(entries, keys, ids, versions, raw)

    async def _fetch_offset(
        self, cursor: KeysetCursor, page: int, size: int
    ) -> tuple[list[bytes], RawResponse]:
        """Offset page ``page`` (of ``size`` entries) of the window after ``cursor``."""
        filterby, orderby = window_query(self.field, cursor, self.filterby)
        params: dict[str, str | int | None] = {
            "filterby": filterby,
            "orderby": orderby,
            "page": page,
            "pageSize": size,
        }
        answer = await self._requester.request("GET", self.path, params=params, expect="raw-array")
        data, raw = answer.parsed, answer.raw
        self.pages += 1
        entries = [] if data is None else cast("list[bytes]", data)
        raw.checked_total_items(page=page, page_size=size, received=len(entries))
        return entries, raw

    async def _plan(
        self,
        ctx: LaneContext[_JsonPage],
        part: Partition,
        cursor: KeysetCursor,
        entries: list[bytes],
        total: int | None,
    ) -> None:
        """After the walk's first window: cut its range into partitions at offset quantiles.

        The offset pages (:func:`~awork_async._partitions.offset_plan`) are requested at once.
        Partition i starts at the first key of its page greater than the page's first key
        (that first tie group belongs to the partition before, so a tie group never straddles
        a bound), and the rest of the page is its first window: exactly the entries of
        ``[start, last key]`` that existed when the page was read, like a window would give.
        A page that is empty or one tie group adds no partition (its range stays with the
        one before). The first partition ends where the second starts. Every partition then
        walks its windows as usual; their last windows are full, so the requests are about
        a sequential walk's.
        """
        self._planned = True
        planner = self._planner
        size = self.page_size
        if (
            not planner.quantiles
            or self.concurrency < 2
            or self.prefetch == 0  # a lazy walk asks for nothing ahead
            or cursor.in_group
            or part.hi is not None
            or total is None
            or len(entries) < size
            or total <= len(entries)
        ):
            return
        plan = offset_plan(
            total, size, len(entries), partition_count(total, size, self.concurrency)
        )
        if not plan:
            return
        starts = _Starts(self, cursor, plan)
        self._starts = starts
        part.hi = await starts.bound_after(0)
        if part.hi is not None:
            bisect.insort(self._cuts, part.hi)
        ctx.follow(self._start_lane(index) for index in range(1, len(plan) + 1))

    def _start_lane(self, index: int) -> Lane[_JsonPage]:
        """The lane of plan entry ``index``: reads its offset page (unless read already) and,
        when it starts a partition, walks it (its upper bound is the next start)."""

        async def run(ctx: LaneContext[_JsonPage]) -> None:
            starts = self._starts
            assert starts is not None
            starts.read_ahead(index + 1)  # its upper bound, read with its own start
            start = await starts.start(index)
            if start is None:
                return  # no partition here: its range stays with the one before
            low, read = start
            part = Partition(hi=None, position=low)
            self._partitions.append(part)
            lane = self._lane(part, KeysetCursor(low), read)
            try:
                # Its upper bound before any window (the first one is cut to it).
                part.hi = await starts.bound_after(index)
            except BaseException:
                part.done = True
                raise
            if part.hi is not None:
                bisect.insort(self._cuts, part.hi)
            await lane(ctx)

        return run

    def _read_keys(
        self, cursor: KeysetCursor, entries: list[bytes], raw: RawResponse
    ) -> tuple[list[datetime], list[UUID], list[int | None] | None]:
        """Keys, ids and (when read) versions of a page's entries, each checked.

        The fast reader (msgspec, only the fields needed) takes the common case; anything it
        refuses is read the reference way, which raises what is wrong (no value quoted: the
        answer may echo a secret) in the order a per-entry reading meets it.
        """
        fast = _fast_keys(self.field, entries)
        if fast is not None:
            return fast
        rows: list[object] = []
        for entry in entries:
            try:
                rows.append(orjson.loads(entry))
            except orjson.JSONDecodeError:  # pragma: no cover - split by the JSON decoder
                raise _not_an_object(raw) from None
        if not all(isinstance(row, dict) for row in rows):
            raise _not_an_object(raw)
        keys: list[datetime] = []
        ids: list[UUID] = []
        for row in cast("list[Row]", rows):
            try:
                key, entry_id = _row_key(row, self.field)
            except ValueError as exc:
                self._check_order(cursor, keys, ids, raw)  # an earlier problem comes first
                raise APIResponseValidationError(
                    f"{raw.method} {raw.url}: {exc}",
                    status=raw.status,
                    method=raw.method,
                    url=raw.url,
                ) from None
            keys.append(key)
            ids.append(entry_id)
        return keys, ids, None

    def _check_order(
        self, cursor: KeysetCursor, keys: list[datetime], ids: list[UUID], raw: RawResponse
    ) -> None:
        """Raise unless the keys fit the window: one key inside a tie group, else not before
        the cursor and never decreasing."""
        if not keys:
            return
        if cursor.in_group:
            if keys.count(cast(datetime, cursor.key)) != len(keys):
                bad = next(i for i, key in enumerate(keys) if key != cursor.key)
                raise self._out_of_order(raw, f"{ids[bad]} lies outside the tie group")
            return
        if cursor.key is not None and keys[0] < cursor.key:
            raise self._out_of_order(raw, f"{ids[0]} comes before the window")
        if any(map(operator.gt, keys, itertools.islice(keys, 1, None))):
            bad = next(i for i in range(1, len(keys)) if keys[i] < keys[i - 1])
            raise self._out_of_order(raw, f"{ids[bad]} comes before the window")

    @staticmethod
    def _advance(
        cursor: KeysetCursor, keys: list[datetime], ids: list[UUID]
    ) -> tuple[list[int] | None, KeysetCursor]:
        """The entries of a checked page to deliver (``None``: all) and the cursor after it.

        Entries at the cursor's key whose ids were delivered already are skipped (the window
        is inclusive); inside a tie group the cursor moves to the page's last id.
        """
        count = len(keys)
        keep: list[int] | None = None
        if cursor.in_group:
            if cursor.boundary_ids:
                done = set(cursor.boundary_ids)
                if not done.isdisjoint(ids):
                    keep = [i for i, entry_id in enumerate(ids) if entry_id not in done]
            return keep, attrs.evolve(cursor, group_after=ids[-1])
        key = cursor.key
        if key is not None and cursor.boundary_ids and keys[0] == key:
            done = set(cursor.boundary_ids)
            lead = 0
            while lead < count and keys[lead] == key:
                lead += 1
            if not done.isdisjoint(ids[:lead]):
                keep = [i for i in range(count) if i >= lead or ids[i] not in done]
        indices: Sequence[int] = range(count) if keep is None else keep
        if not indices:
            return keep, cursor
        last = keys[indices[-1]]
        run: list[UUID] = []
        for i in reversed(indices):
            if keys[i] != last:
                break
            run.append(ids[i])
        run.reverse()
        if last == key:
            return keep, KeysetCursor(last, (*cursor.boundary_ids, *run))
        return keep, KeysetCursor(last, tuple(run))

    def _observe(
        self,
        part: Partition,
        count: int,
        first: datetime,
        last: datetime,
        total: int | None,
        fresh: bool,
    ) -> None:
        """Record what a page says about its partition (entries left, density)."""
        if total is not None and fresh:
            part.left = max(total - count, 0)
        span = (last - first).total_seconds()
        part.density = count / span if span > 0 else None

    def _next(
        self,
        before: KeysetCursor,
        cursor: KeysetCursor,
        count: int,
        first_key: datetime,
        total: int | None,
        delivered: int,
        raw: RawResponse,
    ) -> KeysetCursor | None:
        """The cursor of the next request after a non-empty page, or ``None`` when done."""
        # A short page is not proof of the end (awork#120), unless the total says so.
        full = count >= self.page_size or (total is not None and total > count)
        if cursor.in_group:
            if cursor.group_after == before.group_after:
                raise self._out_of_order(raw, "the tie group did not advance (id filter ignored)")
            if full or total is None:
                return cursor
            return _leave_group(cursor)
        if first_key == cursor.key and full:
            # The whole page shares one key: windows cannot move past it, walk it by id.
            return attrs.evolve(cursor, in_group=True, group_after=None)
        if delivered == 0:
            return None  # only entries already delivered: the window is exhausted
        if total is not None and total <= count:
            return None  # the page held the whole window
        return cursor


# ------------------------------------------------------------------------------ the iterator


@overload
def iter_time_entries_consistent(
    client: AworkClient,
    *,
    filterby: FilterLike = None,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    checkpoint: ExportCheckpoint | None = None,
    raw: Literal[False] = False,
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> AsyncIterator[tuple[TimeEntry, ExportCheckpoint]]: ...


@overload
def iter_time_entries_consistent(
    client: AworkClient,
    *,
    filterby: FilterLike = None,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    checkpoint: ExportCheckpoint | None = None,
    raw: Literal[True],
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> AsyncIterator[tuple[Row, ExportCheckpoint]]: ...


@overload
def iter_time_entries_consistent(
    client: AworkClient,
    *,
    filterby: FilterLike = None,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    checkpoint: ExportCheckpoint | None = None,
    raw: bool,
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> AsyncIterator[tuple[TimeEntry | Row, ExportCheckpoint]]: ...


def iter_time_entries_consistent(
    client: AworkClient,
    *,
    filterby: FilterLike = None,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    checkpoint: ExportCheckpoint | None = None,
    raw: bool = False,
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> AsyncIterator[tuple[TimeEntry | Row, ExportCheckpoint]]:
    """Every time entry matching ``filterby`` exactly once, in ``createdOn,id`` order.

    ::

        async for entry, checkpoint in iter_time_entries_consistent(awork):
            handle(entry)
            if checkpoint.count % 1000 == 0:
                save(checkpoint.to_json())

    Each entry comes with the checkpoint *after* it; pass a saved one as ``checkpoint`` to
    continue where it was taken (with the same ``filterby``; another, or a checkpoint of an
    ordered export, raises ``ValueError``).
    ``raw=True`` yields the entries as the API sent them (dicts with camelCase keys) instead of
    :class:`TimeEntry` models. Nothing is sent until iteration starts.

    ``concurrency`` partitions of the ``createdOn`` range are walked at once (split adaptively
    as ``aw-totalitems`` shows where the entries are; see :mod:`awork_async._partitions`);
    the entries still come in ``createdOn,id`` order, and memory stays bounded by about
    ``min(concurrency, 8)`` pages (pages of partitions ahead wait in a temporary file).
    """
    text = to_filter_string(filterby)
    if checkpoint is not None:
        check_resumable(checkpoint, filterby=text)
    walk = KeysetWalk(
        client,
        field=EXPORT_KEY_FIELD,
        filterby=text,
        page_size=page_size,
        cursor=None if checkpoint is None else checkpoint.cursor,
        concurrency=concurrency,
        partitions=() if checkpoint is None else checkpoint.partitions,
    )
    return _iterate(walk, 0 if checkpoint is None else checkpoint.count, text, raw)


async def _iterate(
    walk: KeysetWalk, count: int, filterby: str | None, raw: bool
) -> AsyncGenerator[tuple[TimeEntry | Row, ExportCheckpoint], None]:
    async with contextlib.aclosing(walk.json_pages()) as pages:
        async for page in pages:
            rows = page.rows()
            items: Sequence[TimeEntry | Row] = rows
            error: APIResponseValidationError | None = None
            if not raw:
                items, error = _page_entries(rows)
            # On a bad entry, items are those before it: the error comes after them.
            for item, cursor in zip(items, page.cursors(), strict=False):
                count += 1
                point = ExportCheckpoint.at(
                    cursor, count=count, filterby=filterby, partitions=walk.cuts_after(cursor.key)
                )
                yield item, point
            if error is not None:
                raise error


# ------------------------------------------------------------------------------ file export


@attrs.frozen
class ExportSummary:
    """What an export did.

    Attributes:
        entries: entries written in this run (not counting those of a resumed earlier run).
        pages: list requests made.
        requests: HTTP answers received (every attempt, including 429s and errors).
        retries: answers to repeated attempts (attempt > 1).
        rate_limited: 429 answers.
        seconds: wall time of the run.
    """

    entries: int
    pages: int
    requests: int
    retries: int
    rate_limited: int
    seconds: float


@attrs.define
class _Tally:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0

    def drain(self, responses: list[RawResponse]) -> None:
        """Count and forget the captured responses (memory stays flat)."""
        for response in responses:
            self.requests += 1
            self.retries += response.attempt > 1
            self.rate_limited += response.status == 429
        responses.clear()


def _write_all(output: BinaryIO, data: bytes) -> None:
    """Write all of ``data`` (a page at a time is large).

    A buffered pipe write that the reader cuts short (``... | head``) returns the count written
    instead of raising: write the rest, so the error (a ``BrokenPipeError``, a full disk) is
    raised rather than the lines silently lost.
    """
    while data:
        written = output.write(data)
        if written is None or written >= len(data):  # None: a file object that writes all
            return
        if written <= 0:
            raise OSError(f"the output accepted {written} of {len(data)} bytes")
        data = data[written:]


def _sync_output(output: BinaryIO) -> None:
    """Flush ``output`` and fsync it when it is a real file."""
    output.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.fsync(output.fileno())


def _prepare_resume(output: BinaryIO, offset: int) -> None:
    """Cut ``output`` back to ``offset`` (dropping any half-written line) and seek there."""
    if not output.seekable():
        raise ValueError("resuming needs a seekable output file (not a pipe)")
    output.flush()
    size = output.seek(0, os.SEEK_END)
    if size < offset:
        raise ValueError(
            f"the output has {size} bytes but the checkpoint expects at least {offset}: "
            "it is not the file this checkpoint belongs to"
        )
    if offset > 0 and output.readable():
        output.seek(offset - 1)
        if output.read(1) != b"\n":
            raise ValueError(
                f"the output's byte {offset - 1} is not the end of a line, where the checkpoint "
                "expects one: it is not the file this checkpoint belongs to"
            )
    output.truncate(offset)
    output.seek(offset)


async def _off_loop(work: Callable[[], None]) -> None:
    """Run blocking file work (fsync, rename) in a thread; a cancellation waits for it to end.

    The cancellation is raised once the thread is done, so the clean-up that follows never
    races a rename that is still under way.
    """
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


def _nothing() -> None:
    """No step before a checkpoint."""


class _StreamSink:
    """A caller-owned binary stream: written from its position, never closed nor cleaned up."""

    def __init__(
        self,
        output: BinaryIO,
        *,
        checkpoint_path: Path | None,
        resume: bool,
        offset: int | None,
        preamble: bytes,
    ) -> None:
        self.output = output
        self.checkpoint_path = checkpoint_path
        #: Called after the output is fsynced, before a checkpoint is written (the spool's fsync).
        self.before_checkpoint: Callable[[], None] = _nothing
        if offset is not None:
            _prepare_resume(output, offset)
            self.position = offset
        else:
            self.position = output.tell() if output.seekable() else 0
            if resume and output.seekable():
                output.truncate(self.position)
            self.write(preamble)

    def write(self, data: bytes) -> None:
        _write_all(self.output, data)
        self.position += len(data)

    def _save(self, point: ExportCheckpoint) -> None:
        _sync_output(self.output)
        self.before_checkpoint()
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, point)

    async def save(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point))

    async def finish(self, point: ExportCheckpoint) -> None:
        await self.save(point)

    def abandon(self) -> None:
        """Nothing to undo: what was written stays, for the caller to keep or drop."""


def _open_in_place(path: Path) -> BinaryIO:
    """``path`` opened for update without following a symlink (created when missing)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(
                f"{path} is a symbolic link; a resumed export does not follow it"
            ) from None
        raise exc from None
    return os.fdopen(fd, "r+b")


class _FileSink:
    """An output path owned by the export (the rules are in :func:`export_time_entries`).

    A fresh export writes an exclusive temporary file beside the target and renames it over
    the target when it succeeded (``promote``: already at the first checkpoint, so that a
    resumable export can continue after a crash). A resumed export continues the target in
    place, opened only when the first line is written, so a failure before that changes
    nothing.
    """

    def __init__(
        self,
        path: Path,
        *,
        checkpoint_path: Path | None,
        promote: bool,
        offset: int | None,
        preamble: bytes,
    ) -> None:
        self.path = path
        self.checkpoint_path = checkpoint_path
        self.promote = promote
        #: Called after the output is fsynced, before a checkpoint is written (the spool's fsync).
        self.before_checkpoint: Callable[[], None] = _nothing
        self.handle: BinaryIO | None = None
        self.tmp: Path | None = None
        if offset is not None:
            if path.is_symlink():
                raise ValueError(f"{path} is a symbolic link; a resumed export does not follow it")
            _check_resumable_size(path, offset)
            self.position = self.offset = offset
        else:
            self.handle, self.tmp = create_temp_beside(path)
            self.position = self.offset = 0
            self.write(preamble)

    def _opened(self) -> BinaryIO:
        if self.handle is None:
            self.handle = _open_in_place(self.path)
            _prepare_resume(self.handle, self.offset)
        return self.handle

    def write(self, data: bytes) -> None:
        _write_all(self._opened(), data)
        self.position += len(data)

    def _into_place(self) -> None:
        """Rename the temporary file over the target (any older checkpoint is removed first)."""
        assert self.handle is not None
        assert self.tmp is not None
        if self.checkpoint_path is not None:
            # The old checkpoint describes the old file: never leave it beside the new one.
            with contextlib.suppress(FileNotFoundError):
                self.checkpoint_path.unlink()
        handle, tmp, self.handle, self.tmp = self.handle, self.tmp, None, None
        replace_with(handle, tmp, self.path)
        self.offset = self.position

    def _save(self, point: ExportCheckpoint, *, last: bool) -> None:
        if self.tmp is not None:
            if not (last or self.promote):
                return  # all or nothing: the target is replaced only at the end
            self._into_place()
        else:
            _sync_output(self._opened())
        self.before_checkpoint()
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, point)
        if last and self.handle is not None:
            self.handle.close()
            self.handle = None

    async def save(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point, last=False))

    async def finish(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point, last=True))

    def abandon(self) -> None:
        """Close the file; a temporary file not yet in place is removed."""
        handle, tmp, self.handle, self.tmp = self.handle, self.tmp, None, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        if tmp is not None:
            discard_temp(tmp)


def _check_resumable_size(path: Path, offset: int) -> None:
    """``ValueError`` unless ``path`` has at least ``offset`` bytes (checked before any request)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = 0
    if size < offset:
        raise ValueError(
            f"the output has {size} bytes but the checkpoint expects at least {offset}: "
            "it is not the file this checkpoint belongs to"
        )


class _KeysetRows:
    """Rows of the consistent keyset walk, each with the checkpoint after it."""

    def __init__(self, walk: KeysetWalk, count: int) -> None:
        self.walk = walk
        self.base = count

    @property
    def pages(self) -> int:
        return self.walk.pages

    def estimate(self) -> int | None:
        total = self.walk.total_estimate  # what is left after the resumed position
        return None if total is None else self.base + total

    def batches(self) -> AsyncGenerator[_JsonPage, None]:
        """Pages of entries as JSON (a checkpoint's cursor is built only when one is saved)."""
        return self.walk.json_pages()

    def checkpoint(self, mark: KeysetCursor | ExportCheckpoint, count: int) -> ExportCheckpoint:
        """The checkpoint after the row ``mark`` came with, ``count`` entries in all."""
        assert isinstance(mark, KeysetCursor)
        return ExportCheckpoint.at(
            mark,
            count=count,
            filterby=self.walk.filterby,
            partitions=self.walk.cuts_after(mark.key),
        )

    def page_checkpoint(self, page: _JsonPage, index: int, count: int) -> ExportCheckpoint:
        """The checkpoint after entry ``index`` of ``page``, with the durable frontier when
        the walk has a spool (version 4)."""
        point = self.checkpoint(page.cursor_after(index), count)
        frontier = self.walk.frontier_at(page, index)
        spool = self.walk._spool
        if not frontier or spool is None:
            return point
        return attrs.evolve(
            point, frontier=frontier, spool_id=spool.ident.hex(), spool_size=spool.size
        )


class _OrderedRows:
    """Rows of offset pages in the caller's order; a checkpoint comes only with a page's last row.

    ``start`` is the checkpoint to continue from (``count``/``start_page``); a complete one
    yields nothing (an offset walk cannot tell where new entries landed).
    """

    def __init__(
        self,
        client: AworkClient,
        start: ExportCheckpoint,
        *,
        prefetch: int,
    ) -> None:
        assert start.orderby is not None
        assert start.page_size is not None
        self.start = start
        self.pages = 0
        self.total: int | None = None
        self.paginator = client.time_entries.list(
            filterby=start.filterby,
            orderby=start.orderby,
            page_size=start.page_size,
            start_page=start.start_page,
            prefetch=prefetch,
        ).raw()

    def estimate(self) -> int | None:
        return self.total  # aw-totalitems of the whole list

    async def batches(self) -> AsyncGenerator[list[tuple[Row, ExportCheckpoint | None]], None]:
        if self.start.complete:
            return
        count = self.start.count
        # Close the walk when this generator closes: that stops its prefetches at once.
        async with contextlib.aclosing(self.paginator.pages()) as pages:
            async for page in pages:
                self.pages += 1
                if self.total is None:
                    self.total = page.total_items
                items: list[Row] = []
                for item in page.items:
                    if not isinstance(item, dict):
                        raise _not_an_object(page.response)
                    items.append(item)
                count += len(items)
                point = attrs.evolve(self.start, count=count, start_page=page.page + 1)
                batch: list[tuple[Row, ExportCheckpoint | None]] = [(row, None) for row in items]
                if batch:
                    batch[-1] = (items[-1], point)
                yield batch

    def checkpoint(self, mark: KeysetCursor | ExportCheckpoint, count: int) -> ExportCheckpoint:
        """The checkpoint a page's last row came with (it knows its count)."""
        assert isinstance(mark, ExportCheckpoint)
        return mark


def _not_an_object(raw: RawResponse) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"{raw.method} {raw.url}: expected a JSON array of objects",
        status=raw.status,
        method=raw.method,
        url=raw.url,
    )


def _make_sink(
    output: BinaryIO | str | os.PathLike[str],
    checkpoint_path: Path | None,
    resume: bool,
    offset: int | None,
    preamble: bytes,
) -> _StreamSink | _FileSink:
    if isinstance(output, (str, os.PathLike)):
        return _FileSink(
            Path(output),
            checkpoint_path=checkpoint_path,
            promote=resume,
            offset=offset,
            preamble=preamble,
        )
    return _StreamSink(
        output, checkpoint_path=checkpoint_path, resume=resume, offset=offset, preamble=preamble
    )


async def export_time_entries(
    client: AworkClient,
    output: BinaryIO | str | os.PathLike[str],
    *,
    format: ExportFormat,
    filterby: FilterLike = None,
    orderby: str | OrderBy | None = None,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    checkpoint_path: Path | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    prefetch: int = DEFAULT_ORDERED_PREFETCH,
    csv_raw_values: bool = False,
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> ExportSummary:
    """Stream every matching time entry to ``output`` as JSONL or CSV.

    Two modes:

    * **consistent** (default, no ``orderby``): the keyset walk of this module, in
      ``createdOn,id`` order. Every entry that exists for the whole export is written exactly
      once, even while entries are created or deleted meanwhile.
    * **ordered** (``orderby`` given, e.g. ``"duration desc,id"``): plain offset pages
      (``page=1,2,…``) in the caller's order, ``prefetch`` pages requested concurrently.
      **Not consistent under concurrent change**: if entries are created, deleted or changed
      (in a sort key) during the export, some may be skipped or written twice. End the order
      with a unique key (``,id``) so that ties are not ordered differently from page to page.

    Who owns the output, and what a failure leaves:

    * **a path** (``str`` or :class:`~pathlib.Path`): the export owns the file. Without
      ``resume`` it writes an exclusively created temporary file in the same directory
      (``.NAME.XXXXXXXX.tmp``), fsyncs it and renames it over ``output`` only when the export
      succeeded. Any failure (a rejected token, an unreachable server, a refused filter,
      cancellation, any exception) leaves an existing file byte for byte as it was, creates
      no new file and removes the temporary one; ``checkpoint_path`` is written only at the
      end (after the rename; an older checkpoint is removed just before it). With ``resume``
      and a checkpoint, the file is continued in place from the checkpoint's offset; it is
      opened only when the first new line is written, so a failure before that changes
      nothing, and a failure after it leaves the file with a checkpoint to resume from. With
      ``resume`` and no checkpoint yet, the export starts in a temporary file that replaces
      ``output`` at the first checkpoint (from then on a crash can be resumed). The rename
      replaces a symlink at ``output`` rather than following it; a resumed export refuses a
      symlink.
    * **an open binary file** (or ``sys.stdout.buffer``): the caller owns it. Writing starts
      at its position; it is never closed. On failure the lines written so far stay in it
      (the export neither truncates nor removes anything): discard the file, or resume it
      from ``checkpoint_path``, whose offset covers only complete, fsynced lines.

    Args:
        output: the path to write, or an open binary file (see above).
        format: ``"jsonl"`` (one API object per line, lossless) or ``"csv"`` (a header, then
            :data:`CSV_COLUMNS`).
        filterby: a filter string or :mod:`awork_async.filters` expression.
        orderby: the order of an ordered export (``str`` or :func:`~awork_async.filters.order_by`);
            ``None`` (or empty) for the consistent mode.
        page_size: entries per request (1..1000).
        checkpoint_path: where to keep an :class:`ExportCheckpoint`. It is written atomically
            every ``checkpoint_every`` entries (in ordered mode: at the first page boundary
            after them) and at the end, always after the output has been flushed and fsynced,
            and records the output's byte offset. (A path ``output`` without ``resume`` gets
            only the final checkpoint: until then the data is in the temporary file.) Pages
            read ahead are kept durable in ``<checkpoint_path>.pages`` (created exclusively,
            fsynced before each checkpoint, deleted when the export succeeds) so that a resume
            replays them instead of requesting them again (see :class:`ExportCheckpoint`).
        resume: continue from the checkpoint at ``checkpoint_path`` (start afresh when there is
            none). The output (opened ``r+b`` or ``ab``) is truncated to the recorded offset, so
            a line cut by a crash is dropped and the result is byte-identical to an uninterrupted
            export of the same data. A different ``format``, ``filterby``, mode or ``orderby``
            (and in ordered mode ``page_size``) is refused with ``ValueError``. Resuming a
            complete consistent export adds the entries created since; a complete ordered one
            adds nothing.
        on_progress: called with ``(entries done, total estimate or None)`` after every
            ``page_size`` entries written (once per full page) and at the end; the estimate
            comes from ``aw-totalitems``.
        prefetch: ordered mode only: pages requested ahead of the writer (0 = one at a time).
        concurrency: consistent mode only: partitions of the ``createdOn`` range walked at once
            (at most this many requests in flight, within the rate limiter; default 20, enough
            for awork's 1000 requests/min at ~1 s per page); 1 walks one window after another.
            The file is the same whatever the concurrency. Memory holds at most
            ``min(concurrency, 8)`` pages ahead; the rest wait in a temporary file (all of
            them in the checkpoint's spool when checkpoints are written while the export runs,
            see :class:`ExportCheckpoint`).
        csv_raw_values: CSV only: write free-text cells (notes and names, see
            :data:`CSV_TEXT_COLUMNS`) exactly as stored. By default a cell starting with
            ``= + - @``, a tab or a carriage return gets a leading ``'`` (see
            :func:`neutralise_csv_cell`) so a spreadsheet does not run it as a formula.
            The checkpoint records it: resuming with the other setting is refused.

    Returns an :class:`ExportSummary`. Requests, retries and 429s are counted from the answers
    received (via :func:`~awork_async.capture_responses`).
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be 'jsonl' or 'csv', got {format!r}")
    validate_page_size(page_size)
    validate_concurrency(concurrency)
    if isinstance(checkpoint_every, bool) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs checkpoint_path")
    started = time.monotonic()
    text = to_filter_string(filterby)
    order = to_order_string(orderby)
    raw_cells = format == "csv" and csv_raw_values
    previous = load_checkpoint(checkpoint_path) if resume and checkpoint_path else None
    if previous is not None:
        check_resumable(
            previous,
            filterby=text,
            orderby=order,
            page_size=page_size,
            format=format,
            csv_raw_values=raw_cells,
        )
        if previous.byte_offset is None:
            raise ValueError("the checkpoint records no byte offset; it cannot resume a file")
    first = previous or ExportCheckpoint(
        filterby=text,
        format=format,
        orderby=order,
        page_size=None if order is None else page_size,
        csv_raw_values=raw_cells,
    )
    source: _KeysetRows | _OrderedRows
    # A durable spool when checkpoints are written while the export runs (not for a path
    # written without resume: its only checkpoint is the final one).
    spool_path = (
        None if checkpoint_path is None or order is not None else _spool_path(checkpoint_path)
    )
    spool: _PageSpool | None = None
    frontier: tuple[FrontierPartition, ...] = ()
    if spool_path is not None and (resume or not isinstance(output, (str, os.PathLike))):
        spool = _open_spool(spool_path, previous, checkpoint_path)
        if previous is not None:
            frontier = previous.frontier
    if order is None:
        cursor = None if previous is None else previous.cursor
        walk = KeysetWalk(
            client,
            field=EXPORT_KEY_FIELD,
            filterby=text,
            page_size=page_size,
            cursor=cursor,
            concurrency=concurrency,
            partitions=() if previous is None else previous.partitions,
            spool=spool,
            frontier=frontier,
        )
        source = _KeysetRows(walk, first.count)
    else:
        source = _OrderedRows(client, first, prefetch=prefetch)
    encoder = _CsvEncoder(raw_values=csv_raw_values)
    offset = None if previous is None else previous.byte_offset
    preamble = encoder.header() if format == "csv" else b""
    sink: _StreamSink | _FileSink
    try:
        sink = _make_sink(output, checkpoint_path, resume, offset, preamble)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if spool is not None:
        sink.before_checkpoint = spool.sync
    done = base = first.count
    last = attrs.evolve(first, byte_offset=sink.position)
    tally = _Tally()
    # The last resumable position (what its row came with, entries, byte offset); the
    # checkpoint itself is built only when one is saved, not for every entry.
    mark: KeysetCursor | ExportCheckpoint | None = None
    mark_page: _JsonPage | None = None  # a keyset walk's mark: a page and an entry of it
    mark_count = mark_offset = mark_index = 0
    batches: AsyncGenerator[
        Sequence[tuple[Row, KeysetCursor | ExportCheckpoint | None]] | _JsonPage, None
    ]
    try:
        async with (
            capture_responses() as responses,
            contextlib.aclosing(source.batches()) as batches,
        ):
            since = 0
            jsonl = format == "jsonl"
            write = sink.write
            async for batch in batches:
                if isinstance(batch, _JsonPage):
                    # A page at a time, cut only where a checkpoint or a progress call falls.
                    error: APIResponseValidationError | None = None
                    if jsonl:
                        lines, end = batch.json_lines(), b"\n"
                    else:
                        models, error = _page_entries(batch.rows())
                        lines, end = [encoder.entry(model) for model in models], b""
                    count = len(lines)
                    position = 0
                    while position < count:
                        step = min(
                            checkpoint_every - since,
                            page_size - (done - base) % page_size,
                            count - position,
                        )
                        chunk = lines if step == count else lines[position : position + step]
                        write(end.join([*chunk, b""]) if end else b"".join(chunk))
                        position += step
                        done += step
                        since += step
                        mark_page, mark_index = batch, position - 1
                        mark_count, mark_offset = done, sink.position
                        if since >= checkpoint_every:
                            since = 0
                            assert isinstance(source, _KeysetRows)
                            last = attrs.evolve(
                                source.page_checkpoint(batch, mark_index, done),
                                byte_offset=mark_offset,
                                format=format,
                                csv_raw_values=raw_cells,
                            )
                            if spool is not None and last.frontier:
                                spool.relied = True  # from now on a failure keeps the spool
                            await sink.save(last)
                            tally.drain(responses)
                        if on_progress is not None and (done - base) % page_size == 0:
                            on_progress(done, source.estimate())
                    if error is not None:
                        raise error
                    continue
                for row, point in batch:
                    write(entry_to_json_line(row) if jsonl else encoder.entry(_to_entry(row)))
                    done += 1
                    since += 1
                    if point is not None:
                        mark, mark_count, mark_offset = point, done, sink.position
                        if since >= checkpoint_every:
                            since = 0
                            last = attrs.evolve(
                                source.checkpoint(point, done),
                                byte_offset=mark_offset,
                                format=format,
                                csv_raw_values=raw_cells,
                            )
                            await sink.save(last)
                            tally.drain(responses)
                    if on_progress is not None and (done - base) % page_size == 0:
                        # once per page's worth of entries, after any checkpoint at this entry
                        on_progress(done, source.estimate())
            if mark_page is not None:
                mark = mark_page.cursor_after(mark_index)
            if mark is not None:
                last = attrs.evolve(
                    source.checkpoint(mark, mark_count),
                    byte_offset=mark_offset,
                    format=format,
                    csv_raw_values=raw_cells,
                )
            last = attrs.evolve(
                last,
                byte_offset=sink.position,
                format=format,
                csv_raw_values=raw_cells,
                complete=True,
                partitions=(),
                frontier=(),
                spool_id=None,
                spool_size=0,
            )
            await sink.finish(last)
            tally.drain(responses)
    except BaseException:
        sink.abandon()
        if spool is not None:
            if spool.created and not spool.relied:
                spool.remove()  # no checkpoint relies on it: the failure leaves no new file
            else:
                spool.close()  # kept: the last checkpoint relies on it
        raise
    if spool_path is not None:
        # Nothing relies on the spool now (the final checkpoint records no frontier).
        if spool is not None:
            spool.close()
        with contextlib.suppress(FileNotFoundError):
            spool_path.unlink()
    if on_progress is not None:
        on_progress(done, source.estimate())
    return ExportSummary(
        entries=done - base,
        pages=source.pages,
        requests=tally.requests,
        retries=tally.retries,
        rate_limited=tally.rate_limited,
        seconds=time.monotonic() - started,
    )
