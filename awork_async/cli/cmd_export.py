"""``awork-async export time-entries``: an export to JSON Lines or CSV.

Consistent by default (the keyset walk of :mod:`awork_async.export`); with ``--orderby`` it pages
in the requested order instead, which is not consistent under concurrent change.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from .. import _constants as C
from ._constants import CHECKPOINT_SUFFIX, EXIT_INTERRUPTED
from ._errors import CliError, CliUsageError
from ._options import entry_filter, parse_date_range, parse_uuid
from ._progress import ExportProgress, summary_line
from ._runtime import AppState, run_with_client, state_of

if TYPE_CHECKING:
    from .. import AworkClient
    from ..export import ExportSummary

__all__ = [
    "ExportFormat",
    "app",
    "checkpoint_path_for",
    "open_output",
    "parse_orderby",
    "run_export",
]

app = typer.Typer(help="Export data to files.", no_args_is_help=True)


class ExportFormat(str, enum.Enum):
    """Output formats of the export."""

    JSONL = "jsonl"
    CSV = "csv"


def checkpoint_path_for(output: Path) -> Path:
    """``FILE.checkpoint`` beside the output ``FILE``."""
    return output.with_name(output.name + CHECKPOINT_SUFFIX)


@contextmanager
def open_output(output: str, *, resume: bool) -> Iterator[tuple[BinaryIO | Path, Path | None]]:
    """Where to write (stdout's binary stream, or the file's path) and the checkpoint path.

    ``-`` is stdout (no checkpoint, no resume). A file is not opened here: the export owns it
    and replaces it only when it succeeded (or, with ``resume``, continues it in place; see
    :func:`awork_async.export.export_time_entries`), so a failed export leaves it untouched.
    A path that cannot be written (a directory, a missing or read-only folder) is a usage
    error, raised before any request.
    """
    if output == "-":
        if resume:
            raise CliUsageError("--resume needs --output FILE (stdout cannot be resumed)")
        stream = sys.stdout.buffer
        yield stream, None
        stream.flush()
        return
    path = Path(output)
    reason = _unwritable(path)
    if reason is not None:
        raise CliUsageError(f"--output: cannot write {output}: {reason}")
    yield path, checkpoint_path_for(path)


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written as an export's output, or ``None`` when it can."""
    folder = path.parent
    if path.is_dir():
        return "Is a directory"
    if not folder.is_dir():
        return "No such directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "Permission denied (the folder)"
    return None


def parse_orderby(text: str | None) -> str | None:
    """The ``--orderby`` value as the API expects it (``None`` when absent or blank).

    Keys are separated by commas, each ``path [asc|desc]``; a malformed key is a usage error.
    """
    from ..filters import OrderBy, order_by, to_order_string

    if text is None or not text.strip():
        return None
    keys: list[OrderBy] = []
    for part in text.split(","):
        key = part.strip()
        try:
            keys.append(order_by(key))  # the filters' one check of an order key
        except ValueError:
            raise CliUsageError(
                f"--orderby: {key!r} is not an order key (expected e.g. 'duration desc,id')"
            ) from None
    return to_order_string(order_by(*keys))


def run_export(
    state: AppState,
    stream: BinaryIO | Path,
    *,
    format: ExportFormat,
    filterby: str | None,
    orderby: str | None = None,
    page_size: int,
    checkpoint: Path | None,
    resume: bool,
    progress: ExportProgress,
    csv_raw_values: bool = False,
    concurrency: int = C.DEFAULT_CONCURRENCY,
) -> ExportSummary:
    """Run :func:`awork_async.export.export_time_entries` with the state's client.

    ``stream`` is stdout's binary stream or the output file's path (written atomically).
    ``orderby`` switches to the ordered (offset-paged, not consistent) export.
    """
    from ..export import export_time_entries

    def on_progress(done: int, total: int | None) -> None:
        progress.update(done, total)

    async def body(client: AworkClient) -> ExportSummary:
        return await export_time_entries(
            client,
            stream,
            format=format.value,
            filterby=filterby,
            orderby=orderby,
            page_size=page_size,
            checkpoint_path=checkpoint,
            resume=resume,
            on_progress=on_progress,
            csv_raw_values=csv_raw_values,
            concurrency=concurrency,
        )

    with progress:
        try:
            return run_with_client(state, body, hooks=progress.hooks())
        except ValueError as exc:  # e.g. a checkpoint of another format, filter or order
            raise CliError(f"export refused: {exc}") from None


@app.command("time-entries")
def time_entries(
    ctx: typer.Context,
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day (YYYY-MM-DD, today, yesterday or today-N), on startDateUtc.",
            show_default=False,
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last day (YYYY-MM-DD, today, ...), inclusive, on startDateUtc.",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Only this user's entries (id).", show_default=False)
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="Only this project's entries (id).", show_default=False)
    ] = None,
    billable: Annotated[
        bool | None,
        typer.Option(
            "--billable/--not-billable",
            help="Only billable (or only non-billable) entries.",
            show_default=False,
        ),
    ] = None,
    filterby: Annotated[
        str | None,
        typer.Option(
            help='Extra awork filter, and-ed with the options above (e.g. "duration gt 3600").',
            show_default=False,
        ),
    ] = None,
    orderby: Annotated[
        str | None,
        typer.Option(
            help='Write entries in this order (e.g. "duration desc,id"; end with a unique key '
            "such as id). Uses plain offset pages, which are NOT consistent: entries created, "
            "deleted or changed during the export may be skipped or written twice. Without "
            "--orderby the export is consistent (its own createdOn,id order). --resume works "
            "in both modes, with the same --orderby and --page-size.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.JSONL,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output file, or - for stdout.")
    ] = "-",
    page_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Entries per request (1..1000).")
    ] = 1000,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted export of the same FILE from FILE.checkpoint, "
            "without duplicating lines (FILE is then written in place; without --resume it is "
            "replaced only when the export succeeded).",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Consistent export: partitions of the createdOn range walked at once "
            "(at most this many requests in flight, within the rate limit); 1 = one request "
            "after another. "
            "The output is the same whatever the value.",
        ),
    ] = C.DEFAULT_CONCURRENCY,
    csv_raw_values: Annotated[
        bool,
        typer.Option(
            "--csv-raw-values",
            help="CSV: write notes and names exactly as stored. By default a text cell "
            "starting with = + - @, tab or CR gets a leading ' so spreadsheets do not run it "
            "as a formula (CSV injection).",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")
    ] = False,
) -> None:
    """Export time entries, consistently (no entry twice or missing under concurrent edits).

    With --orderby the entries come in that order instead, but the export is then not
    consistent under concurrent edits. Without --resume, FILE is replaced only when the export
    succeeded: a failed or interrupted run leaves it as it was. With --resume, FILE is written
    in place and FILE.checkpoint kept up to date, so an interrupted run continues where it
    stopped. The progress bar and the summary go to stderr.
    """
    state = state_of(ctx)
    first, last = parse_date_range(date_from, date_to)
    order = parse_orderby(orderby)
    filter_text = entry_filter(
        date_from=first,
        date_to=last,
        user=parse_uuid(user, "--user") if user is not None else None,
        project=parse_uuid(project, "--project") if project is not None else None,
        billable=billable,
        raw_filter=filterby,
    )
    state.settings().require_token()
    show_bar = not quiet and sys.stderr.isatty()
    with open_output(output, resume=resume) as (stream, checkpoint):
        try:
            summary = run_export(
                state,
                stream,
                format=format,
                filterby=filter_text,
                orderby=order,
                page_size=page_size,
                checkpoint=checkpoint,
                resume=resume,
                progress=ExportProgress(enabled=show_bar),
                csv_raw_values=csv_raw_values,
                concurrency=concurrency,
            )
        except KeyboardInterrupt:
            hint = ""
            if checkpoint is not None and resume:
                hint = " (run the same command to continue)"
            elif checkpoint is not None:
                hint = f" ({output} is unchanged; with --resume an export can be continued)"
            typer.echo(f"error: interrupted{hint}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if not quiet:
        typer.echo(summary_line(summary, "stdout" if output == "-" else output), err=True)
