"""Atomic file writes: one way to replace a file, shared by the export and the sync checkpoints.

A temporary file is created *exclusively* beside the target (:func:`tempfile.mkstemp` in the same
directory: a random name opened with ``O_CREAT | O_EXCL``, so a planted file or symlink is never
followed), written, flushed and fsynced, then renamed over the target with :func:`os.replace`,
and the directory is fsynced so the rename survives a power cut. A crash leaves the old content
or the new one, never a mix. The rename replaces the target's directory entry: when the target
is a symlink, the link itself is replaced and whatever it pointed to is left alone.

The temporary file gets the permission bits a plain ``open(path, "w")`` would give (the old
file's when there is one, else ``0o666`` minus the umask) instead of ``mkstemp``'s ``0o600``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "create_temp_beside",
    "discard_temp",
    "fsync_directory",
    "read_if_exists",
    "replace_with",
    "write_atomic",
]

#: The umask assumed where the process's own cannot be read without changing it.
_FALLBACK_UMASK = 0o022


def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` would race other threads)."""
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii", errors="replace") as status,
    ):
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _FALLBACK_UMASK


def _mode_for(path: Path) -> int:
    """Permission bits for a file replacing ``path``: the old regular file's, else the default."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0o666 & ~_umask()
    if stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


def create_temp_beside(path: Path) -> tuple[BinaryIO, Path]:
    """An exclusively created, empty temporary file in ``path``'s directory, open for writing.

    Its name is hidden and random (``.NAME.XXXXXXXX.tmp``). Raises ``OSError`` when the
    directory does not exist or is not writable.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        handle = os.fdopen(fd, "w+b")
    except BaseException:
        os.close(fd)
        discard_temp(Path(name))
        raise
    return handle, Path(name)


def discard_temp(tmp: Path) -> None:
    """Remove a temporary file (quietly: it may already be gone)."""
    with contextlib.suppress(OSError):
        tmp.unlink()


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where it cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_with(handle: BinaryIO, tmp: Path, path: Path) -> None:
    """Flush, fsync and close ``handle`` (open on ``tmp``), then rename ``tmp`` over ``path``.

    ``tmp`` is removed when anything fails, so no temporary file is left behind.
    """
    try:
        with handle:
            handle.flush()
            os.fsync(handle.fileno())
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(handle.fileno(), _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        discard_temp(tmp)
        raise
    fsync_directory(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: exclusive temporary file, fsync, ``os.replace``.

    A crash leaves either the old or the new content, never a mix; a failure leaves the old
    content and no temporary file. A symlink at ``path`` is replaced, never followed.
    """
    path = Path(path)
    handle, tmp = create_temp_beside(path)
    try:
        handle.write(data)
    except BaseException:
        handle.close()
        discard_temp(tmp)
        raise
    replace_with(handle, tmp, path)


def read_if_exists(path: Path) -> bytes | None:
    """The bytes stored at ``path``, or ``None`` when there is no such file (checkpoint loaders)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
