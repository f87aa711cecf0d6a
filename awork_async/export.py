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

**Layout.** This module holds the public functions and re-exports the public names of the
private modules that do the work, one job each: :mod:`~awork_async._keyset` (the cursor and
the window query), :mod:`~awork_async._keyset_walk` (:class:`KeysetWalk`),
:mod:`~awork_async._json_pages` (the walk's page of JSON entries),
:mod:`~awork_async._checkpoint` (:class:`ExportCheckpoint` and its store),
:mod:`~awork_async._spool` (the durable ``<checkpoint>.pages``),
:mod:`~awork_async._export_sources` (the rows of each mode), :mod:`~awork_async._export_formats`
(JSONL and CSV lines) and :mod:`~awork_async._sinks` (the output stream or file).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal, TypeAlias, overload

import attrs

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
from ._exceptions import APIResponseValidationError
from ._export_formats import (
    CSV_COLUMNS,
    CSV_TEXT_COLUMNS,
    _CsvEncoder,
    entry_to_json_line,
    entry_to_row,
    neutralise_csv_cell,
)
from ._export_sources import _KeysetRows, _OrderedRows
from ._files import write_atomic
from ._json_pages import _JsonPage, _page_entries, _to_entry
from ._keyset import KeysetCursor, Row, window_query
from ._keyset_walk import KeysetWalk
from ._pages import validate_concurrency
from ._paginator import validate_page_size
from ._response import RawResponse, capture_responses
from ._sinks import _FileSink, _make_sink, _StreamSink
from ._spool import SpoolError, _open_spool, _PageSpool, _spool_path
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

#: The file formats of :func:`export_time_entries`.
ExportFormat: TypeAlias = Literal["jsonl", "csv"]

_FORMATS: Final = frozenset({"jsonl", "csv"})
#: Entries written between two checkpoints of :func:`export_time_entries`.
DEFAULT_CHECKPOINT_EVERY: Final = C.DEFAULT_EXPORT_CHECKPOINT_EVERY
#: Sort key of the export windows.
EXPORT_KEY_FIELD: Final = C.EXPORT_KEY_FIELD
DEFAULT_ORDERED_PREFETCH: Final = C.DEFAULT_ORDERED_PREFETCH

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
            items: Sequence[TimeEntry | Row] = page.rows() if raw else ()
            error: APIResponseValidationError | None = None
            if not raw:
                items, error = _page_entries(page.entries)
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
                        models, error = _page_entries(batch.entries)
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
