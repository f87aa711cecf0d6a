"""Incremental sync: the time entries created or changed since a checkpoint.

A sync worker keeps a copy of awork's time entries up to date. Each run reads the entries whose
``updatedOn`` is at or after the checkpoint's watermark *minus an overlap* (default 5 minutes,
to survive clock skew and transactions that commit late with an older ``updatedOn``), in
``updatedOn,id`` order through keyset windows (see :mod:`awork_async.export`). Entries already
delivered at the same ``resourceVersion`` are skipped, so the overlap re-reads cost requests but
never produce duplicates. The new checkpoint (a watermark plus the bounded set of
``(id, resourceVersion)`` pairs inside the overlap window) is available after the run has been
consumed completely (:attr:`IncrementalSync.checkpoint`); a checkpoint covering the entries
delivered so far is available at any moment (:attr:`IncrementalSync.checkpoint_so_far`), so a
long run can persist its progress and a crash resumes from there instead of repeating the run.

A first sync or a long catch-up walks partitions of the ``updatedOn`` range concurrently (see
:mod:`awork_async._partitions`); a poll with nothing new costs one request. Guarantee of one
run: an entry that matches and is not changed during the run is delivered exactly once (unless
its version was delivered by the previous run, inside the overlap). An entry changed during the
run may come once per version it had while the run read it (never the same version twice,
versions in ``updatedOn`` order, since a change moves it to a later key), or not at all when
the range it moved to had already been read; its new ``updatedOn`` then lies after the returned
watermark minus the overlap, so the next run delivers it.

Callers that store the JSON as awork sent it (the mirror) iterate
:meth:`IncrementalSync.raw_pages` instead: :class:`SyncPage` objects holding each entry's JSON
(``bytes``) with its id, ``updatedOn`` and ``resourceVersion``, no dict or model built.

Deletions are not visible here: a deleted entry simply stops appearing, and awork has no
tombstones in the list. Receive the ``timetracking_deleted`` webhook (API notes §8;
:class:`awork_async.webhooks.WebhookReceiver`) and run :func:`awork_async.find_deleted` now and
then as a safety net (the README's "A worker that loses nothing").

Delivery is at least once across crashes: a worker that dies mid-run repeats the run from its
last saved checkpoint, so make the handler idempotent (upsert by ``entry.id``, keeping the
highest ``resource_version``). Saving :attr:`IncrementalSync.checkpoint_so_far` every few
thousand handled entries bounds what is repeated: a run resumed from it delivers every entry not
yet delivered and skips the ones delivered (an entry handled but not yet covered by a saved
checkpoint comes again).

A complete worker loop that persists its checkpoint to a file::

    import asyncio
    from pathlib import Path

    from awork_async import AworkClient
    from awork_async.sync import changes_since, load_checkpoint, save_checkpoint

    STATE = Path("awork-sync.checkpoint.json")


    async def upsert(entry) -> None:
        ...  # write to your database, keyed by entry.id (idempotent)


    async def worker(poll_seconds: float = 60.0) -> None:
        async with AworkClient() as awork:  # token from AWORK_TOKEN
            checkpoint = load_checkpoint(STATE)  # None on the very first run: full load
            while True:
                changes = changes_since(awork, checkpoint)
                async for entry in changes:
                    await upsert(entry)
                    if changes.delivered % 5000 == 0:  # a long first load: keep its progress
                        save_checkpoint(STATE, changes.checkpoint_so_far)
                checkpoint = changes.checkpoint  # valid once the run was fully consumed
                save_checkpoint(STATE, checkpoint)  # atomic: temp file, fsync, os.replace
                await asyncio.sleep(poll_seconds)


    asyncio.run(worker())
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar, overload
from uuid import UUID

import attrs
import orjson

from . import _constants as C
from ._converter import JSONValue
from ._exceptions import APIResponseValidationError
from ._files import read_if_exists, write_atomic
from ._json_pages import _page_entries
from ._timeutil import format_datetime, parse_utc_datetime
from .export import KeysetCursor, KeysetWalk
from .filters import to_filter_string
from .models import TimeEntry

if TYPE_CHECKING:
    from ._client import AworkClient
    from ._validation import FilterLike

__all__ = [
    "DEFAULT_SYNC_OVERLAP",
    "IncrementalSync",
    "SyncBatch",
    "SyncCheckpoint",
    "SyncPage",
    "changes_since",
    "load_checkpoint",
    "save_checkpoint",
]

#: How far before the watermark each run starts reading again.
DEFAULT_SYNC_OVERLAP: Final = timedelta(seconds=C.DEFAULT_SYNC_OVERLAP_SECONDS)
#: Sort key of the sync windows.
SYNC_KEY_FIELD: Final = C.SYNC_KEY_FIELD
_CHECKPOINT_VERSION: Final = 1
#: Fields only an export checkpoint has: such a document is refused, not read as an empty sync one.
_EXPORT_FIELDS: Final = frozenset({"createdOn", "boundaryIds", "byteOffset", "format"})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: What a run yields: a :class:`TimeEntry`, or with ``raw=True`` the entry as awork sent it.
E = TypeVar("E", TimeEntry, dict[str, Any])


@attrs.frozen
class SyncCheckpoint:
    """Where a sync worker stands (JSON via :meth:`to_json` / :meth:`from_json`).

    Attributes:
        updated_on: the watermark: the latest ``updatedOn`` seen (``None``: never synced).
        seen: ``(id, resourceVersion)`` of the entries seen within the overlap before the
            watermark; the next run skips them when it meets them again unchanged.
    """

    updated_on: datetime | None = None
    seen: tuple[tuple[UUID, int], ...] = ()

    def to_json(self) -> str:
        """A compact JSON document."""
        data: dict[str, JSONValue] = {
            "version": _CHECKPOINT_VERSION,
            "updatedOn": None if self.updated_on is None else format_datetime(self.updated_on),
            "seen": [[str(entry_id), version] for entry_id, version in self.seen],
        }
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncCheckpoint:
        """Parse :meth:`to_json` output; ``ValueError`` when it is not a sync checkpoint."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the checkpoint is not valid JSON: {exc}") from None
        if isinstance(data, dict) and _EXPORT_FIELDS & data.keys():
            raise ValueError(
                "this is an export checkpoint (awork_async.export.ExportCheckpoint), not a sync "
                "checkpoint; give the sync its own checkpoint"
            )
        if not isinstance(data, dict) or data.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"not a sync checkpoint of version {_CHECKPOINT_VERSION}")
        updated = data.get("updatedOn")
        if updated is not None and not isinstance(updated, str):
            raise ValueError("checkpoint field updatedOn must be a string or null")
        seen: list[tuple[UUID, int]] = []
        raw_seen = data.get("seen", [])
        if not isinstance(raw_seen, list):
            raise ValueError("checkpoint field seen must be a list")
        for item in raw_seen:
            ok = (
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], int)
                and not isinstance(item[1], bool)
            )
            if not ok:
                raise ValueError(f"checkpoint field seen has a malformed item: {item!r}")
            try:
                seen.append((UUID(item[0]), item[1]))
            except ValueError:
                raise ValueError(f"checkpoint field seen has a malformed id: {item[0]!r}") from None
        try:
            updated_on = None if updated is None else parse_utc_datetime(updated)
        except ValueError:
            raise ValueError(
                f"checkpoint field updatedOn is not a date-time: {updated!r}"
            ) from None
        return cls(updated_on=updated_on, seen=tuple(seen))


def load_checkpoint(path: Path) -> SyncCheckpoint | None:
    """The checkpoint stored at ``path``, or ``None`` when the file does not exist yet."""
    text = read_if_exists(path)
    return None if text is None else SyncCheckpoint.from_json(text)


def save_checkpoint(path: Path, checkpoint: SyncCheckpoint) -> None:
    """Store ``checkpoint`` at ``path`` atomically (temp file, fsync, ``os.replace``)."""
    write_atomic(path, checkpoint.to_json().encode())


@attrs.frozen
class SyncBatch:
    """A fully consumed run: the entries and the checkpoint to persist after handling them."""

    entries: tuple[TimeEntry, ...]
    checkpoint: SyncCheckpoint


def _version(version: int | None, updated_on: datetime) -> int:
    """``resourceVersion``, or (when the API omits it) ``updatedOn`` in microseconds."""
    if version is not None:
        return version
    return (updated_on - _EPOCH) // timedelta(microseconds=1)


class _Frontier:
    """Where a run stands after a prefix of its entries (they come in ``updatedOn,id`` order):
    the newest ``updatedOn`` read (never before the previous watermark) and the
    ``(id, version)`` of the entries read within the overlap before it. The one place that
    turns a run's progress into a :class:`SyncCheckpoint`, mid-run or at its end."""

    def __init__(self, previous: SyncCheckpoint, overlap: timedelta) -> None:
        self.previous = previous
        self.overlap = overlap
        self.high = previous.updated_on
        # (updatedOn, id, version) of the entries inside the overlap before ``high``.
        self.recent: deque[tuple[datetime, UUID, int]] = deque()

    def add(self, key: datetime, pair: tuple[UUID, int]) -> None:
        """One more entry read (delivered or skipped as delivered before)."""
        high = self.high
        if high is None or key > high:
            self.high = high = key
        recent = self.recent
        recent.append((key, *pair))
        floor = high - self.overlap
        while recent[0][0] < floor:
            recent.popleft()

    def checkpoint(self, *, final: bool) -> SyncCheckpoint:
        """The checkpoint covering the entries added so far.

        While the watermark has not moved past the previous one (the run is still re-reading
        the overlap), the previous ``seen`` pairs stay valid and are kept until the end of the
        run (``final``), which has re-read the whole window and keeps only what it found.
        """
        high = self.high
        if high is None:
            return self.previous
        seen = [(entry_id, version) for _key, entry_id, version in self.recent]
        if not final and high == self.previous.updated_on:
            fresh = set(self.previous.seen)
            seen = [*self.previous.seen, *(pair for pair in seen if pair not in fresh)]
        return SyncCheckpoint(updated_on=high, seen=tuple(seen))


def _raw_version(row: dict[str, Any], entry_id: UUID) -> int | None:
    """``resourceVersion`` of a raw entry (``None`` when absent); a typed error when it is not
    an integer (the value is not quoted: the answer may echo a secret)."""
    value = row.get("resourceVersion")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise APIResponseValidationError(
        f"cannot decode time entry {entry_id}: resourceVersion: expected an integer, "
        f"got {type(value).__name__}",
        status=200,
    )


@attrs.frozen
class SyncPage:
    """One page of a sync run with each entry still its JSON (see
    :meth:`IncrementalSync.raw_pages`). The lists are parallel, in ``updatedOn,id`` order.

    Attributes:
        entries: each entry's JSON object exactly as awork sent it (``bytes``; store it as is
            or decode it with ``orjson.loads``).
        ids: each entry's ``id``.
        updated_on: each entry's ``updatedOn`` (timezone-aware, UTC).
        versions: each entry's ``resourceVersion`` (``None`` when awork sent none).
    """

    entries: list[bytes]
    ids: list[UUID]
    updated_on: list[datetime]
    versions: list[int | None]


class IncrementalSync(Generic[E]):
    """One sync run; iterate it once (``async for``), then read :attr:`checkpoint`.

    Created by :func:`changes_since`; nothing is sent until iteration starts. Entries come in
    ``updatedOn,id`` order. An entry changed while the run is in progress may come twice
    (once per version). Deletions are never reported (use the ``timetracking_deleted``
    webhook). With ``raw=True`` the entries are the JSON objects as awork sent them (dicts
    with camelCase keys; only ``id``, ``updatedOn`` and ``resourceVersion`` are checked):
    decode or store them yourself.
    """

    def __init__(
        self,
        client: AworkClient,
        checkpoint: SyncCheckpoint | None,
        *,
        filterby: FilterLike = None,
        overlap: timedelta = DEFAULT_SYNC_OVERLAP,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        concurrency: int = C.DEFAULT_SYNC_CONCURRENCY,
        raw: bool = False,
    ) -> None:
        if not isinstance(overlap, timedelta) or overlap < timedelta(0):
            raise ValueError(f"overlap must be a timedelta >= 0, got {overlap!r}")
        self.previous = checkpoint if checkpoint is not None else SyncCheckpoint()
        self.overlap = overlap
        since = self.previous.updated_on
        self._walk = KeysetWalk(
            client,
            field=SYNC_KEY_FIELD,
            filterby=to_filter_string(filterby),
            page_size=page_size,
            cursor=None if since is None else KeysetCursor(since - overlap),
            concurrency=concurrency,
        )
        self._raw = raw
        self._started = False
        self._frontier = _Frontier(self.previous, overlap)
        self._result: SyncCheckpoint | None = None
        #: Entries re-read in the overlap and skipped because they were delivered before.
        self.skipped = 0
        #: Entries yielded so far.
        self.delivered = 0

    @property
    def pages(self) -> int:
        """List requests made so far."""
        return self._walk.pages

    @property
    def complete(self) -> bool:
        """True once the run has been consumed to the end."""
        return self._result is not None

    @property
    def checkpoint(self) -> SyncCheckpoint:
        """The checkpoint after this run; ``RuntimeError`` before the run was fully consumed."""
        if self._result is None:
            raise RuntimeError(
                "the checkpoint is only valid after the sync has been iterated to the end"
            )
        return self._result

    @property
    def checkpoint_so_far(self) -> SyncCheckpoint:
        """A checkpoint covering every entry yielded so far, readable at any moment.

        Read it after handling the last entry received (for example every few thousand
        entries, or with each database commit) and persist it like :attr:`checkpoint`: a run
        resumed from it (:func:`changes_since`, or after :meth:`SyncCheckpoint.to_json` /
        :meth:`SyncCheckpoint.from_json`) delivers every entry not yet yielded and none of
        those yielded, with the same guarantee as a run from a complete one (an entry changed
        meanwhile comes again in its new version). Its ``seen`` set is bounded like
        :attr:`checkpoint`'s: the entries within the overlap before the watermark (plus the
        previous checkpoint's while the run is still inside the overlap). Before the first
        entry it is the checkpoint the run started from; once the run is complete it equals
        :attr:`checkpoint`.
        """
        if self._result is not None:
            return self._result
        return self._frontier.checkpoint(final=False)

    def __aiter__(self) -> AsyncIterator[E]:
        if self._started:
            raise RuntimeError("an IncrementalSync can be iterated only once; call changes_since")
        self._started = True
        return self._run()

    async def collect(self: IncrementalSync[TimeEntry]) -> SyncBatch:
        """Consume the run into a :class:`SyncBatch` (all changed entries in memory)."""
        entries = [entry async for entry in self]
        return SyncBatch(entries=tuple(entries), checkpoint=self.checkpoint)

    def raw_pages(self) -> AsyncIterator[SyncPage]:
        """Iterate the run a page at a time, each entry still its JSON (instead of ``async for``).

        For callers that store the JSON as awork sent it (the mirror): no dict and no model is
        built. Each :class:`SyncPage` holds the page's entries as ``bytes`` (one JSON object
        each, exactly as in the answer) with their ids, ``updatedOn`` and ``resourceVersion``
        read and checked like ``raw=True`` does (a wrong type raises
        :class:`~awork_async.APIResponseValidationError` after the entries before it). Entries
        skipped as delivered by the previous run are left out; a page left empty is not yielded.
        The run is the same as iterating it (same entries, order, :attr:`checkpoint`,
        :attr:`checkpoint_so_far` covering every page yielded); ``raw`` makes no difference.
        Iterate one way or the other, once.
        """
        if self._started:
            raise RuntimeError("an IncrementalSync can be iterated only once; call changes_since")
        self._started = True
        return self._json_pages()

    async def _pages(
        self, decode: Literal["model", "dict", "json"]
    ) -> AsyncGenerator[
        tuple[Sequence[Any], list[datetime], list[UUID], list[int | None], Exception | None],
        None,
    ]:
        """Per page of the walk: the items (models, dicts or JSON), keys, ids, versions, and
        the error of an entry that does not decode (the items are then those before it)."""
        async with contextlib.aclosing(self._walk.json_pages()) as pages:
            async for page in pages:
                keys, ids, versions = page.keys, page.ids, page.versions
                error: Exception | None = None
                items: Sequence[Any]
                if decode == "model":
                    items, error = _page_entries(page.entries)
                    versions = [item.resource_version for item in items]
                else:
                    items = page.rows() if decode == "dict" else page.entries
                    if versions is None:  # the fast reader refused one: the typed check says
                        rows: Sequence[Any] = items if decode == "dict" else page.rows()
                        versions = []
                        try:
                            for row, entry_id in zip(rows, ids, strict=True):
                                versions.append(_raw_version(row, entry_id))
                        except APIResponseValidationError as exc:
                            error = exc
                            items = items[: len(versions)]
                yield items, keys, ids, versions, error

    async def _run(self) -> AsyncIterator[Any]:
        already = frozenset(self.previous.seen)
        frontier = self._frontier
        async with contextlib.aclosing(self._pages("dict" if self._raw else "model")) as pages:
            async for items, keys, ids, versions, error in pages:
                # On a bad entry, items are those before it: the error comes after them.
                for item, key, entry_id, version in zip(items, keys, ids, versions, strict=False):
                    pair: tuple[UUID, int] = (entry_id, _version(version, key))
                    frontier.add(key, pair)
                    if pair in already:
                        self.skipped += 1
                        continue
                    self.delivered += 1
                    yield item
                if error is not None:
                    raise error
        self._result = frontier.checkpoint(final=True)

    async def _json_pages(self) -> AsyncIterator[SyncPage]:
        already = frozenset(self.previous.seen)
        frontier = self._frontier
        async with contextlib.aclosing(self._pages("json")) as pages:
            async for items, keys, ids, versions, error in pages:
                kept = SyncPage([], [], [], [])
                for item, key, entry_id, version in zip(items, keys, ids, versions, strict=False):
                    pair: tuple[UUID, int] = (entry_id, _version(version, key))
                    frontier.add(key, pair)
                    if pair in already:
                        self.skipped += 1
                        continue
                    kept.entries.append(item)
                    kept.ids.append(entry_id)
                    kept.updated_on.append(key)
                    kept.versions.append(version)
                if kept.entries:
                    self.delivered += len(kept.entries)
                    yield kept
                if error is not None:
                    raise error
        self._result = frontier.checkpoint(final=True)


@overload
def changes_since(
    client: AworkClient,
    checkpoint: SyncCheckpoint | None,
    *,
    filterby: FilterLike = ...,
    overlap: timedelta = ...,
    page_size: int = ...,
    concurrency: int = ...,
    raw: Literal[False] = ...,
) -> IncrementalSync[TimeEntry]: ...


@overload
def changes_since(
    client: AworkClient,
    checkpoint: SyncCheckpoint | None,
    *,
    filterby: FilterLike = ...,
    overlap: timedelta = ...,
    page_size: int = ...,
    concurrency: int = ...,
    raw: Literal[True],
) -> IncrementalSync[dict[str, Any]]: ...


def changes_since(
    client: AworkClient,
    checkpoint: SyncCheckpoint | None,
    *,
    filterby: FilterLike = None,
    overlap: timedelta = DEFAULT_SYNC_OVERLAP,
    page_size: int = C.DEFAULT_PAGE_SIZE,
    concurrency: int = C.DEFAULT_SYNC_CONCURRENCY,
    raw: bool = False,
) -> IncrementalSync[TimeEntry] | IncrementalSync[dict[str, Any]]:
    """The time entries created or changed since ``checkpoint`` (all of them when ``None``).

    ::

        changes = changes_since(awork, checkpoint)
        async for entry in changes:
            await upsert(entry)
        checkpoint = changes.checkpoint  # persist it: checkpoint.to_json()

    Args:
        checkpoint: from the previous run (``None``: the first run reads everything).
        filterby: restricts the sync (keep it the same from run to run).
        overlap: how far before the watermark to read again (clock skew, late commits).
        page_size: entries per request.
        concurrency: partitions of the ``updatedOn`` range walked at once. A first sync or a
            long catch-up is split into up to this many partitions as the counts show; a poll
            with nothing new still costs one request. Entries still come in ``updatedOn,id``
            order. The default (48) is above the export's (32): decoding every entry on the
            event loop makes a sync's round trips longer, so it needs more in flight.
        raw: yield each entry as awork sent it (a dict with camelCase keys) instead of a
            :class:`TimeEntry`: no decoding cost, for callers that store the JSON as is (the
            mirror). Only ``id``, ``updatedOn`` and ``resourceVersion`` are checked (a wrong
            type is an :class:`~awork_async.APIResponseValidationError`); the checkpoint is the
            same as without it.

    Deleted entries are not reported: the list API cannot show them. Use the
    ``timetracking_deleted`` webhook (API notes §8) for deletions.
    """
    return IncrementalSync(
        client,
        checkpoint,
        filterby=filterby,
        overlap=overlap,
        page_size=page_size,
        concurrency=concurrency,
        raw=raw,
    )
