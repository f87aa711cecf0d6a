"""The export progress bar (rich, on stderr) and the end-of-run summary line."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, Task, TaskID

    from .._hooks import Hooks

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


#: Waits shorter than this (the limiter pacing requests within a second) are not shown.
MIN_SHOWN_WAIT = 1.0


class ExportProgress:
    """A rich progress bar fed by the export's ``on_progress(done, total)`` callback.

    Shows entries done of ``aw-totalitems``, entries per second and the time left, in at most
    80 columns. While the rate limiter holds the export (:meth:`rate_limit_wait`, fed by the
    client's ``on_rate_limit_wait`` hook), it says "waiting for the rate limit (N s)" instead.
    Disabled (every call a no-op) when ``enabled`` is false, e.g. ``--quiet`` or stderr not a
    terminal.
    """

    def __init__(
        self,
        *,
        enabled: bool,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        label: str = "export",
    ) -> None:
        self.enabled = enabled
        self.label = label
        self._console = console
        self._clock = clock
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        #: Last values reported (kept even when disabled, for tests and the summary).
        self.done = 0
        self.total: int | None = None
        #: Clock time until which the rate limiter holds the export.
        self.waiting_until = -math.inf

    def __enter__(self) -> ExportProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
            )

            console = self._console or Console(stderr=True)
            self._progress = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(bar_width=16),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                _status_column(self),
                console=console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None)
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
        self.waiting_until = -math.inf  # entries arrived: no longer waiting
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=done, total=total)

    def rate_limit_wait(self, seconds: float) -> None:
        """The rate limiter holds the export for ``seconds`` (short pacing waits are ignored)."""
        if seconds >= MIN_SHOWN_WAIT:
            self.waiting_until = max(self.waiting_until, self._clock() + seconds)
            if self._progress is not None:
                self._progress.refresh()

    def wait_left(self) -> float:
        """Seconds the rate limiter still holds the export (0 when it does not)."""
        return max(0.0, self.waiting_until - self._clock())

    def hooks(self) -> Hooks:
        """Client hooks that feed :meth:`rate_limit_wait`."""
        from .._hooks import Hooks

        return Hooks(on_rate_limit_wait=[lambda event: self.rate_limit_wait(event.wait)])


def _status_text(progress: ExportProgress, task: Task) -> str:
    """``waiting for the rate limit (N s)``, else speed and time left (compact)."""
    left = progress.wait_left()
    if left > 0.0:
        return f"waiting for the rate limit ({math.ceil(left)} s)"
    speed = task.speed
    rate = f"{speed:,.0f}/s " if speed else ""
    remaining = task.time_remaining
    eta = "" if remaining is None else f" ETA {_clock_text(remaining)}"
    return f"{rate}{_clock_text(task.elapsed or 0.0)}{eta}"


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _status_column(progress: ExportProgress) -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class StatusColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(_status_text(progress, task), no_wrap=True, overflow="ellipsis")

    return StatusColumn()
