"""The page engine: the one place that requests pages ahead, bounds them and yields them in order.

Every multi-request read of the package runs on :class:`PageEngine`: offset pages
(:class:`~awork_async.AsyncPaginator`) and keyset windows (the consistent export and the
incremental sync, :mod:`awork_async.export`) are two *strategies* that differ only in the
lanes they hand to it.

* A **lane** is an async function that fetches pages one after another and hands each to
  :meth:`LaneContext.put`. An offset page is a lane of one request; a keyset partition is a
  lane that walks its key range window by window.
* Lanes form one **ordered list**; pages are yielded lane by lane in that order (and in
  ``put`` order within a lane), whatever order they arrive in. A lane can insert new lanes
  right after itself (:meth:`LaneContext.insert_after` to split its key range,
  :meth:`LaneContext.follow` for a lazy series such as pages 2..n).
* At most ``concurrency`` lanes run at once. ``prefetch`` is the number of pages the engine may
  request ahead of the consumer (0: a lane asks only when the consumer waits for a page).
* **Memory** stays bounded whatever the data size: at most ``memory_pages`` pages wait in
  memory (plus ``prefetch`` pages of the lane being consumed), and the lanes read at most
  ``body_reads`` answers' bodies at once (a request waiting for its answer costs nothing).
  A lane ahead of the consumer whose pages do not fit either waits (``spill=False``) or, with
  ``spill=True``, appends them to an anonymous temporary file (encoded by the strategy's codec,
  pickle by default; read back in order and deleted as soon as read; a strategy may pass its
  own :class:`Spool`, such as the consistent export's durable one beside its checkpoint):
  strict order, bounded RAM and every lane at full speed, at the cost of disk space for the
  pages ahead of the consumer.
* **Cancellation**: closing the iterator (``aclose``, ``break`` under ``contextlib.aclosing``,
  an exception, a cancelled consumer) cancels every lane task and awaits them before it
  returns; no task is left running and nothing is left unawaited.
* **Errors** of a lane are raised to the consumer in order: after every page that lane put
  before failing (and every page of the lanes before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import tempfile
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from typing import IO, Generic, Protocol, TypeVar

from . import _constants as C
from ._transport import body_reads
from ._validation import ensure_int

__all__ = ["Lane", "LaneContext", "PageEngine", "Spool", "validate_concurrency"]

T = TypeVar("T")

#: A lane: fetches pages (in its own order) and puts each into the context.
Lane = Callable[["LaneContext[T]"], Awaitable[None]]


def validate_concurrency(concurrency: int) -> int:
    """Return ``concurrency`` or raise ``ValueError``/``TypeError`` (an int >= 1)."""
    return ensure_int(concurrency, "concurrency", minimum=1)


#: How pages are written to and read back from the temporary file.
Codec = tuple[Callable[[T], bytes], Callable[[bytes], T]]


def _pickle_codec() -> Codec[T]:
    def dump(page: T) -> bytes:
        return pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)

    def load(data: bytes) -> T:
        page: T = pickle.loads(data)  # our own pages, from our own temp file
        return page

    return dump, load


class Spool(Protocol[T]):
    """Where one lane's pages ahead of the consumer wait, in order (the engine's spill seam).

    The default is an anonymous temporary file per lane; a strategy may pass its own (the
    consistent export's durable spool beside its checkpoint) with ``PageEngine(spool=...)``.
    """

    pages: int

    def append(self, page: T) -> None:
        """Keep ``page`` after the pages kept so far."""

    def pop(self) -> T:
        """The first page kept (there is one)."""

    def close(self) -> None:
        """Drop what is kept."""


class _Spool(Generic[T]):
    """Pages of one lane on disk, in order (a temporary file, truncated once read through)."""

    def __init__(self, codec: Codec[T] | None = None) -> None:
        self._dump, self._load = codec if codec is not None else _pickle_codec()
        self._file: IO[bytes] | None = None
        self._read = 0
        self._write = 0
        self.pages = 0

    def append(self, page: T) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        data = self._dump(page)
        self._file.seek(self._write)
        self._file.write(len(data).to_bytes(8, "little"))
        self._file.write(data)
        self._write = self._file.tell()
        self.pages += 1

    def pop(self) -> T:
        assert self._file is not None
        assert self.pages > 0
        self._file.seek(self._read)
        size = int.from_bytes(self._file.read(8), "little")
        page = self._load(self._file.read(size))
        self._read = self._file.tell()
        self.pages -= 1
        if self.pages == 0:
            self._file.seek(0)
            self._file.truncate()
            self._read = self._write = 0
        return page

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.pages = 0


class _Slot(Generic[T]):
    """One lane's place in the order: its task, its pages waiting, its outcome."""

    __slots__ = ("error", "finished", "lane", "memory", "source", "spool", "task")

    def __init__(
        self,
        lane: Lane[T] | None = None,
        source: Iterator[Lane[T]] | None = None,
        spool: Spool[T] | None = None,
    ):
        self.lane = lane
        self.source = source  # a lazy series of lanes (pulled one at a time when scheduling)
        self.task: asyncio.Task[None] | None = None
        self.memory: deque[T] = deque()
        self.spool: Spool[T] = spool if spool is not None else _Spool()
        self.finished = False
        self.error: BaseException | None = None

    def has_pages(self) -> bool:
        return bool(self.memory) or self.spool.pages > 0


class LaneContext(Generic[T]):
    """What a running lane may do: put pages, wait for its turn, add lanes after itself."""

    __slots__ = ("_engine", "_slot")

    def __init__(self, engine: PageEngine[T], slot: _Slot[T]) -> None:
        self._engine = engine
        self._slot = slot

    async def put(self, page: T) -> None:
        """Hand over the next page of this lane (waits while the memory bound is reached)."""
        await self._engine._put(self._slot, page)

    async def turn(self) -> None:
        """Wait until this lane may send its next request (only ever waits with prefetch 0)."""
        await self._engine._turn(self._slot)

    def insert_after(self, lane: Lane[T]) -> None:
        """Insert ``lane`` right after this lane in the order (before earlier insertions)."""
        self._engine._insert(self._slot, self._engine._lane_slot(lane))

    def follow(self, lanes: Iterable[Lane[T]]) -> None:
        """Insert a lazy series of lanes right after this lane (pulled when they can run)."""
        self._engine._insert(self._slot, _Slot(source=iter(lanes)))

    def offer(self) -> None:
        """Tell the engine this lane's state changed: it may use free slots (``on_idle``)."""
        if not self._engine._closing:
            self._engine._schedule()

    @property
    def is_head(self) -> bool:
        """True while the consumer is reading this lane's pages."""
        return self._engine._head() is self._slot


class PageEngine(Generic[T]):
    """Runs lanes concurrently and yields their pages in lane order (see the module docstring).

    Args:
        concurrency: lanes running at once (>= 1).
        prefetch: pages requested ahead of the consumer; 0 makes every request wait until the
            consumer asks for a page. Also the number of pages the lane being consumed may hold.
        memory_pages: pages of lanes ahead of the consumer held in memory at most.
        spill: pages that do not fit in memory go to a temporary file instead of waiting.
        on_idle: called when fewer than ``concurrency`` lanes run and none is waiting to start;
            it may split a running lane (:meth:`LaneContext.insert_after`) to use the slot.
        on_page: called with each page as it is yielded.
        codec: ``(dump, load)`` of spilled pages (default: pickle).
        spool: makes each lane's spill (instead of an anonymous temporary file with ``codec``),
            e.g. a durable one whose pages survive the process.
        body_reads: answers' bodies the lanes read at once (the others wait after their
            headers; see ``_transport.body_reads``): requests in flight cost no memory, bodies
            do.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        prefetch: int,
        memory_pages: int | None = None,
        spill: bool = False,
        on_idle: Callable[[], None] | None = None,
        on_page: Callable[[T], None] | None = None,
        codec: Codec[T] | None = None,
        spool: Callable[[], Spool[T]] | None = None,
        body_reads: int = C.MAX_BODY_READS,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.memory_pages = concurrency if memory_pages is None else memory_pages
        self.spill = spill
        self.codec = codec
        self._spool = spool
        self.body_reads = ensure_int(body_reads, "body_reads", minimum=1)
        self._body_reads: asyncio.Semaphore | None = None
        self._on_idle = on_idle
        self._on_page = on_page
        self._slots: list[_Slot[T]] = []
        self._in_memory = 0
        self._waiters: list[asyncio.Future[None]] = []  # woken on any change
        self._waiting = False  # the consumer waits for a page
        self._holding = False  # the consumer works on a page yielded
        self._closing = False
        self._running = False
        #: Pages yielded so far.
        self.pages = 0

    # ------------------------------------------------------------------ used by the lanes

    def _head(self) -> _Slot[T] | None:
        return self._slots[0] if self._slots else None

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_change(self) -> None:
        """Wait for the next change of any slot (each waiter has its own future)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    async def _put(self, slot: _Slot[T], page: T) -> None:
        while True:
            if slot.spool.pages:  # pages already on disk come first: keep the order
                slot.spool.append(page)
                break
            if slot is self._head():
                # The page the consumer still works on counts: ``prefetch`` pages ahead of it.
                if len(slot.memory) + self._holding < max(self.prefetch, 1):
                    self._keep(slot, page)
                    break
            elif self._in_memory < self.memory_pages:
                self._keep(slot, page)
                break
            elif self.spill:
                slot.spool.append(page)
                break
            await self._wait_change()
        self._notify()

    def _lane_slot(self, lane: Lane[T]) -> _Slot[T]:
        spool = self._spool() if self._spool is not None else _Spool(self.codec)
        return _Slot(lane=lane, spool=spool)

    def _keep(self, slot: _Slot[T], page: T) -> None:
        slot.memory.append(page)
        self._in_memory += 1

    async def _turn(self, slot: _Slot[T]) -> None:
        while self.prefetch == 0 and not (
            self._waiting and slot is self._head() and not slot.has_pages()
        ):
            await self._wait_change()

    def _insert(self, after: _Slot[T], new: _Slot[T]) -> None:
        if self._closing:
            return
        index = self._slots.index(after)
        self._slots.insert(index + 1, new)
        self._schedule()
        self._notify()

    # ------------------------------------------------------------------ scheduling

    def _busy(self) -> int:
        """Slots that count against ``concurrency``: running lanes, and without spilling also
        finished lanes whose pages wait."""
        count = 0
        for slot in self._slots:
            if slot.task is None:
                continue
            if not slot.finished or (not self.spill and slot.has_pages()):
                count += 1
        return count

    def _schedule(self) -> None:
        idle_called = False
        while not self._closing:
            busy = self._busy()
            if busy >= self.concurrency:
                return
            started = False
            for index, slot in enumerate(self._slots):
                if slot.source is not None:
                    lane = next(slot.source, None)
                    if lane is None:
                        del self._slots[index]
                    else:
                        new = self._lane_slot(lane)
                        self._slots.insert(index, new)
                        self._start(new)
                    started = True
                    break
                if slot.task is None and not slot.finished:
                    self._start(slot)
                    started = True
                    break
            if started:
                continue
            if self._on_idle is None or idle_called:
                return
            idle_called = True  # it may insert lanes; then the loop starts them
            self._on_idle()

    def _start(self, slot: _Slot[T]) -> None:
        assert slot.lane is not None
        # The lane's task (and every task it starts) reads its answers' bodies within the
        # engine's bound: the task copies the context as it is created.
        if self._body_reads is None:
            self._body_reads = asyncio.Semaphore(self.body_reads)
        token = body_reads.set(self._body_reads)
        try:
            slot.task = asyncio.ensure_future(self._drive(slot, slot.lane))
        finally:
            body_reads.reset(token)

    async def _drive(self, slot: _Slot[T], lane: Lane[T]) -> None:
        try:
            await lane(LaneContext(self, slot))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, in order
            slot.error = exc
        finally:
            slot.finished = True
            if not self._closing:
                self._schedule()
            self._notify()

    def running_lanes(self) -> int:
        """Lanes running now (for strategies deciding whether to split)."""
        return sum(1 for s in self._slots if s.task is not None and not s.finished)

    # ------------------------------------------------------------------ the consumer

    async def run(self, lanes: Iterable[Lane[T]]) -> AsyncGenerator[T, None]:
        """Yield the pages of ``lanes`` (and of the lanes they insert), in order.

        One run per engine. Close the generator (``aclose``) to stop early: every lane task
        is cancelled and awaited before ``aclose`` returns.
        """
        if self._running:
            raise RuntimeError("a PageEngine runs once")
        self._running = True
        self._slots.append(_Slot(source=iter(lanes)))
        waited = False  # the loop ran other tasks since the last page was yielded
        try:
            while True:
                self._schedule()
                head = self._head()
                if head is None:
                    return
                if head.source is not None:  # an exhausted series not yet removed
                    continue
                if head.memory:
                    page = head.memory.popleft()
                    self._in_memory -= 1
                elif head.spool.pages:
                    page = head.spool.pop()
                elif head.finished:
                    del self._slots[0]
                    head.spool.close()
                    self._notify()
                    if head.error is not None:
                        error, head.error = head.error, None
                        raise error
                    continue
                else:
                    self._waiting = True
                    self._notify()  # a lane waiting for its turn (prefetch 0) may go now
                    try:
                        await self._wait_change()
                    finally:
                        self._waiting = False
                    waited = True
                    continue
                if head.finished and not head.has_pages() and head.error is None:
                    del self._slots[0]  # free its place before the consumer works on the page
                    head.spool.close()
                self._notify()
                self._schedule()
                self.pages += 1
                if self._on_page is not None:
                    self._on_page(page)
                self._holding = True
                try:
                    if not waited:
                        # Let the lanes run before the consumer works on the page: with pages
                        # waiting it would otherwise take one after another, the loop reading
                        # no answer and sending no request meanwhile (late reads lengthen
                        # every round trip of the walk).
                        await asyncio.sleep(0)
                    waited = False
                    yield page
                finally:
                    self._holding = False
                self._notify()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Cancel every lane and wait for them; drop pages still held."""
        self._closing = True
        tasks = [slot.task for slot in self._slots if slot.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for slot in self._slots:
            slot.spool.close()
        self._slots.clear()
        self._in_memory = 0
