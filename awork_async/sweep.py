"""The deletion sweep: which of the time entries a copy holds no longer exist in awork.

awork keeps no tombstones: a deleted entry simply stops appearing in lists, so
:func:`~awork_async.sync.changes_since` cannot report it. Webhooks
(:mod:`awork_async.webhooks`, ``timetracking_deleted``) report deletions as they happen; this
sweep is the safety net for what a receiver missed (downtime, a paused webhook, events lost in a
crash)::

    deleted = await find_deleted(awork, known_ids)
    for entry_id in deleted:
        await delete_row(entry_id)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal
from uuid import UUID

from . import _constants as C
from ._keyset_walk import KeysetWalk
from ._paginator import validate_page_size
from .filters import F, or_

if TYPE_CHECKING:
    from ._client import AworkClient

__all__ = ["DEFAULT_SWEEP_CHUNK", "find_deleted"]

#: Ids asked for per filtered request (``id eq guid'…' or …``): about 1.6 kB of query string,
#: well inside common URL limits.
DEFAULT_SWEEP_CHUNK: Final = 25
#: At most 25 ids per request: ``id eq …`` is 3 filter nodes and each ``or`` one more, so 25 ids
#: make 99 nodes, inside the 100-node bound that OData servers (``MaxNodeCount``) and the sandbox
#: apply to a filter. More ids per request would be refused with ``invalid-filter-or-order``.
_MAX_CHUNK: Final = 25

Strategy = Literal["auto", "chunks", "walk"]


def _ids(values: Iterable[UUID | str]) -> list[UUID]:
    if isinstance(values, (str, bytes, UUID)) or not isinstance(values, Iterable):
        raise TypeError("ids must be an iterable of ids, not a single id")
    out: dict[UUID, None] = {}
    for value in values:
        if isinstance(value, UUID):
            out[value] = None
        elif isinstance(value, str):
            try:
                out[UUID(value)] = None
            except ValueError:
                raise ValueError(f"ids: {value!r} is not a UUID") from None
        else:
            raise TypeError(f"ids: expected UUIDs or strings, got {type(value).__name__}")
    return list(out)


def _row_id(row: object) -> UUID | None:
    raw = row.get("id") if isinstance(row, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None


async def find_deleted(
    client: AworkClient,
    ids: Iterable[UUID | str],
    *,
    strategy: Strategy = "auto",
    chunk_size: int = DEFAULT_SWEEP_CHUNK,
    page_size: int = C.DEFAULT_PAGE_SIZE,
) -> set[UUID]:
    """The ids among ``ids`` whose time entries no longer exist (or never did).

    Two ways to find out, both consistent: an entry that exists for the whole sweep is always
    seen, so an id reported here was gone at some point during the sweep (and ids do not come
    back); an entry deleted *during* the sweep may or may not be reported (the next sweep or
    the webhook catches it).

    * ``"chunks"``: ``GET /timeentries`` filtered by ``id eq guid'…' or …`` for ``chunk_size``
      ids at a time; each answer fits one page.
    * ``"walk"``: the consistent keyset walk over every entry (``createdOn,id`` windows of
      ``page_size``, as :func:`~awork_async.export.iter_time_entries_consistent`), reading only
      the ids and stopping as soon as every id was seen.

    **Cost in requests** for ``n`` distinct ids and ``N`` entries in the workspace:

    * ``"chunks"``: ``ceil(n / chunk_size)`` (n = 1000 with the default 25: 40 requests).
    * ``"walk"``: at most ``ceil(N / page_size) + 1`` (N = 100,000: at most 101 requests), fewer
      when every id is found early.
    * ``"auto"`` (default): nothing for ``n = 0``; one request when ``n <= chunk_size``;
      otherwise one probe (``pageSize=1``, for ``aw-totalitems``) plus the cheaper of the two,
      ``1 + min(ceil(n / chunk_size), ceil(N / page_size) + 1)``. A worker sweeping its whole
      copy (n ≈ N) walks: about ``N / 1000`` requests instead of ``N / 25``.

    Bad input raises ``TypeError``/``ValueError`` before any request.
    """
    if strategy not in ("auto", "chunks", "walk"):
        raise ValueError(f"strategy must be 'auto', 'chunks' or 'walk', got {strategy!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError("chunk_size must be an int")
    if not 1 <= chunk_size <= _MAX_CHUNK:
        raise ValueError(f"chunk_size must be between 1 and {_MAX_CHUNK}, got {chunk_size}")
    validate_page_size(page_size)
    wanted = _ids(ids)
    if not wanted:
        return set()
    if strategy == "auto":
        strategy = (
            "chunks"
            if len(wanted) <= chunk_size
            else await _cheaper(client, len(wanted), chunk_size, page_size)
        )
    if strategy == "chunks":
        return await _by_chunks(client, wanted, chunk_size)
    return await _by_walk(client, wanted, page_size)


async def _cheaper(client: AworkClient, count: int, chunk_size: int, page_size: int) -> Strategy:
    """One ``pageSize=1`` request for the total, then the strategy with fewer requests."""
    first = await client.time_entries.list(page_size=1).raw().first_page()
    total = first.total_items
    chunks = -(-count // chunk_size)
    if total is None:
        return "chunks"
    walk = -(-total // page_size) + 1
    return "walk" if walk < chunks else "chunks"


async def _by_chunks(client: AworkClient, wanted: list[UUID], chunk_size: int) -> set[UUID]:
    missing: set[UUID] = set()
    for start in range(0, len(wanted), chunk_size):
        chunk = wanted[start : start + chunk_size]
        found: set[UUID] = set()
        query = or_(*(F.id == entry_id for entry_id in chunk))
        pager = client.time_entries.list(filterby=query, page_size=max(chunk_size, 1)).raw()
        async for row in pager:
            row_id = _row_id(row)
            if row_id is not None:
                found.add(row_id)
        missing.update(entry_id for entry_id in chunk if entry_id not in found)
    return missing


async def _by_walk(client: AworkClient, wanted: list[UUID], page_size: int) -> set[UUID]:
    missing = set(wanted)
    # No prefetch: a window is requested only when the previous one left ids unseen.
    walk = KeysetWalk(client, field=C.EXPORT_KEY_FIELD, page_size=page_size, prefetch=0)
    rows = walk.rows()
    try:
        async for row, _cursor in rows:
            row_id = _row_id(row)
            if row_id is not None:
                missing.discard(row_id)
                if not missing:
                    break
    finally:
        await rows.aclose()
    return missing
