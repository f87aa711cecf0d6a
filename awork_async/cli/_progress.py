"""The export progress bar (rich, on stderr) and the end-of-run summary line."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["ExportProgress", "SummaryLike", "summary_line"]


class SummaryLike(Protocol):
    """What :func:`summary_line` reads (``awork_async.export.ExportSummary``)."""

    @property
    def entries(self) -> int: ...
    @property
    def pages(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def rate_limited(self) -> int: ...
    @property
    def seconds(self) -> float: ...


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(summary: SummaryLike, destination: str) -> str:
    """``exported 5000 entries to FILE: 5 pages, 5 requests, 0 retries, 0 429s, 0.41s``."""
    rate = f" ({summary.entries / summary.seconds:,.0f} entries/s)" if summary.seconds > 0 else ""
    return (
        f"exported {_plural(summary.entries, 'entry').replace('entrys', 'entries')} to "
        f"{destination}: {_plural(summary.pages, 'page')}, "
        f"{_plural(summary.requests, 'request')}, {_plural(summary.retries, 'retry')}".replace(
            "retrys", "retries"
        )
        + f", {summary.rate_limited} 429s, {summary.seconds:.2f}s{rate}"
    )


class ExportProgress:
    """A rich progress bar fed by the export's ``on_progress(done, total)`` callback.

    Shows entries done of ``aw-totalitems``, entries per second and the time left. Disabled
    (every call a no-op) when ``enabled`` is false, e.g. ``--quiet`` or stderr not a terminal.
    """

    def __init__(self, *, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        #: Last values reported (kept even when disabled, for tests and the summary).
        self.done = 0
        self.total: int | None = None

    def __enter__(self) -> ExportProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = self._console or Console(stderr=True)
            self._progress = Progress(
                TextColumn("[bold]exporting"),
                BarColumn(),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                TextColumn("entries"),
                TextColumn("{task.fields[speed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("export", total=None, speed="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def update(self, done: int, total: int | None) -> None:
        """Record progress: ``done`` entries written, ``total`` expected (``None``: unknown)."""
        self.done = done
        self.total = total
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=done, total=total)
        speed = self._progress.tasks[0].speed
        self._progress.update(
            self._task, speed=f"{speed:,.0f} entries/s" if speed else "… entries/s"
        )
