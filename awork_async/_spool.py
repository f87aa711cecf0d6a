"""The durable spool of a checkpointed export: ``<checkpoint>.pages``, the pages that
partitions ahead of the one being written have read, kept so that a resume replays them.

Private; :class:`SpoolError` is re-exported by :mod:`awork_async.export`.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

import orjson

from ._checkpoint import ExportCheckpoint, _cursor_from, _cursor_json, _flag
from ._constants import EXPORT_KEY_FIELD
from ._files import create_temp_beside, discard_temp, fsync_directory
from ._json_pages import _JsonPage, _pack, _unpack
from ._keyset import KeysetCursor
from ._partitions import Partition
from ._timeutil import format_datetime

#: The first bytes of a durable spool (then 16 random bytes naming it).
_SPOOL_MAGIC: Final = b"AWKSPL1\n"


_SPOOL_HEADER: Final = len(_SPOOL_MAGIC) + 16


#: A spool record: crc32 of the rest (4 bytes), payload length (8), the payload.
_RECORD_HEAD: Final = 12


class SpoolError(ValueError):
    """The durable spool of a checkpoint is missing, short, foreign or corrupted."""


class _Standing:
    """Where one partition of a checkpointed walk stands, as far as the spool makes it durable.

    ``pages``: its durable pages not yet handed to the consumer (spool ranges, in order);
    ``position``: where its walk goes on after them; ``done``: nothing is left to read;
    ``volatile``: a page of it was kept in memory only (the one being written reads it);
    ``finished``: its lane ended normally.
    """

    __slots__ = ("done", "finished", "lower", "pages", "part", "position", "volatile")

    def __init__(
        self,
        part: Partition,
        lower: datetime | None,
        position: KeysetCursor,
        pages: Sequence[tuple[int, int, int]] = (),
        done: bool = False,
    ) -> None:
        self.part = part
        self.lower = lower
        self.position = position
        self.pages: deque[tuple[int, int, int]] = deque(pages)
        self.done = done
        self.volatile = False
        self.finished = False

    def ended(self) -> bool:
        """Nothing of this partition is left to read after its durable pages."""
        return self.done or (self.finished and not self.volatile)


class _PageSpool:
    """The durable spool of a checkpointed export: ``<checkpoint>.pages``, append-only.

    It holds each page of a partition ahead of the one being written, as one record: a crc32,
    the length, then the partition's lower bound, the cursors before and after the page and
    its entries (the JSON bytes of the answer). The checkpoint names the records it relies on
    (offset, length) and the spool's size when it was written; the spool is fsynced before it.
    A new spool is created exclusively (a random temporary name, renamed into place, so a
    planted file or symlink is never followed); a resumed one is opened without following a
    symlink, checked, and continued after the size its checkpoint recorded (a record torn by
    the crash, or written after that checkpoint, is cut off).
    """

    def __init__(self, path: Path, field: str) -> None:
        self.path = path
        self.field = field
        self.ident = os.urandom(16)
        self.size = 0  # bytes of complete records (0: not created yet)
        #: This run created the file; a checkpoint relies on it (it must stay after a failure).
        self.created = self.relied = False
        self._fd: int | None = None
        self._keep = 0  # a resumed spool: cut to this size before the first append

    @classmethod
    def resume(cls, path: Path, field: str, ident: str, size: int) -> _PageSpool:
        """The spool a version-4 checkpoint relies on (``SpoolError`` unless it is there)."""
        spool = cls(path, field)
        try:
            fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise SpoolError(f"the spool {path} of this checkpoint is missing") from None
        except OSError as exc:
            raise SpoolError(
                f"the spool {path} of this checkpoint cannot be opened: {exc}"
            ) from None
        spool._fd = fd
        try:
            header = os.pread(fd, _SPOOL_HEADER, 0)
            if (
                header[: len(_SPOOL_MAGIC)] != _SPOOL_MAGIC
                or header[len(_SPOOL_MAGIC) :].hex() != ident
            ):
                raise SpoolError(f"the spool {path} belongs to another export than this checkpoint")
            actual = os.fstat(fd).st_size
            if actual < size:
                raise SpoolError(
                    f"the spool {path} has {actual} bytes but the checkpoint relies on {size}"
                )
        except BaseException:
            spool.close()
            raise
        spool.ident = bytes.fromhex(ident)
        spool.size = spool._keep = size
        return spool

    def _create(self) -> int:
        handle, tmp = create_temp_beside(self.path)
        try:
            handle.write(_SPOOL_MAGIC + self.ident)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            handle.close()
            discard_temp(tmp)
            raise
        fsync_directory(self.path.parent)
        fd = os.dup(handle.fileno())
        handle.close()
        self.size = _SPOOL_HEADER
        self.created = True
        return fd

    def append(self, page: _JsonPage) -> tuple[int, int, int]:
        """Write ``page`` as a record (complete writes); its ``(offset, length, 0)``."""
        if self._fd is None:
            self._fd = self._create()
        elif self._keep:
            os.ftruncate(self._fd, self._keep)
            self._keep = 0
        standing = page.standing
        assert standing is not None
        meta = orjson.dumps(
            {
                "lower": None if standing.lower is None else format_datetime(standing.lower),
                "start": _cursor_json(page.start),
                "after": None if page.after is None else _cursor_json(page.after),
                "final": page.final,
            }
        )
        body = _pack(meta, page.entries)
        head = len(body).to_bytes(8, "little")
        record = zlib.crc32(body, zlib.crc32(head)).to_bytes(4, "little") + head + body
        offset = self.size
        view = memoryview(record)
        written = 0
        while written < len(record):
            written += os.pwrite(self._fd, view[written:], offset + written)
        self.size = offset + len(record)
        return offset, len(record), 0

    def read(self, where: tuple[int, int, int]) -> _JsonPage:
        """The page of the record at ``where`` (its entries from ``skip`` on); ``SpoolError``
        when the record is not whole and intact."""
        offset, length, skip = where
        assert self._fd is not None
        record = os.pread(self._fd, length, offset) if length >= _RECORD_HEAD else b""
        problem = f"the spool {self.path} is corrupted at byte {offset}"
        if len(record) != length or length < _RECORD_HEAD:
            raise SpoolError(problem)
        body = record[_RECORD_HEAD:]
        if int.from_bytes(record[4:12], "little") != len(body) or int.from_bytes(
            record[:4], "little"
        ) != zlib.crc32(body, zlib.crc32(record[4:12])):
            raise SpoolError(problem)
        try:
            packed_meta, entries = _unpack(body)
            meta = orjson.loads(packed_meta)
            if not 0 <= skip < len(entries):
                raise ValueError("skip")
            start = _cursor_from(meta["start"], "start")
            after = meta["after"]
            page = _JsonPage(entries, start, self.field)
            page.after = None if after is None else _cursor_from(after, "after")
            page.final = _flag(meta["final"], "final")
        except (ValueError, KeyError, TypeError):
            raise SpoolError(problem) from None
        if skip:
            tail = _JsonPage(entries[skip:], page.cursor_after(skip - 1), self.field)
            tail.after, tail.final = page.after, page.final
            page = tail
        page.spooled = where
        return page

    def sync(self) -> None:
        """Make every record written so far durable (before a checkpoint relies on them)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def remove(self) -> None:
        """Close and delete the spool (the export finished: nothing relies on it)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _LaneSpool:
    """One lane's view of the durable spool (the engine's spill seam): its records, in order."""

    def __init__(self, spool: _PageSpool) -> None:
        self.spool = spool
        self.records: deque[tuple[tuple[int, int, int], _Standing]] = deque()
        self.pages = 0

    def append(self, page: _JsonPage) -> None:
        standing = page.standing
        assert standing is not None
        if page.spooled is None:  # a fresh page: written, and now part of the standing
            page.spooled = self.spool.append(page)
            standing.pages.append(page.spooled)
            standing.done = page.final
            if page.after is not None:
                standing.position = page.after
        self.records.append((page.spooled, standing))
        self.pages += 1

    def pop(self) -> _JsonPage:
        where, standing = self.records.popleft()
        self.pages -= 1
        page = self.spool.read(where)
        page.standing = standing
        return page

    def close(self) -> None:
        self.records.clear()
        self.pages = 0


def _spool_path(checkpoint_path: Path) -> Path:
    """The durable spool beside a checkpoint: ``<checkpoint>.pages``."""
    path = Path(checkpoint_path)
    return path.with_name(path.name + ".pages")


def _open_spool(
    path: Path, previous: ExportCheckpoint | None, checkpoint_path: Path | None
) -> _PageSpool:
    """The spool a resume relies on (checked: every page of its frontier whole and intact),
    or a new one (created at its first page). ``ValueError`` (:class:`SpoolError`) naming the
    checkpoint when the spool is missing, short, foreign or corrupted."""
    if previous is None or not any(part.pages for part in previous.frontier):
        return _PageSpool(path, EXPORT_KEY_FIELD)
    assert previous.spool_id is not None
    try:
        spool = _PageSpool.resume(path, EXPORT_KEY_FIELD, previous.spool_id, previous.spool_size)
        try:
            for part in previous.frontier:
                for where in part.pages:
                    spool.read(where)
        except BaseException:
            spool.close()
            raise
    except SpoolError as exc:
        raise SpoolError(
            f"{checkpoint_path}: {exc}, so the pages it records cannot be replayed; start the "
            "export afresh (without resume)"
        ) from None
    return spool
