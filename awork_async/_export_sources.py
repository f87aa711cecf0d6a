"""What an export writes, page by page, with the checkpoint each position allows: the keyset
walk's pages (consistent mode) or offset pages in the caller's order (ordered mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import attrs

from ._checkpoint import ExportCheckpoint
from ._json_pages import _JsonPage
from ._keyset import KeysetCursor, Row
from ._keyset_walk import KeysetWalk, _not_an_object

if TYPE_CHECKING:
    from ._client import AworkClient


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
