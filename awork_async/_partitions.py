"""Partitions of a consistent walk's key range, and when and where to split them (pure).

A consistent walk (:class:`~awork_async.export.KeysetWalk`) reads keyset windows ordered by a
key (``createdOn`` for exports, ``updatedOn`` for syncs). To have several requests in flight,
the key range is cut into **partitions** ``[lo, hi)`` that are walked at the same time, each as
one lane of the page engine (:mod:`awork_async._pages`), and yielded in key order.

Exactly once: every entry belongs to the one partition whose ``[lo, hi)`` holds its key *when it
is read*; each partition's keyset walk yields every entry of its range present for its whole walk
exactly once (see :mod:`awork_async.export`), and a partition cut in two while its window is in
flight drops that window's entries at or after the cut (they belong to the new partition). The
bounds are whole microseconds, so a tie group (entries sharing one key, walked by id in the
window ``[X, X + 1 µs)``) always lies inside one partition. The last partition is open
(``hi = None``): entries created or updated during the walk land there.

Partitions from offset quantiles: after the walk's first window (whose ``aw-totalitems`` is
the size ``N`` of the whole range), the walk plans :func:`partition_count` partitions (about
:data:`PARTITION_PAGES` pages each, never fewer than the lanes) at near even quantiles of ``N``
(:func:`offset_plan`, computed once). Partition i starts at the first key of offset page i
greater than the page's first key (the first tie group stays with the partition before: bounds
stay whole microseconds), and the rest of that page is its first window: exactly the entries of
``[start, last key]`` present when the page was read, like a window query would have answered.
A page that is empty, a single tie group or (changes meanwhile) not after the previous start
adds no partition. The partitions start **lazily, in key order**, as lane slots free up: a lane
reads its own offset page and the next one (its upper bound) before its first window, so the
lanes always work on the partitions right ahead of the consumer: in-order pages arrive at
about the full request rate, little is spooled, and the walk's tail is a partition's few
pages. The starts are *aligned* so that every partition's last window is full: the walk makes
about the requests of a sequential one (a tie group at a start costs one window at most).
The windows that aligned shares leave over go to the first partition, walked while every lane
is busy, not to the last ones, which would walk them alone at the end of the walk.

Adaptive splitting (what is left of the first design; it still uses idle lane slots, e.g. on a
resumed walk or when data arrive where no partition expected them): the walk starts with one
partition. Every window's answer carries
``aw-totalitems``, the exact number of entries left in that partition's range; whenever a lane
slot is free, the partition with the most entries left is cut in two (at the middle of its
range; for the open one, the earlier of where its last page's density puts half of them and
halfway to now), provided both
halves are expected to hold at least :data:`MIN_PAGES` pages and the walk's split budget is not
spent. A split costs one request at most and half a request on average (the lower part's last
window is partly full), so the budget allows ``2 x MAX_EXTRA`` splits per page of a sequential
walk and the extra requests stay around ``MAX_EXTRA`` of a sequential walk's (measured in
``benchmarks/bench_walks.py``); dense ranges (bulk imports, busy months) get split again
as their counts show, sparse ones do not.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

import attrs

__all__ = [
    "MAX_EXTRA",
    "MIN_PAGES",
    "PARTITION_PAGES",
    "Partition",
    "SplitPlanner",
    "offset_plan",
    "partition_count",
]

#: The extra requests that splitting may cost, as a fraction of a sequential walk's.
MAX_EXTRA: Final = 0.03
#: Fewest pages each half of a split must be expected to hold (a split wastes <= 1 request).
MIN_PAGES: Final = 17
#: Pages of a partition planned from offset quantiles (many more partitions than lanes).
PARTITION_PAGES: Final = 2
_ONE_MICROSECOND: Final = timedelta(microseconds=1)


def partition_count(total: int, page_size: int, concurrency: int) -> int:
    """How many partitions a walk of ``total`` entries plans (its lanes start them lazily).

    About :data:`PARTITION_PAGES` pages each, and never fewer than the lanes: the lanes work on
    the partitions right ahead of the consumer, so the pages come in order at about the full
    request rate and the walk's tail (the last partitions) is short.
    """
    pages = -(-total // page_size)
    return min(pages, max(concurrency, -(-pages // PARTITION_PAGES)))


@attrs.define(eq=False)
class Partition:
    """One partition's state (mutated by its lane and by the planner).

    Attributes:
        hi: the exclusive upper bound (``None``: open).
        position: the key of the window now requested (or of the last one).
        left: entries left after the last page received (``aw-totalitems`` minus the page),
            ``None`` before the first answer or after a split.
        density: entries per second of key in the last page (``None`` when unknown).
        in_group: walking a tie group (never split then).
        done: the lane has finished.
    """

    hi: datetime | None
    position: datetime | None = None
    left: int | None = None
    density: float | None = None
    in_group: bool = False
    done: bool = False


@attrs.define
class SplitPlanner:
    """Decides splits for one walk.

    Args:
        page_size: entries per window.
        now: the current time (the estimate of the open partition's end).
        max_extra: the split budget as a fraction of the pages of a sequential walk.
        min_pages: fewest pages each half of a split must be expected to hold.
    """

    page_size: int
    now: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc))
    max_extra: float = MAX_EXTRA
    min_pages: int = MIN_PAGES
    #: Start with partitions read from offset quantiles (:func:`offset_plan`).
    quantiles: bool = True
    budget: int | None = None
    splits: int = 0

    def observe_total(self, total: int | None) -> None:
        """Set the split budget from the first window's total (entries a sequential walk reads)."""
        if self.budget is None and total is not None:
            pages = -(-total // self.page_size)
            # A split costs half a request on average (its lower part's last page is partly
            # full) and one at worst; the budget counts the average.
            self.budget = int(pages * self.max_extra * 2)

    def choose(self, partitions: list[Partition]) -> tuple[Partition, datetime] | None:
        """The partition to split and where, or ``None`` when no split is worth it."""
        if self.budget is None or self.splits >= self.budget:
            return None
        floor = 2 * self.min_pages * self.page_size
        candidates = [
            p
            for p in partitions
            if not p.done
            and not p.in_group
            and p.left is not None
            and p.left >= floor
            and p.position is not None
        ]
        for part in sorted(candidates, key=lambda p: -(p.left or 0)):
            cut = self.cut(part)
            if cut is not None:
                return part, cut
        return None

    def cut(self, part: Partition) -> datetime | None:
        """Where to cut ``part``: the middle of its range by expected count, or ``None``."""
        assert part.position is not None
        assert part.left is not None
        low = part.position + _ONE_MICROSECOND
        if part.hi is not None:
            middle = part.position + (part.hi - part.position) / 2
        elif part.density is not None and part.density > 0:
            middle = part.position + timedelta(seconds=part.left / 2 / part.density)
            if self.now > part.position:  # and the range is not expected to end after now
                middle = min(middle, part.position + (self.now - part.position) / 2)
        elif self.now > part.position:
            middle = part.position + (self.now - part.position) / 2
        else:
            return None
        if middle < low or (part.hi is not None and middle >= part.hi):
            return None
        return middle

    def split(self, part: Partition, cut: datetime) -> Partition:
        """Cut ``part`` at ``cut``: it keeps ``[.., cut)``, the new partition gets the rest."""
        new = Partition(hi=part.hi, position=cut)
        part.hi = cut
        part.left = None  # unknown until its next answer
        self.splits += 1
        return new


def offset_plan(total: int, page_size: int, first: int, partitions: int) -> list[tuple[int, int]]:
    """The offset requests (``page``, ``pageSize``) that start partitions 1..n-1 (pure).

    ``total`` entries lie in the walk's range (``aw-totalitems`` of its first window, which
    holds the first ``first`` of them); ``partitions`` is the wanted count. Request number i
    reads the entries at positions ``[t_i, t_i + q_i)`` of the range: partition i starts after
    that page's first entry (and its key), so it holds ``q_i - 1`` of them and walks on from
    there in windows of ``page_size``.

    The starts are placed near even quantiles (``i * total / partitions``) but *aligned*: a
    partition whose first page ends at position ``e`` reads ``page_size - 1`` new entries in
    each further window (a window re-reads the entry its inclusive bound starts at), so the
    next start is chosen with ``t ≡ e - 1 (mod page_size - 1)`` (the ``- 1``: the next page's
    first entry belongs to this partition). Each partition's last
    window is then full and ``aw-totalitems`` says it is the last: no request more than a
    sequential walk's (without ties at a start or churn, which cost one window at most). A
    start is a multiple of its page size, so the page size is a divisor of an aligned
    position between ``page_size / 2`` and ``page_size``, searched a few pages around the
    quantile; where none exists the start is a plain page (unaligned: one window more).

    The windows that do not fit (aligned partitions hold a little less than the even share, so
    the rest piles up at the end: the last partitions take more windows than a typical one)
    go to the *first* partition, not to the last ones: the lanes
    start the partitions in key order, so a longer partition at the end is the walk's tail
    (one lane walking windows one after another while the others are done), one at the start
    runs while every lane is busy. The plan is made again with the first partition longer by
    those windows and kept when it costs no more requests.
    """
    plan = _aligned_plan(total, page_size, first, partitions, 0)
    counts = _partition_requests(total, page_size, first, plan)
    extra = _tail_excess(counts[1:])
    if extra:
        longer_first = _aligned_plan(total, page_size, first, partitions, extra)
        if sum(_partition_requests(total, page_size, first, longer_first)) <= sum(counts):
            plan = longer_first
    return plan


def _tail_excess(counts: list[int]) -> int:
    """The windows the partitions of the second half take beyond a typical (median) one's."""
    if not counts:
        return 0
    typical = sorted(counts)[len(counts) // 2]
    return sum(max(0, count - typical) for count in counts[len(counts) // 2 :])


def _aligned_plan(
    total: int, page_size: int, first: int, partitions: int, lead: int
) -> list[tuple[int, int]]:
    """:func:`offset_plan`'s starts, the first partition ``lead`` windows longer than its share."""
    plan: list[tuple[int, int]] = []
    # Each further window re-reads the last entry before it (its bound is inclusive): it
    # brings page_size - 1 new entries.
    period = max(page_size - 1, 1)
    end = first  # where the previous partition's first page ends
    previous = lead * period  # where the previous partition starts (the first: its lead)
    for index in range(1, partitions):
        # The rest shared evenly (a start moved by the alignment does not pile up).
        wanted = previous + (total - previous) // (partitions - index + 1)
        residue = (end - 1) % period
        best: tuple[float, int, int] | None = None
        for size in range(page_size, max(1, page_size // 2) - 1, -1):
            if best is not None and (page_size - size) / page_size >= best[0]:
                break  # smaller pages only cost more (the other terms are >= 0)
            low = max(wanted - 2 * period, end + 1)
            high = min(wanted + 2 * period, total - size)
            for start in range(-(-low // size) * size, high + 1, size):
                # An offset page of ``size`` entries costs a request all the same; a start
                # short of the aligned one leaves the partition before a last window that
                # is not full (the share missing is wasted); a start away from the quantile
                # makes one partition longer (the walk ends with its longest partition).
                cost = (
                    (page_size - size) / page_size
                    + (residue - start) % period / period
                    + 0.4 * abs(start - wanted) / page_size
                )
                if best is None or cost < best[0]:
                    best = (cost, start, size)
        if best is None:
            break
        _, start, size = best
        plan.append((start // size + 1, size))
        previous, end = start, start + size
    return plan


def _partition_requests(
    total: int, page_size: int, first: int, plan: list[tuple[int, int]]
) -> list[int]:
    """The requests each partition of ``plan`` costs without changes (the first: its first
    window and the windows after it; each other: its offset page and its windows)."""
    period = max(page_size - 1, 1)
    starts = [(page - 1) * size for page, size in plan]
    # Partition i holds the entries after its page's first one up to the next page's first.
    ends = [*starts, total - 1]
    pages = [(0, first), *((start, size) for start, (_, size) in zip(starts, plan, strict=True))]
    counts = []
    for (start, size), end in zip(pages, ends, strict=True):
        rest = end - (start + size - 1)  # entries after its first page (windows re-read one)
        counts.append(1 + max(1, -(-rest // period)))
    return counts
