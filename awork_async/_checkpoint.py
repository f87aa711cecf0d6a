"""The export checkpoint: :class:`ExportCheckpoint` and its frontier, their JSON form, the
checks before a resume, and the one checkpoint store (load and atomic save).

Private; the public names are re-exported by :mod:`awork_async.export`.
"""

from __future__ import annotations

import itertools
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Final, cast
from uuid import UUID

import attrs
import orjson

from ._converter import JSONValue
from ._files import read_if_exists, write_atomic
from ._keyset import KeysetCursor
from ._timeutil import format_datetime, parse_utc_datetime

_CHECKPOINT_VERSION: Final = 1


#: Version of checkpoints of an ordered export (version-1 readers must not resume them).
_ORDERED_CHECKPOINT_VERSION: Final = 2


#: Version of consistent-export checkpoints that record the partitions ahead of the cursor.
_FRONTIER_CHECKPOINT_VERSION: Final = 3


#: Version of checkpoints whose partitions' pages read ahead are durable in a spool file.
_SPOOL_CHECKPOINT_VERSION: Final = 4


_CHECKPOINT_VERSIONS: Final = (
    _CHECKPOINT_VERSION,
    _ORDERED_CHECKPOINT_VERSION,
    _FRONTIER_CHECKPOINT_VERSION,
    _SPOOL_CHECKPOINT_VERSION,
)


#: Fields only a sync checkpoint has: such a file is refused, not read as an empty export one.
_SYNC_FIELDS: Final = frozenset({"updatedOn", "seen"})


def _cursor_json(cursor: KeysetCursor) -> dict[str, JSONValue]:
    return {
        "createdOn": None if cursor.key is None else format_datetime(cursor.key),
        "boundaryIds": [str(i) for i in cursor.boundary_ids],
        "inGroup": cursor.in_group,
        "groupAfter": None if cursor.group_after is None else str(cursor.group_after),
    }


def _cursor_from(value: object, name: str) -> KeysetCursor:
    if not isinstance(value, dict):
        raise ValueError(f"checkpoint field {name} must be a cursor object")
    key = _opt_str(value.get("createdOn"), f"{name}.createdOn")
    after = _opt_str(value.get("groupAfter"), f"{name}.groupAfter")
    return KeysetCursor(
        None if key is None else parse_utc_datetime(key),
        _uuid_list(value.get("boundaryIds", []), f"{name}.boundaryIds"),
        _flag(value.get("inGroup", False), f"{name}.inGroup"),
        None if after is None else UUID(after),
    )


@attrs.frozen
class FrontierPartition:
    """One partition of a version-4 checkpoint's frontier (see :attr:`ExportCheckpoint.frontier`).

    Attributes:
        lower: its lower bound (``createdOn``, inclusive); ``None`` for the partition being
            written, which starts at the checkpoint's cursor.
        upper: its upper bound (exclusive; ``None``: open).
        position: where its walk goes on after its durable pages.
        done: nothing is left to read after its durable pages.
        pages: its durable pages not written yet: ``(offset, length, skip)`` of records in the
            spool (``skip``: entries of the record already written).
    """

    lower: datetime | None
    upper: datetime | None
    position: KeysetCursor
    done: bool = False
    pages: tuple[tuple[int, int, int], ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "lower": None if self.lower is None else format_datetime(self.lower),
            "upper": None if self.upper is None else format_datetime(self.upper),
            "position": _cursor_json(self.position),
            "done": self.done,
            "pages": [list(page) for page in self.pages],
        }

    @classmethod
    def from_json(cls, value: object) -> FrontierPartition:
        if not isinstance(value, dict):
            raise ValueError("checkpoint field frontier must be a list of objects")
        lower = _opt_str(value.get("lower"), "frontier.lower")
        upper = _opt_str(value.get("upper"), "frontier.upper")
        pages = value.get("pages", [])
        if not isinstance(pages, list) or not all(
            isinstance(page, list)
            and len(page) == 3
            and all(type(n) is int and n >= 0 for n in page)
            for page in pages
        ):
            raise ValueError("checkpoint field frontier.pages must be [offset, length, skip] lists")
        return cls(
            lower=None if lower is None else parse_utc_datetime(lower),
            upper=None if upper is None else parse_utc_datetime(upper),
            position=_cursor_from(value.get("position"), "frontier.position"),
            done=_flag(value.get("done", False), "frontier.done"),
            pages=tuple((page[0], page[1], page[2]) for page in pages),
        )


def _uuid_list(value: object, name: str) -> tuple[UUID, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"checkpoint field {name} must be a list of UUID strings")
    return tuple(UUID(item) for item in value)


def _opt_str(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"checkpoint field {name} must be a string or null")
    return value


def _opt_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"checkpoint field {name} must be an int >= 0 or null")
    return value


def _page_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("checkpoint field startPage must be an int >= 1")
    return value


def _cuts(value: object) -> tuple[datetime, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("checkpoint field partitions must be a list of date-time strings")
    cuts = tuple(parse_utc_datetime(item) for item in value)
    if any(a >= b for a, b in itertools.pairwise(cuts)):
        raise ValueError("checkpoint field partitions must be increasing")
    return cuts


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"checkpoint field {name} must be true or false")
    return value


@attrs.frozen
class ExportCheckpoint:
    """A resumable position of a consistent export (JSON via :meth:`to_json`/:meth:`from_json`).

    Attributes:
        created_on: ``createdOn`` of the last entry delivered (``None``: nothing yet).
        boundary_ids: ids delivered with that ``createdOn`` (skipped when re-read).
        in_group, group_after: the position inside a tie group (see :class:`KeysetCursor`).
        count: entries delivered so far.
        filterby: the caller's filter; resuming with another filter is refused.
        byte_offset: written by :func:`export_time_entries`: the output's size after the last
            entry counted here; resuming truncates the output to it.
        format: the output format of :func:`export_time_entries`.
        complete: the export reached the end of the list when this was written.
        orderby: set only by an *ordered* export (``export_time_entries(orderby=...)``, offset
            pages in the caller's order); ``None`` for the consistent keyset walk. Resuming in
            the other mode or with another order is refused.
        page_size: the page size of an ordered export (its pages are numbered by it).
        start_page: the page an ordered export continues with (the one after the last page
            written completely).
        csv_raw_values: a CSV export written with ``csv_raw_values=True`` (formula-like cells
            not neutralised); resuming with the other setting is refused. Written to JSON
            (``csvRawValues``) only when true.
        partitions: the frontier of a concurrent consistent export: the cuts (``createdOn``)
            between the partitions not delivered yet, all after ``created_on``. Entries are
            delivered in ``createdOn,id`` order, so every partition below the cursor is done
            (its entries are in the output).
        frontier: (version 4, written by :func:`export_time_entries` with a
            ``checkpoint_path``) where every open partition stands, as far as it is durable:
            first the partition being written (``lower`` ``None``: it starts at the cursor),
            then one :class:`FrontierPartition` per cut: its bounds, the spool records of the
            pages it has read and not written yet, the position its walk goes on from after
            them, and whether it is done. Those pages are in the spool beside the checkpoint
            (``<checkpoint>.pages``, see below); a resume replays them and walks each partition
            on from its position (no new partitions planned), so it requests only what was not
            read before the last checkpoint (what was read after it, and each partition's
            request in flight, is read again): never a duplicate or a gap.
        spool_id, spool_size: (version 4) the spool's name (random, in its header) and its size
            when the checkpoint was written (records after it, torn by a crash or written
            after the checkpoint, are cut off by the resume).

    **The spool.** With a ``checkpoint_path``, pages of partitions ahead of the one being
    written go to ``<checkpoint>.pages`` instead of memory or an anonymous temporary file:
    append-only records (partition, cursors, the entries' JSON as received, a crc32), fsynced
    after the output and before each checkpoint. It grows to what the partitions ahead have read
    (at most about the export's size on disk, as the temporary files did) and is deleted when
    the export succeeds (the final checkpoint, ``complete``, records no frontier). A version-4
    checkpoint whose spool is missing, shorter than ``spool_size``, of another export, or with
    a damaged record is refused before any request (:class:`SpoolError`, a ``ValueError``):
    start afresh. :func:`iter_time_entries_consistent` has no spool: given a version-4
    checkpoint it uses the cursor and the cuts (the partitions ahead are read again).

    Measured (``benchmarks/bench_export_resume.py``: 20,000 entries, 100 per page, a checkpoint
    every 1000, no latency, the sandbox counting requests; medians of 3) as requests of crash
    plus resume over a whole export's, for a crash after 6% / 25% / 95% of the lines: 1.08x /
    1.00x / 1.00x; with version 3 (the pages ahead read again), same machine: 1.95x / 1.80x /
    1.10x. With 0.5 s per request: 1.09x / 1.02x / 1.00x (version 3: 1.93x / 1.80x / 1.10x).
    What a resume still requests is what was read after the last checkpoint and each
    partition's request in flight at the crash.

    The ordered-export fields are written to JSON only when ``orderby`` is set (as version
    2, which older readers refuse instead of misreading); keyset checkpoints are version 1, or
    version 3 when they record partitions, or version 4 when they record the frontier. Versions
    1-3 still resume; a version this release does not know is refused with a message saying so.
    """

    created_on: datetime | None = None
    boundary_ids: tuple[UUID, ...] = ()
    in_group: bool = False
    group_after: UUID | None = None
    count: int = 0
    filterby: str | None = None
    byte_offset: int | None = None
    format: str | None = None
    complete: bool = False
    orderby: str | None = None
    page_size: int | None = None
    start_page: int = 1
    csv_raw_values: bool = False
    partitions: tuple[datetime, ...] = ()
    frontier: tuple[FrontierPartition, ...] = ()
    spool_id: str | None = None
    spool_size: int = 0

    @property
    def cursor(self) -> KeysetCursor:
        """The position as a :class:`KeysetCursor`."""
        return KeysetCursor(self.created_on, self.boundary_ids, self.in_group, self.group_after)

    @classmethod
    def at(
        cls,
        cursor: KeysetCursor,
        *,
        count: int,
        filterby: str | None,
        partitions: tuple[datetime, ...] = (),
        frontier: tuple[FrontierPartition, ...] = (),
    ) -> ExportCheckpoint:
        """The checkpoint for ``cursor`` after ``count`` entries."""
        return cls(
            created_on=cursor.key,
            boundary_ids=cursor.boundary_ids,
            in_group=cursor.in_group,
            group_after=cursor.group_after,
            count=count,
            filterby=filterby,
            partitions=partitions,
            frontier=frontier,
        )

    def _version(self) -> int:
        if self.orderby is not None:
            return _ORDERED_CHECKPOINT_VERSION
        if self.frontier:
            return _SPOOL_CHECKPOINT_VERSION
        return _FRONTIER_CHECKPOINT_VERSION if self.partitions else _CHECKPOINT_VERSION

    def to_json(self) -> str:
        """A compact JSON document (datetimes in UTC with microseconds, UUIDs as strings)."""
        data: dict[str, JSONValue] = {
            "version": self._version(),
            "createdOn": None if self.created_on is None else format_datetime(self.created_on),
            "boundaryIds": [str(i) for i in self.boundary_ids],
            "inGroup": self.in_group,
            "groupAfter": None if self.group_after is None else str(self.group_after),
            "count": self.count,
            "filterby": self.filterby,
            "byteOffset": self.byte_offset,
            "format": self.format,
            "complete": self.complete,
        }
        if self.orderby is not None:
            data.update(orderby=self.orderby, pageSize=self.page_size, startPage=self.start_page)
        if self.csv_raw_values:
            data["csvRawValues"] = True
        if self.partitions:
            data["partitions"] = [format_datetime(cut) for cut in self.partitions]
        if self.frontier:
            data["frontier"] = [part.to_json() for part in self.frontier]
            data["spool"] = {"id": self.spool_id, "size": self.spool_size}
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> ExportCheckpoint:
        """Parse :meth:`to_json` output; ``ValueError`` when it is not a valid checkpoint."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the checkpoint is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or "version" not in data:
            raise ValueError("not an export checkpoint (no version)")
        if data["version"] not in _CHECKPOINT_VERSIONS:
            known = ", ".join(map(str, _CHECKPOINT_VERSIONS))
            raise ValueError(
                f"an export checkpoint of version {data['version']!r}, which this release of "
                f"awork-async cannot resume (it reads versions {known}); start the export "
                "afresh (without resume)"
            )
        if _SYNC_FIELDS & data.keys():
            raise ValueError(
                "this is a sync checkpoint (awork_async.sync.SyncCheckpoint, with updatedOn and "
                "seen), not an export checkpoint; give the export its own checkpoint file"
            )
        try:
            return cls._from_fields(data)
        except ValueError as exc:
            if str(exc).startswith("checkpoint field"):
                raise
            raise ValueError(f"the export checkpoint is corrupted: {exc}") from None

    @classmethod
    def _from_fields(cls, data: dict[str, object]) -> ExportCheckpoint:
        created = _opt_str(data.get("createdOn"), "createdOn")
        group_after = _opt_str(data.get("groupAfter"), "groupAfter")
        count = _opt_int(data.get("count", 0), "count")
        return cls(
            created_on=None if created is None else parse_utc_datetime(created),
            boundary_ids=_uuid_list(data.get("boundaryIds", []), "boundaryIds"),
            in_group=_flag(data.get("inGroup", False), "inGroup"),
            group_after=None if group_after is None else UUID(group_after),
            count=count or 0,
            filterby=_opt_str(data.get("filterby"), "filterby"),
            byte_offset=_opt_int(data.get("byteOffset"), "byteOffset"),
            format=_opt_str(data.get("format"), "format"),
            complete=_flag(data.get("complete", False), "complete"),
            orderby=_opt_str(data.get("orderby"), "orderby"),
            page_size=_opt_int(data.get("pageSize"), "pageSize"),
            start_page=_page_number(data.get("startPage", 1)),
            csv_raw_values=_flag(data.get("csvRawValues", False), "csvRawValues"),
            partitions=_cuts(data.get("partitions", [])),
            **_frontier_fields(data),
        )


def _frontier_fields(data: dict[str, object]) -> dict[str, Any]:
    """``frontier``, ``spool_id`` and ``spool_size`` of a version-4 checkpoint (checked)."""
    if data.get("version") != _SPOOL_CHECKPOINT_VERSION:
        return {}
    value = data.get("frontier")
    if not isinstance(value, list) or not value:
        raise ValueError("checkpoint field frontier must be a non-empty list")
    frontier = tuple(FrontierPartition.from_json(part) for part in value)
    cuts = _cuts(data.get("partitions", []))
    lowers = tuple(part.lower for part in frontier)
    uppers = tuple(part.upper for part in frontier)
    if lowers != (None, *cuts) or uppers != (*cuts, None):
        raise ValueError("checkpoint field frontier does not match partitions")
    spool = data.get("spool")
    if not isinstance(spool, dict) or not isinstance(spool.get("id"), str):
        raise ValueError("checkpoint field spool must name the spool (id, size)")
    ident = cast(str, spool["id"])
    if len(ident) != 32 or any(c not in "0123456789abcdef" for c in ident):
        raise ValueError("checkpoint field spool.id must be 32 hex digits")
    size = _opt_int(spool.get("size"), "spool.size")
    if size is None or any(o + n > size for part in frontier for o, n, _ in part.pages):
        raise ValueError("checkpoint field spool.size must cover every page of the frontier")
    return {"frontier": frontier, "spool_id": ident, "spool_size": size}


def _filter_words(filterby: str | None) -> str:
    """``filterby '…'`` or ``no filter`` (never ``filterby=None``) for messages."""
    return "no filter" if filterby is None else f"filterby {filterby!r}"


def check_resumable(
    checkpoint: ExportCheckpoint,
    *,
    filterby: str | None,
    orderby: str | None = None,
    page_size: int | None = None,
    format: str | None = None,
    csv_raw_values: bool | None = None,
) -> None:
    """Raise ``ValueError`` unless ``checkpoint`` can continue an export with these settings.

    The mode (consistent keyset walk, or ordered when ``orderby`` is set), the order, the
    filter and, for an ordered export, the page size must all match; ``format`` and
    ``csv_raw_values`` are compared when given.
    """
    if format is not None and checkpoint.format != format:
        raise ValueError(f"the checkpoint belongs to a {checkpoint.format} export, not {format}")
    if csv_raw_values is not None and checkpoint.csv_raw_values != csv_raw_values:
        raise ValueError(
            f"the checkpoint was taken with csv_raw_values={checkpoint.csv_raw_values}, "
            f"not {csv_raw_values} (the file would mix raw and neutralised cells)"
        )
    if checkpoint.orderby != orderby:
        if checkpoint.orderby is None:
            raise ValueError(
                "the checkpoint belongs to a consistent export (in its own createdOn,id order), "
                f"not to an ordered one (orderby={orderby!r}); resume it without orderby"
            )
        if orderby is None:
            raise ValueError(
                f"the checkpoint belongs to an ordered export (orderby={checkpoint.orderby!r}); "
                "resume it with the same orderby"
            )
        raise ValueError(
            f"the checkpoint was taken with orderby={checkpoint.orderby!r}, not {orderby!r}"
        )
    if checkpoint.filterby != filterby:
        raise ValueError(
            f"the checkpoint was taken with {_filter_words(checkpoint.filterby)}, this export "
            f"has {_filter_words(filterby)}; resume with the same filter"
        )
    if orderby is not None and checkpoint.page_size != page_size:
        raise ValueError(
            f"the checkpoint was taken with page_size={checkpoint.page_size}, not {page_size} "
            "(an ordered export resumes by page number)"
        )


def load_checkpoint(path: Path) -> ExportCheckpoint | None:
    """The checkpoint stored at ``path``, or ``None`` when the file does not exist.

    The same name as :func:`awork_async.sync.load_checkpoint` (one checkpoint store).
    """
    text = read_if_exists(path)
    if text is None:
        return None
    try:
        return ExportCheckpoint.from_json(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def save_checkpoint(path: Path, checkpoint: ExportCheckpoint) -> None:
    """Store ``checkpoint`` at ``path`` atomically (see :func:`write_atomic`).

    The temporary file is created exclusively beside ``path`` and renamed over it, so a file
    or symlink planted at ``path`` or at a guessable temporary name is never written through.
    """
    write_atomic(path, checkpoint.to_json().encode())


def read_checkpoint(path: Path) -> ExportCheckpoint | None:
    """Deprecated name of :func:`load_checkpoint` (kept working; emits ``DeprecationWarning``)."""
    warnings.warn(
        "awork_async.export.read_checkpoint is deprecated: use load_checkpoint",
        DeprecationWarning,
        stacklevel=2,
    )
    return load_checkpoint(path)


def write_checkpoint(path: Path, checkpoint: ExportCheckpoint) -> None:
    """Deprecated name of :func:`save_checkpoint` (kept working; emits ``DeprecationWarning``)."""
    warnings.warn(
        "awork_async.export.write_checkpoint is deprecated: use save_checkpoint",
        DeprecationWarning,
        stacklevel=2,
    )
    save_checkpoint(path, checkpoint)
