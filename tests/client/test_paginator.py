"""The one paginator: stop rules, short pages, max_items, prefetch ordering and bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from awork_async._exceptions import APIResponseValidationError
from awork_async._paginator import AsyncPaginator
from awork_async._response import APIResponse, RawResponse


def _raw(total: int | None) -> RawResponse:
    headers: CIMultiDict[str] = CIMultiDict()
    if total is not None:
        headers["aw-totalitems"] = str(total)
    return RawResponse(
        method="GET", url="https://x.test/", status=200, headers=CIMultiDictProxy(headers)
    )


class FakeList:
    """A server-side list: serves pages, can send short pages and omit the total."""

    def __init__(
        self,
        n: int,
        *,
        send_total: bool = True,
        short_pages: dict[int, int] | None = None,
    ) -> None:
        self.items = list(range(n))
        self.send_total = send_total
        self.short_pages = short_pages or {}
        self.requests: list[tuple[int, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None

    async def fetch(self, page: int, size: int) -> APIResponse[Sequence[int]]:
        self.requests.append((page, size))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            chunk = self.items[(page - 1) * size : page * size]
            if page in self.short_pages:
                chunk = chunk[: self.short_pages[page]]
            return APIResponse(chunk, _raw(len(self.items) if self.send_total else None))
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize(
    ("n", "size", "pages"), [(0, 10, 1), (10, 10, 1), (30, 10, 3), (31, 10, 4)]
)
async def test_stops_on_total_without_extra_request(n: int, size: int, pages: int) -> None:
    server = FakeList(n)
    items = [i async for i in AsyncPaginator(server.fetch, page_size=size)]
    assert items == list(range(n))
    assert [p for p, _ in server.requests] == list(range(1, pages + 1))
    assert all(s == size for _, s in server.requests)


async def test_without_total_stops_on_empty_page() -> None:
    server = FakeList(25, send_total=False)
    items = await AsyncPaginator(server.fetch, page_size=10).collect()
    assert items == list(range(25))
    # 10 + 10 + 5 (short) + empty page: a short page is not trusted as the end.
    assert [p for p, _ in server.requests] == [1, 2, 3, 4]


async def test_short_page_mid_list_is_not_the_end() -> None:
    server = FakeList(30, short_pages={2: 4})
    items = await AsyncPaginator(server.fetch, page_size=10).collect()
    assert items == list(range(14)) + list(range(20, 30))
    assert [p for p, _ in server.requests] == [1, 2, 3]


async def test_short_page_mid_list_without_total() -> None:
    server = FakeList(30, send_total=False, short_pages={1: 3})
    items = await AsyncPaginator(server.fetch, page_size=10).collect()
    assert items == [0, 1, 2, *range(10, 30)]


@pytest.mark.parametrize("max_items", [0, 1, 10, 15, 30, 100])
async def test_max_items(max_items: int) -> None:
    server = FakeList(30)
    pager = AsyncPaginator(server.fetch, page_size=10, max_items=max_items)
    items = [i async for i in pager]
    assert items == list(range(min(max_items, 30)))
    assert len(server.requests) == (0 if max_items == 0 else min(-(-max_items // 10), 3))


async def test_collect_max_items_argument_overrides() -> None:
    server = FakeList(30)
    assert await AsyncPaginator(server.fetch, page_size=7).collect(max_items=8) == list(range(8))


async def test_pages_carry_numbers_and_total() -> None:
    server = FakeList(25)
    pages = [p async for p in AsyncPaginator(server.fetch, page_size=10).pages()]
    assert [(p.page, len(p), p.total_items, p.total_pages) for p in pages] == [
        (1, 10, 25, 3),
        (2, 10, 25, 3),
        (3, 5, 25, 3),
    ]
    assert pages[-1].is_last and not pages[0].is_last


async def test_each_iteration_starts_over() -> None:
    server = FakeList(12)
    pager = AsyncPaginator(server.fetch, page_size=5)
    assert await pager.collect() == await pager.collect() == list(range(12))


async def test_start_page_resumes() -> None:
    server = FakeList(30)
    assert await AsyncPaginator(server.fetch, page_size=10, start_page=3).collect() == list(
        range(20, 30)
    )


@pytest.mark.parametrize("bad", [0, 1001, -5])
def test_page_size_range(bad: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        AsyncPaginator(FakeList(1).fetch, page_size=bad)


def test_page_size_type() -> None:
    with pytest.raises(TypeError):
        AsyncPaginator(FakeList(1).fetch, page_size=True)


@pytest.mark.parametrize("prefetch", [1, 3, 8])
async def test_prefetch_yields_in_order(prefetch: int) -> None:
    server = FakeList(95)
    items = await AsyncPaginator(server.fetch, page_size=10, prefetch=prefetch).collect()
    assert items == list(range(95))
    assert sorted(p for p, _ in server.requests) == list(range(1, 11))


async def test_prefetch_bounds_concurrency() -> None:
    server = FakeList(200)
    server.gate = asyncio.Event()
    pager = AsyncPaginator(server.fetch, page_size=10, prefetch=4)
    server.gate.set()
    first = await pager.first_page()
    server.gate.clear()
    gen = pager.pages()
    task = asyncio.ensure_future(gen.__anext__())
    # Let the walk schedule its requests; they all block on the gate.
    for _ in range(20):
        await asyncio.sleep(0)
    assert server.in_flight <= 4
    server.gate.set()
    page1 = await task
    assert page1.page == first.page == 1
    rest = [p async for p in gen]
    assert [p.page for p in rest] == list(range(2, 21))
    assert server.max_in_flight <= 4


async def test_prefetch_stops_on_shrunk_list() -> None:
    server = FakeList(50)
    pager = AsyncPaginator(server.fetch, page_size=10, prefetch=3)
    pages = pager.pages()
    first = await pages.__anext__()
    assert first.total_items == 50
    del server.items[25:]  # the list shrinks during the walk
    rest = [p async for p in pages]
    assert [len(p) for p in rest][:2] == [10, 5]
    assert sum(len(p) for p in rest) == 15


async def test_prefetch_continues_when_list_grew() -> None:
    server = FakeList(20)
    pager = AsyncPaginator(server.fetch, page_size=10, prefetch=2)
    pages = pager.pages()
    await pages.__anext__()
    server.items.extend(range(20, 35))
    rest = [i for p in [p async for p in pages] for i in p.items]
    assert rest == list(range(10, 35))


async def test_prefetch_cancels_outstanding_on_early_stop() -> None:
    server = FakeList(1000)
    pager = AsyncPaginator(server.fetch, page_size=10, prefetch=5)
    gen = pager.pages()
    await gen.__anext__()
    server.gate = asyncio.Event()  # later pages hang
    nxt = asyncio.ensure_future(gen.__anext__())
    for _ in range(10):
        await asyncio.sleep(0)
    nxt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await nxt
    await gen.aclose()
    for _ in range(5):
        await asyncio.sleep(0)
    assert server.in_flight == 0
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_prefetch_with_max_items_limits_requests() -> None:
    server = FakeList(1000)
    items = await AsyncPaginator(server.fetch, page_size=10, prefetch=4, max_items=25).collect()
    assert items == list(range(25))
    assert max(p for p, _ in server.requests) <= 4


# -- impossible aw-totalitems: a protocol error, never the end of the list (issue 9 §3) -----------


def _raw_text(total: str) -> RawResponse:
    return RawResponse(
        method="GET",
        url="https://x.test/",
        status=200,
        headers=CIMultiDictProxy(CIMultiDict({"aw-totalitems": total})),
    )


@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize(
    ("total", "bad_page"), [("0", 1), ("-3", 1), ("12.5", 1), ("many", 1), ("15", 2)]
)
async def test_impossible_total_raises_instead_of_ending(
    total: str, bad_page: int, prefetch: int
) -> None:
    items = list(range(50))
    requested: list[int] = []

    async def fetch(page: int, size: int) -> APIResponse[Sequence[int]]:
        requested.append(page)
        header = total if page == bad_page else "50"
        return APIResponse(items[(page - 1) * size : page * size], _raw_text(header))

    paginator = AsyncPaginator(fetch, page_size=10, prefetch=prefetch)
    with pytest.raises(APIResponseValidationError, match="aw-totalitems") as info:
        await paginator.collect()
    assert "not the end of the list" in str(info.value)
    assert bad_page in requested


async def test_a_fetcher_returning_the_former_tuple_still_works_with_a_warning() -> None:
    """The constructor's former fetcher shape, ``(items, raw)``: same pages, deprecated."""
    server = FakeList(25)

    async def fetch(page: int, size: int) -> tuple[Sequence[int], RawResponse]:
        answer = await server.fetch(page, size)
        return answer.parsed, answer.raw

    with pytest.warns(DeprecationWarning, match=r"APIResponse\(parsed=items, raw=raw\)"):
        pages = [p async for p in AsyncPaginator(fetch, page_size=10).pages()]
    assert [p.items for p in pages] == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    assert [p.total_items for p in pages] == [25, 25, 25]
    assert pages[0].response is not None


async def test_pages_carry_the_fetchers_record() -> None:
    server = FakeList(3)
    page = await AsyncPaginator(server.fetch, page_size=10).first_page()
    assert page.items == [0, 1, 2] and page.total_items == 3
    assert page.response.headers["aw-totalitems"] == "3"
