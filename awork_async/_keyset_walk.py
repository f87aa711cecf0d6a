"""The consistent keyset walk: :class:`KeysetWalk` reads ``GET /timeentries`` window after
window, in partitions walked at once on the page engine, every entry exactly once, in order.

The windows are :mod:`awork_async._keyset`'s, the partitions :mod:`awork_async._partitions`'s,
the lanes :mod:`awork_async._pages`'s; the guarantee is described in :mod:`awork_async.export`,
which re-exports :class:`KeysetWalk`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import operator
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast
from uuid import UUID

import attrs
import orjson

from . import _constants as C
from ._checkpoint import FrontierPartition
from ._client import requester_of
from ._exceptions import APIResponseValidationError
from ._json_pages import _dump_page, _fast_keys, _JsonPage, _load_page
from ._keyset import KeysetCursor, Row, _leave_group, _row_key, window_query
from ._pages import Lane, LaneContext, PageEngine, validate_concurrency
from ._paginator import validate_page_size
from ._partitions import Partition, SplitPlanner, offset_plan, partition_count
from ._response import RawResponse
from ._spool import _LaneSpool, _PageSpool, _Standing
from .filters import to_filter_string

if TYPE_CHECKING:
    from ._client import AworkClient
    from ._validation import FilterLike

T_ = TypeVar("T_")


class _Window(NamedTuple):
    """One window's answer (:meth:`KeysetWalk._fetch`): its entries as JSON, ``aw-totalitems``
    (``None`` when absent) and the response."""

    entries: list[bytes]
    total: int | None
    raw: RawResponse


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
    whole walk comes exactly once (see :mod:`awork_async.export`). ``pages`` counts the requests
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

    async def _fetch(self, cursor: KeysetCursor, upper: datetime | None = None) -> _Window:
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
        return _Window(entries, total, raw)

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

        def take_first() -> _Read | None:
            # Handed over, not kept: the lane holds no page once it has put it.
            nonlocal first
            read, first = first, None
            return read

        def replayed(where: tuple[int, int, int]) -> _JsonPage:
            assert self._spool is not None
            page = self._spool.read(where)
            page.standing = standing
            return page

        async def run(ctx: LaneContext[_JsonPage]) -> None:
            self._contexts[id(part)] = ctx
            try:
                cursor = start
                if resumed is not None:
                    for where in resumed.pages:
                        await ctx.put(replayed(where))
                    if resumed.done:
                        part.left = 0
                        if standing is not None:
                            standing.finished = True
                        return
                    cursor = resumed.position
                await self._walk_partition(ctx, part, cursor, take_first(), standing)
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
            # One window per call: its page is referenced by nothing here once handed over,
            # so while the next window is requested the lane holds no page (a page put on
            # disk leaves memory at once; 32 lanes each keeping their last page measured
            # 100 MiB more at 200k entries).
            step = await self._window(ctx, part, cursor, first, standing)
            first = None
            if step is None:
                return
            cursor, offered = step
            if offered:
                part.position, part.in_group = cursor.key, cursor.in_group
                ctx.offer()

    async def _window(
        self,
        ctx: LaneContext[_JsonPage],
        part: Partition,
        cursor: KeysetCursor,
        first: _Read | None,
        standing: _Standing | None,
    ) -> tuple[KeysetCursor, bool] | None:
        """One window of :meth:`_walk_partition` (``first``: read already) put to ``ctx``: the
        cursor to go on from and whether the page was a step ahead (``None``: done)."""
        read: _Read | None
        if first is not None:
            # An offset page, checked already: read without this partition's bound and
            # its total counts the whole range (so says nothing about this partition).
            read, first, upper, total = first, None, None, None
            entries, raw = read.entries, read.raw
        else:
            await ctx.turn()
            upper = None if cursor.in_group else part.hi
            window = await self._fetch(cursor, upper)
            entries, total, raw = window.entries, window.total, window.raw
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
                return None
            return _leave_group(cursor), False
        keep, last = self._advance(cursor, keys, ids)
        delivered = len(entries) if keep is None else len(keep)
        after = (
            None if cut else self._next(cursor, last, len(entries), keys[0], total, delivered, raw)
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
            return None
        return after, True

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
        # The lanes of the next partitions start now, with this one's bound: their offset
        # pages go out together with it (one round trip, not two, before the lanes are busy).
        ctx.follow(self._start_lane(index) for index in range(1, len(plan) + 1))
        part.hi = await starts.bound_after(0)
        if part.hi is not None:
            bisect.insort(self._cuts, part.hi)

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
            del start, read  # the lane's now: it lets go of the page once it has put it
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


def _not_an_object(raw: RawResponse) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"{raw.method} {raw.url}: expected a JSON array of objects",
        status=raw.status,
        method=raw.method,
        url=raw.url,
    )
