"""A keyset walk's page: its entries kept as the JSON received, and what is read from them.

Keys, ids and versions are read lazily (msgspec, only those fields); cursors, dicts and
:class:`~awork_async.models.TimeEntry` models are built only where a consumer asks for them.
The packed layout that a page takes in a spill file (and the spool's records) is here too.
"""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import attrs
import msgspec
import orjson

from ._converter import describe_structure_error, structure, structure_json_list
from ._exceptions import APIResponseValidationError
from ._keyset import KeysetCursor, Row, _row_key
from ._timeutil import parse_utc_datetime
from .models import TimeEntry

if TYPE_CHECKING:
    from ._spool import _Standing


def _key_struct(field: str) -> msgspec.json.Decoder[Any]:
    """The decoder reading only what a walk needs of an entry's JSON (one per key field).

    Unknown fields are skipped without being decoded. The key stays a string: msgspec rounds
    fractional seconds beyond microseconds, and a consistent walk must truncate them like
    :func:`~awork_async._timeutil.parse_utc_datetime` (an inclusive bound never above the stored
    key). ``resourceVersion`` is read for the sync (``None`` when absent).
    """
    decoder = _KEY_DECODERS.get(field)
    if decoder is None:
        struct = msgspec.defstruct(
            "EntryKey",
            [("id", UUID), ("key", str), ("version", int | None, None)],
            rename={"key": field, "version": "resourceVersion"},
        )
        decoder = _KEY_DECODERS[field] = msgspec.json.Decoder(struct)
    return decoder


_KEY_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {}


def _fast_keys(
    field: str, entries: Sequence[bytes]
) -> tuple[list[datetime], list[UUID], list[int | None]] | None:
    """(keys, ids, versions) of the entries, or ``None`` when one does not fit the fast path
    (then :func:`_slow_keys` decides, with the messages of the reference checks)."""
    decode = _key_struct(field).decode
    try:
        read = [decode(entry) for entry in entries]
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    parse = parse_utc_datetime
    try:
        keys = [parse(item.key) for item in read]
    except (ValueError, TypeError):
        return None
    return keys, [item.id for item in read], [item.version for item in read]


class _JsonPage:
    """One page of a keyset walk: the entries delivered, each as its JSON, and their cursors.

    Internal (the walk's page type). ``entries`` are the JSON objects exactly as the answer
    held them; ``start`` is the cursor before the first. The keys, ids and versions the walk
    read are kept while the page is in memory and read again (cheaply) when a spilled page
    needs them. A cursor is built only where one is asked for (:meth:`cursor_after`).
    """

    __slots__ = (
        "_ids",
        "_keys",
        "_versions",
        "after",
        "entries",
        "field",
        "final",
        "spooled",
        "standing",
        "start",
    )

    def __init__(
        self,
        entries: list[bytes],
        start: KeysetCursor,
        field: str,
        keys: list[datetime] | None = None,
        ids: list[UUID] | None = None,
        versions: list[int | None] | None = None,
    ) -> None:
        self.entries = entries
        self.start = start
        self.field = field
        self._keys = keys
        self._ids = ids
        self._versions = versions
        #: Where the walk of this page's partition went on after it (``final``: it ended).
        self.after: KeysetCursor | None = None
        self.final = False
        #: The partition's standing (checkpointed walks only).
        self.standing: _Standing | None = None
        #: ``(offset, length, skip)`` of its record in the durable spool, once it is there.
        self.spooled: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self) -> tuple[list[datetime], list[UUID]]:
        if self._keys is None or self._ids is None:
            fast = _fast_keys(self.field, self.entries)
            if fast is not None:
                self._keys, self._ids, self._versions = fast
            else:  # validated when it was walked: the reference reading cannot fail now
                pairs = [_row_key(row, self.field) for row in self.rows()]
                self._keys = [key for key, _ in pairs]
                self._ids = [entry_id for _, entry_id in pairs]
        return self._keys, self._ids

    @property
    def keys(self) -> list[datetime]:
        """The key (``createdOn``/``updatedOn``) of each entry."""
        return self._read()[0]

    @property
    def ids(self) -> list[UUID]:
        """The id of each entry."""
        return self._read()[1]

    @property
    def versions(self) -> list[int | None] | None:
        """``resourceVersion`` of each entry (``None`` items when absent); ``None`` when they
        were not read (an entry the fast reader refused: read them from the decoded rows)."""
        self._read()
        return self._versions

    def rows(self) -> list[Row]:
        """The entries decoded to dicts (camelCase keys, as the API sent them)."""
        loads = orjson.loads
        return [loads(entry) for entry in self.entries]

    def _key_at(self, index: int) -> tuple[datetime, UUID]:
        """The key and id of one entry (read alone when the page came back from the disk)."""
        if self._keys is not None and self._ids is not None:
            return self._keys[index], self._ids[index]
        entry = self.entries[index]
        fast = _fast_keys(self.field, [entry])
        if fast is not None:
            return fast[0][0], fast[1][0]
        return _row_key(orjson.loads(entry), self.field)  # checked when it was walked

    def cursor_after(self, index: int) -> KeysetCursor:
        """The cursor after entry ``index`` (what a checkpoint there records)."""
        start = self.start
        key, entry_id = self._key_at(index)
        if start.in_group:
            return attrs.evolve(start, group_after=entry_id)
        run = [entry_id]
        first = index
        while first > 0:
            before, before_id = self._key_at(first - 1)
            if before != key:
                break
            run.append(before_id)
            first -= 1
        run.reverse()
        if first == 0 and key == start.key:
            return KeysetCursor(key, (*start.boundary_ids, *run))
        return KeysetCursor(key, tuple(run))

    def cursors(self) -> list[KeysetCursor]:
        """The cursor after each entry (one object per entry: only for per-entry checkpoints)."""
        start = self.start
        keys, ids = self._read()
        if start.in_group:
            return [attrs.evolve(start, group_after=entry_id) for entry_id in ids]
        result: list[KeysetCursor] = []
        cursor = start
        for key, entry_id in zip(keys, ids, strict=True):
            if key == cursor.key:
                cursor = KeysetCursor(key, (*cursor.boundary_ids, entry_id))
            else:
                cursor = KeysetCursor(key, (entry_id,))
            result.append(cursor)
        return result

    def json_lines(self) -> list[bytes]:
        """The entries as JSONL lines (without their ``\\n``).

        Each entry as the answer held it; a page whose answer had a raw line break between
        tokens (pretty-printed) is re-encoded compactly, so a line is always one entry.
        """
        entries = self.entries
        if any(b"\n" in entry or b"\r" in entry for entry in entries):
            dumps, loads = orjson.dumps, orjson.loads
            return [dumps(loads(entry)) for entry in entries]
        return entries


#: ``array`` type code of 8-byte unsigned lengths in the spill format.
_SIZE_CODE: Final = "Q"


def _dump_page(page: _JsonPage) -> bytes:
    """A page for the temporary file: its start cursor, then the entries length-prefixed.

    The file is this process's own and read back by the same interpreter (pickle for the one
    cursor is fine); the entries stay the JSON bytes they were, with no object built per entry.
    """
    meta = pickle.dumps((page.start, page.field), protocol=pickle.HIGHEST_PROTOCOL)
    return _pack(meta, page.entries)


def _pack(meta: bytes, entries: list[bytes]) -> bytes:
    """``meta`` and ``entries`` in the one page layout of the spill file and the spool: the
    meta's length and bytes, the entries' count and lengths, then the entries as they are."""
    sizes = array(_SIZE_CODE, [len(entry) for entry in entries])
    return b"".join(
        (
            len(meta).to_bytes(8, "little"),
            meta,
            len(sizes).to_bytes(8, "little"),
            sizes.tobytes(),
            *entries,
        )
    )


def _unpack(data: bytes) -> tuple[bytes, list[bytes]]:
    """The ``(meta, entries)`` that :func:`_pack` wrote; ``ValueError`` when ``data`` does not
    hold exactly that."""
    size = int.from_bytes(data[:8], "little")
    meta = data[8 : 8 + size]
    position = 8 + size
    count = int.from_bytes(data[position : position + 8], "little")
    position += 8
    sizes = array(_SIZE_CODE)
    sizes.frombytes(data[position : position + count * sizes.itemsize])
    position += count * sizes.itemsize
    entries: list[bytes] = []
    for length in sizes:
        entries.append(data[position : position + length])
        position += length
    if len(meta) != size or len(sizes) != count or position != len(data):
        raise ValueError("not a packed page")
    return meta, entries


def _load_page(data: bytes) -> _JsonPage:
    """The page :func:`_dump_page` wrote (our own temporary file, never foreign data)."""
    meta, entries = _unpack(data)
    start, field = pickle.loads(meta)  # written by this process, see above
    return _JsonPage(entries, start, field)


def _page_entries(
    entries: Sequence[bytes],
) -> tuple[list[TimeEntry], APIResponseValidationError | None]:
    """A page's entries, given as their JSON, as models (decoded together: they share the
    decoding caches; no dict is built).

    On an entry that does not decode: the entries before it and its error (raised once those
    are handled, as when decoding one entry at a time).
    """
    try:
        return structure_json_list(entries, TimeEntry), None
    except Exception:  # decoded one by one below, which says what is wrong
        pass
    models: list[TimeEntry] = []
    for entry in entries:
        try:
            models.append(_to_entry(orjson.loads(entry)))
        except APIResponseValidationError as exc:
            return models, exc
    return models, None  # pragma: no cover - structure_json_list refused what structure reads


def _to_entry(row: Row) -> TimeEntry:
    try:
        return structure(row, TimeEntry)
    except Exception as exc:
        problem = describe_structure_error(exc)  # no value: the answer may echo a secret
    raise APIResponseValidationError(
        f"cannot decode time entry {_shown_id(row.get('id'))}: {problem}", status=200
    )


def _shown_id(value: object) -> str:
    """An entry's id for a message: only when it is a UUID (else it may be anything)."""
    try:
        return repr(str(UUID(value))) if isinstance(value, str) else "(no id)"
    except ValueError:
        return "(invalid id)"
