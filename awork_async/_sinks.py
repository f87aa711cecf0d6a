"""Where an export's bytes go: a caller's open stream, or a path the export owns (written to
an exclusive temporary file and renamed over the target, or continued in place on resume),
each fsynced before a checkpoint is saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ._checkpoint import ExportCheckpoint, save_checkpoint
from ._files import create_temp_beside, discard_temp, replace_with


def _write_all(output: BinaryIO, data: bytes) -> None:
    """Write all of ``data`` (a page at a time is large).

    A buffered pipe write that the reader cuts short (``... | head``) returns the count written
    instead of raising: write the rest, so the error (a ``BrokenPipeError``, a full disk) is
    raised rather than the lines silently lost.
    """
    while data:
        written = output.write(data)
        if written is None or written >= len(data):  # None: a file object that writes all
            return
        if written <= 0:
            raise OSError(f"the output accepted {written} of {len(data)} bytes")
        data = data[written:]


def _sync_output(output: BinaryIO) -> None:
    """Flush ``output`` and fsync it when it is a real file."""
    output.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.fsync(output.fileno())


def _prepare_resume(output: BinaryIO, offset: int) -> None:
    """Cut ``output`` back to ``offset`` (dropping any half-written line) and seek there."""
    if not output.seekable():
        raise ValueError("resuming needs a seekable output file (not a pipe)")
    output.flush()
    size = output.seek(0, os.SEEK_END)
    if size < offset:
        raise ValueError(
            f"the output has {size} bytes but the checkpoint expects at least {offset}: "
            "it is not the file this checkpoint belongs to"
        )
    if offset > 0 and output.readable():
        output.seek(offset - 1)
        if output.read(1) != b"\n":
            raise ValueError(
                f"the output's byte {offset - 1} is not the end of a line, where the checkpoint "
                "expects one: it is not the file this checkpoint belongs to"
            )
    output.truncate(offset)
    output.seek(offset)


async def _off_loop(work: Callable[[], None]) -> None:
    """Run blocking file work (fsync, rename) in a thread; a cancellation waits for it to end.

    The cancellation is raised once the thread is done, so the clean-up that follows never
    races a rename that is still under way.
    """
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


def _nothing() -> None:
    """No step before a checkpoint."""


class _StreamSink:
    """A caller-owned binary stream: written from its position, never closed nor cleaned up."""

    def __init__(
        self,
        output: BinaryIO,
        *,
        checkpoint_path: Path | None,
        resume: bool,
        offset: int | None,
        preamble: bytes,
    ) -> None:
        self.output = output
        self.checkpoint_path = checkpoint_path
        #: Called after the output is fsynced, before a checkpoint is written (the spool's fsync).
        self.before_checkpoint: Callable[[], None] = _nothing
        if offset is not None:
            _prepare_resume(output, offset)
            self.position = offset
        else:
            self.position = output.tell() if output.seekable() else 0
            if resume and output.seekable():
                output.truncate(self.position)
            self.write(preamble)

    def write(self, data: bytes) -> None:
        _write_all(self.output, data)
        self.position += len(data)

    def _save(self, point: ExportCheckpoint) -> None:
        _sync_output(self.output)
        self.before_checkpoint()
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, point)

    async def save(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point))

    async def finish(self, point: ExportCheckpoint) -> None:
        await self.save(point)

    def abandon(self) -> None:
        """Nothing to undo: what was written stays, for the caller to keep or drop."""


def _open_in_place(path: Path) -> BinaryIO:
    """``path`` opened for update without following a symlink (created when missing)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(
                f"{path} is a symbolic link; a resumed export does not follow it"
            ) from None
        raise exc from None
    return os.fdopen(fd, "r+b")


class _FileSink:
    """An output path owned by the export (the rules are in :func:`export_time_entries`).

    A fresh export writes an exclusive temporary file beside the target and renames it over
    the target when it succeeded (``promote``: already at the first checkpoint, so that a
    resumable export can continue after a crash). A resumed export continues the target in
    place, opened only when the first line is written, so a failure before that changes
    nothing.
    """

    def __init__(
        self,
        path: Path,
        *,
        checkpoint_path: Path | None,
        promote: bool,
        offset: int | None,
        preamble: bytes,
    ) -> None:
        self.path = path
        self.checkpoint_path = checkpoint_path
        self.promote = promote
        #: Called after the output is fsynced, before a checkpoint is written (the spool's fsync).
        self.before_checkpoint: Callable[[], None] = _nothing
        self.handle: BinaryIO | None = None
        self.tmp: Path | None = None
        if offset is not None:
            if path.is_symlink():
                raise ValueError(f"{path} is a symbolic link; a resumed export does not follow it")
            _check_resumable_size(path, offset)
            self.position = self.offset = offset
        else:
            self.handle, self.tmp = create_temp_beside(path)
            self.position = self.offset = 0
            self.write(preamble)

    def _opened(self) -> BinaryIO:
        if self.handle is None:
            self.handle = _open_in_place(self.path)
            _prepare_resume(self.handle, self.offset)
        return self.handle

    def write(self, data: bytes) -> None:
        _write_all(self._opened(), data)
        self.position += len(data)

    def _into_place(self) -> None:
        """Rename the temporary file over the target (any older checkpoint is removed first)."""
        assert self.handle is not None
        assert self.tmp is not None
        if self.checkpoint_path is not None:
            # The old checkpoint describes the old file: never leave it beside the new one.
            with contextlib.suppress(FileNotFoundError):
                self.checkpoint_path.unlink()
        handle, tmp, self.handle, self.tmp = self.handle, self.tmp, None, None
        replace_with(handle, tmp, self.path)
        self.offset = self.position

    def _save(self, point: ExportCheckpoint, *, last: bool) -> None:
        if self.tmp is not None:
            if not (last or self.promote):
                return  # all or nothing: the target is replaced only at the end
            self._into_place()
        else:
            _sync_output(self._opened())
        self.before_checkpoint()
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, point)
        if last and self.handle is not None:
            self.handle.close()
            self.handle = None

    async def save(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point, last=False))

    async def finish(self, point: ExportCheckpoint) -> None:
        await _off_loop(lambda: self._save(point, last=True))

    def abandon(self) -> None:
        """Close the file; a temporary file not yet in place is removed."""
        handle, tmp, self.handle, self.tmp = self.handle, self.tmp, None, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        if tmp is not None:
            discard_temp(tmp)


def _check_resumable_size(path: Path, offset: int) -> None:
    """``ValueError`` unless ``path`` has at least ``offset`` bytes (checked before any request)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = 0
    if size < offset:
        raise ValueError(
            f"the output has {size} bytes but the checkpoint expects at least {offset}: "
            "it is not the file this checkpoint belongs to"
        )


def _make_sink(
    output: BinaryIO | str | os.PathLike[str],
    checkpoint_path: Path | None,
    resume: bool,
    offset: int | None,
    preamble: bytes,
) -> _StreamSink | _FileSink:
    if isinstance(output, (str, os.PathLike)):
        return _FileSink(
            Path(output),
            checkpoint_path=checkpoint_path,
            promote=resume,
            offset=offset,
            preamble=preamble,
        )
    return _StreamSink(
        output, checkpoint_path=checkpoint_path, resume=resume, offset=offset, preamble=preamble
    )
