"""``awork-async demo``: export seeded data from an in-process sandbox, no account needed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from .. import _constants as C
from ._constants import DEMO_ENTRIES, DEMO_OUTPUT_STEM, DEMO_SEED, EXIT_INTERRUPTED
from ._progress import ExportProgress, summary_line
from .cmd_export import ExportFormat, open_output

if TYPE_CHECKING:
    from ..export import ExportSummary
    from ..sandbox import Sandbox

__all__ = ["SandboxThread", "demo", "demo_epilogue"]


def demo_epilogue(output: str, fmt: ExportFormat) -> list[str]:
    """What the demo prints after the export: the file and how to do the same for real."""
    return [
        f"wrote {output}",
        "the same against your awork workspace (create an API key under Settings > Integrations):",
        f"  export {C.ENV_TOKEN}=<your API key>",
        f"  awork-async export time-entries --format {fmt.value} --output my-export.{fmt.value}"
        " --from today-30 --to today",
        "or try the commands on a local server first: awork-async sandbox --port 8080",
    ]


def demo(
    entries: Annotated[
        int, typer.Option(min=0, max=1_000_000, help="Time entries to generate.")
    ] = DEMO_ENTRIES,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.JSONL,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help=f"Output file (default: {DEMO_OUTPUT_STEM}.FORMAT in this folder).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = DEMO_SEED,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Start a local sandbox with sample data and export it: try the library in seconds."""
    target = output or f"{DEMO_OUTPUT_STEM}.{format.value}"
    if target == "-":
        from ._errors import CliUsageError

        raise CliUsageError("demo writes a file: pass --output FILE (not -)")
    show_bar = not quiet and sys.stderr.isatty()
    try:
        # Everything, the first line included, runs inside one `asyncio.run`: a Ctrl+C after the
        # demo has said anything finds a running loop, which cancels the work and unwinds it (the
        # temporary file removed, the sandbox stopped) instead of interrupting the loop's own
        # construction or leaving a coroutine never awaited.
        summary = asyncio.run(
            _demo(target, entries=entries, seed=seed, fmt=format, show_bar=show_bar)
        )
    except KeyboardInterrupt:
        typer.echo(f"interrupted: demo stopped, {target} left as it was", err=True)
        # The abandoned sandbox's data (millions of objects) would make the interpreter's final
        # garbage collection take seconds: exempt everything alive now from it.
        gc.freeze()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    typer.echo(summary_line(summary, str(Path(target))))
    for line in demo_epilogue(target, format):
        typer.echo(line)


class SandboxThread:
    """A :class:`~awork_async.sandbox.Sandbox` served by its own thread and event loop.

    The demo's export runs on the main thread's loop, so the sandbox's work (sorting a large
    data set for a query takes seconds) never holds that loop up: Ctrl+C cancels the export at
    once. Leaving the block stops the sandbox; after an interrupt it waits at most
    :data:`STOP_WAIT` seconds for a sandbox still busy with a request (its thread is a daemon).
    """

    #: Longest wait for a busy sandbox to stop after an interrupt (seconds).
    STOP_WAIT = 0.2

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._ready = threading.Event()
        self._box: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="awork-demo-sandbox", daemon=True)

    def _serve(self) -> None:
        from ..sandbox import Sandbox

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with Sandbox(port=0, **self._config) as server:
                    self._box["server"] = server
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._box["error"] = exc
                raise
            finally:
                self._ready.set()

        with contextlib.suppress(BaseException):
            asyncio.run(serve())

    def __enter__(self) -> Sandbox:
        self._thread.start()
        try:
            self._ready.wait()
        except BaseException:
            self._request_stop()
            raise
        if "server" not in self._box:
            raise self._box.get("error") or RuntimeError("the sandbox did not start")
        server: Sandbox = self._box["server"]
        return server

    def _request_stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._request_stop()
        interrupted = exc_type is not None and issubclass(
            exc_type, (KeyboardInterrupt, asyncio.CancelledError)
        )
        self._thread.join(self.STOP_WAIT if interrupted else None)


async def _demo(
    target: str, *, entries: int, seed: int, fmt: ExportFormat, show_bar: bool
) -> ExportSummary:
    typer.echo(f"starting a local awork sandbox with {entries} generated time entries …")
    with (
        open_output(target, resume=False) as (stream, _checkpoint),
        SandboxThread(entries=entries, seed=seed) as server,
    ):
        typer.echo(f"sandbox on {server.base_url}; exporting ({fmt.value}) …")
        return await _export(
            server, fmt=fmt, stream=stream, progress=ExportProgress(enabled=show_bar)
        )


async def _export(
    server: Sandbox,
    *,
    fmt: ExportFormat,
    stream: BinaryIO | Path,
    progress: ExportProgress,
) -> ExportSummary:
    from .. import AworkClient
    from ..export import export_time_entries

    async with AworkClient(
        token=server.token, base_url=server.base_url, hooks=progress.hooks()
    ) as client:
        with progress:
            return await export_time_entries(
                client,
                stream,
                format=fmt.value,
                on_progress=progress.update,
            )
