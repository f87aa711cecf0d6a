"""One paginator for every list call of the API (1-based ``page``/``pageSize`` pages).

``list()`` methods return an :class:`AsyncPaginator` without sending anything. Iterate it with
``async for`` for items, call :meth:`AsyncPaginator.pages` for pages (items plus the ``aw-*``
headers), or :meth:`AsyncPaginator.collect` for a list. Each iteration starts from the first page
again: the state of a walk lives in the walk, never on the client or the paginator.

Stopping rule (API notes §2, awork#120): stop when the ``aw-totalitems`` total is reached, or on
an empty page. A short page is *not* the end: the server has been seen returning short pages in
the middle of a list. An impossible total (negative, not an integer, or fewer than the items
already received, e.g. ``0`` while items arrive) raises :class:`APIResponseValidationError`
instead of ending the walk (:func:`_sansio.checked_total_items`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from . import _constants as C
from ._pages import Lane, LaneContext, PageEngine
from ._response import APIResponse, RawResponse
from ._validation import ensure_int

__all__ = ["AsyncPaginator", "Page", "PageFetcher", "validate_page_size"]

T = TypeVar("T")

#: Fetches one page: ``(page_number, page_size) -> APIResponse`` whose ``parsed`` is the page's
#: items (the call's one record: its raw response comes with it).
PageFetcher = Callable[[int, int], Awaitable[APIResponse[Sequence[T]]]]
#: The former fetcher shape, ``(page_number, page_size) -> (items, raw response)``: still
#: accepted, with a :class:`DeprecationWarning`.
TuplePageFetcher = Callable[[int, int], Awaitable[tuple[Sequence[T], RawResponse]]]


def validate_page_size(page_size: int) -> int:
    """Return ``page_size`` or raise ``ValueError``/``TypeError`` when the API would reject it."""
    return ensure_int(page_size, "page_size", minimum=C.MIN_PAGE_SIZE, maximum=C.MAX_PAGE_SIZE)


@attrs.frozen
class Page(Generic[T]):
    """One page of a list.

    Attributes:
        items: the page's items, in server order.
        page: the 1-based page number that was requested.
        page_size: the page size that was requested.
        total_items: ``aw-totalitems`` (items matching the filter), ``None`` when not sent.
        response: the raw response (status, headers, trace id, rate-limit state).
    """

    items: Sequence[T]
    page: int
    page_size: int
    total_items: int | None
    response: RawResponse = attrs.field(repr=False, eq=False)

    @property
    def total_pages(self) -> int | None:
        """Pages needed for ``total_items`` at this page size, when the total is known."""
        if self.total_items is None:
            return None
        return -(-self.total_items // self.page_size)

    @property
    def is_last(self) -> bool:
        """True when no further page can hold items (by the total, or this page is empty)."""
        if not self.items:
            return True
        return self.total_items is not None and self.page * self.page_size >= self.total_items

    def __len__(self) -> int:
        return len(self.items)


class AsyncPaginator(Generic[T]):
    """Streams a paginated list, item by item or page by page.

    Args:
        fetch: fetches one page (the resource supplies it): an :class:`APIResponse` whose
            ``parsed`` holds the page's items. A fetcher returning an ``(items, raw response)``
            tuple still works but is deprecated (a :class:`DeprecationWarning` on its first
            page).
        page_size: items per request, 1..1000 (always sent; the API's defaults disagree).
        start_page: the first page to fetch (to resume a walk).
        max_items: stop after this many items.
        prefetch: pages fetched concurrently ahead of the consumer once the first page has
            revealed the total (0 = sequential). Results are still yielded in order and at most
            ``prefetch + 1`` pages are held in memory.
    """

    def __init__(
        self,
        fetch: PageFetcher[T] | TuplePageFetcher[T],
        *,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        max_items: int | None = None,
        prefetch: int = 0,
        fetch_raw: PageFetcher[dict[str, Any]] | TuplePageFetcher[dict[str, Any]] | None = None,
    ) -> None:
        self._fetch = fetch
        self._fetch_raw = fetch_raw
        self.page_size = validate_page_size(page_size)
        if isinstance(start_page, bool) or not isinstance(start_page, int) or start_page < 1:
            raise ValueError(f"start_page must be an int >= 1, got {start_page!r}")
        self.start_page = start_page
        if max_items is not None and (isinstance(max_items, bool) or max_items < 0):
            raise ValueError(f"max_items must be None or >= 0, got {max_items!r}")
        self.max_items = max_items
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"prefetch must be an int >= 0, got {prefetch!r}")
        self.prefetch = prefetch

    def __repr__(self) -> str:
        return (
            f"AsyncPaginator(page_size={self.page_size}, start_page={self.start_page}, "
            f"max_items={self.max_items}, prefetch={self.prefetch})"
        )

    async def first_page(self) -> Page[T]:
        """Fetch only the first page (``start_page``)."""
        return await self._get(self.start_page)

    async def _get(self, number: int) -> Page[T]:
        answer = await self._fetch(number, self.page_size)
        if isinstance(answer, tuple):
            answer = _from_tuple(answer, self._fetch)
        items, raw = answer.parsed, answer.raw
        total = raw.checked_total_items(page=number, page_size=self.page_size, received=len(items))
        return Page(
            items=items,
            page=number,
            page_size=self.page_size,
            total_items=total,
            response=raw,
        )

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        """Yield pages in order until the list is exhausted (or ``max_items`` is reached)."""
        remaining = self.max_items
        if remaining == 0:
            return
        async with contextlib.aclosing(self._walk()) as walk:
            async for page in walk:
                if remaining is not None and len(page.items) >= remaining:
                    if len(page.items) > remaining:
                        page = attrs.evolve(page, items=page.items[:remaining])
                    yield page
                    return
                if remaining is not None:
                    remaining -= len(page.items)
                yield page

    async def _walk(self) -> AsyncGenerator[Page[T], None]:
        """Offset pages on the page engine: one lane per page, ``prefetch`` lanes at once.

        The first page (alone) reveals the total; the pages up to it are then requested
        ``prefetch`` at a time and yielded in order. If the list shrank meanwhile, an empty
        page ends the walk early; if it grew, the walk goes on one page at a time past the
        total until an empty or final page. Without prefetch (or without a total) each page is
        requested only when the consumer asks for it.
        """
        engine: PageEngine[Page[T]] = PageEngine(
            concurrency=max(self.prefetch, 1), prefetch=self.prefetch
        )
        planned = [self.start_page]  # the last page number planned from the first total

        def lane(number: int, chain: bool) -> Lane[Page[T]]:
            async def run(ctx: LaneContext[Page[T]]) -> None:
                await ctx.turn()
                page = await self._get(number)
                await ctx.put(page)  # first, so that the consumer has it before later lanes run
                if number == self.start_page and not page.is_last:
                    if self.prefetch > 0 and page.total_items is not None:
                        last = max(page.page, page.total_pages or page.page)
                        if self.max_items is not None:
                            needed = -(-(self.max_items - len(page.items)) // self.page_size)
                            last = min(last, page.page + max(needed, 0))
                        planned[0] = last
                        if last > number:
                            ctx.follow(lane(n, n == last) for n in range(number + 1, last + 1))
                        else:
                            ctx.insert_after(lane(number + 1, True))
                    else:
                        ctx.insert_after(lane(number + 1, True))
                elif chain and not page.is_last:
                    ctx.insert_after(lane(number + 1, True))

            return run

        async with contextlib.aclosing(engine.run([lane(self.start_page, False)])) as pages:
            async for page in pages:
                yield page
                if not page.items or (page.is_last and page.page >= planned[0]):
                    return

    async def _items(self) -> AsyncGenerator[T, None]:
        # aclosing: an abandoned iteration closes the walk at once, cancelling prefetches.
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def collect(self, max_items: int | None = None) -> list[T]:
        """Fetch every item (or the first ``max_items``) into a list."""
        limit = self.max_items if max_items is None else max_items
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"max_items must be None or >= 0, got {limit!r}")
        walker = self if limit == self.max_items else self._with(max_items=limit)
        result: list[T] = []
        async with contextlib.aclosing(walker.pages()) as pages:
            async for page in pages:
                result.extend(page.items)
        return result

    def _with(self, *, max_items: int | None) -> AsyncPaginator[T]:
        return AsyncPaginator(
            self._fetch,
            page_size=self.page_size,
            start_page=self.start_page,
            max_items=max_items,
            prefetch=self.prefetch,
            fetch_raw=self._fetch_raw,
        )

    def raw(self) -> AsyncPaginator[dict[str, Any]]:
        """The same list as plain JSON dicts (camelCase, as the API sent them), not decoded.

        For callers that only forward data: skips building models, the costly part of a walk.
        """
        if self._fetch_raw is None:
            raise TypeError("this paginator has no raw mode")
        return AsyncPaginator(
            self._fetch_raw,
            page_size=self.page_size,
            start_page=self.start_page,
            max_items=self.max_items,
            prefetch=self.prefetch,
        )


def _from_tuple(
    answer: tuple[Sequence[T], RawResponse], fetch: Callable[..., object]
) -> APIResponse[Sequence[T]]:
    """The record of a page from a fetcher of the former ``(items, raw)`` shape."""
    name = getattr(fetch, "__qualname__", repr(fetch))
    warnings.warn(
        f"AsyncPaginator: the page fetcher {name} returns an (items, raw response) tuple; "
        "return APIResponse(parsed=items, raw=raw) instead (tuples are deprecated)",
        DeprecationWarning,
        stacklevel=4,
    )
    items, raw = answer
    return APIResponse(items, raw)
