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

Adaptive splitting: the walk starts with one partition. Every window's answer carries
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

__all__ = ["MAX_EXTRA", "MIN_PAGES", "Partition", "SplitPlanner"]

#: The extra requests that splitting may cost, as a fraction of a sequential walk's.
MAX_EXTRA: Final = 0.03
#: Fewest pages each half of a split must be expected to hold (a split wastes <= 1 request).
MIN_PAGES: Final = 17
_ONE_MICROSECOND: Final = timedelta(microseconds=1)


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
