"""``awork-async demo``: export seeded data from an in-process sandbox, no account needed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from .. import _constants as D
from ._progress import ExportProgress, summary_line
from .cmd_export import ExportFormat, open_output

if TYPE_CHECKING:
    from ..export import ExportSummary

__all__ = ["demo", "demo_epilogue"]


def demo_epilogue(output: str, fmt: ExportFormat) -> list[str]:
    """What the demo prints after the export: the file and how to do the same for real."""
    return [
        f"wrote {output}",
        "the same against your awork workspace (create an API key under Settings > Integrations):",
        f"  export {D.ENV_TOKEN}=<your API key>",
        f"  awork-async export time-entries --format {fmt.value} --output my-export.{fmt.value}"
        " --from today-30 --to today",
        "or try the commands on a local server first: awork-async sandbox --port 8080",
    ]


def demo(
    entries: Annotated[
        int, typer.Option(min=0, max=1_000_000, help="Time entries to generate.")
    ] = D.DEMO_ENTRIES,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.JSONL,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help=f"Output file (default: {D.DEMO_OUTPUT_STEM}.FORMAT in this folder).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = D.DEMO_SEED,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Start a local sandbox with sample data and export it: try the library in seconds."""
    target = output or f"{D.DEMO_OUTPUT_STEM}.{format.value}"
    if target == "-":
        from ._errors import CliUsageError

        raise CliUsageError("demo writes a file: pass --output FILE (not -)")
    show_bar = not quiet and sys.stderr.isatty()
    typer.echo(f"starting a local awork sandbox with {entries} generated time entries …")
    with open_output(target, resume=False) as (stream, _checkpoint):
        summary = asyncio.run(
            _run(
                entries=entries,
                seed=seed,
                fmt=format,
                stream=stream,
                progress=ExportProgress(enabled=show_bar),
            )
        )
    typer.echo(summary_line(summary, str(Path(target))))
    for line in demo_epilogue(target, format):
        typer.echo(line)


async def _run(
    *,
    entries: int,
    seed: int,
    fmt: ExportFormat,
    stream: BinaryIO | Path,
    progress: ExportProgress,
) -> ExportSummary:
    from .. import AworkClient
    from ..export import export_time_entries
    from ..sandbox import Sandbox

    async with (
        Sandbox(entries=entries, seed=seed, port=0) as server,
        AworkClient(token=server.token, base_url=server.base_url, hooks=progress.hooks()) as client,
    ):
        typer.echo(f"sandbox on {server.base_url}; exporting ({fmt.value}) …")
        with progress:
            summary = await export_time_entries(
                client,
                stream,
                format=fmt.value,
                on_progress=progress.update,
            )
    return summary
