"""``awork-async timer start|stop|pause|resume|status``: the running timer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._options import parse_uuid
from ._output import timer_action_line, timer_status_line
from ._runtime import run_with_client, state_of

if TYPE_CHECKING:
    import uuid

    from .. import AworkClient

__all__ = ["app"]

app = typer.Typer(
    help="Start, stop, pause and resume the timer, or show its state.",
    no_args_is_help=True,
)

UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Act on this user's timer (an id); default: the token's own user.",
        show_default=False,
    ),
]


def _user(text: str | None) -> uuid.UUID | None:
    return parse_uuid(text, "--user") if text is not None else None


@app.command()
def start(
    ctx: typer.Context,
    type_of_work: Annotated[
        str, typer.Option("--type-of-work", help="Type of work id (required).")
    ],
    user: UserOption = None,
    project: Annotated[str | None, typer.Option(help="Project id.", show_default=False)] = None,
    task: Annotated[str | None, typer.Option(help="Task id.", show_default=False)] = None,
    note: Annotated[str | None, typer.Option(help="Note.", show_default=False)] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="IANA time zone of the entry (default: this machine's).", show_default=False
        ),
    ] = None,
    billable: Annotated[
        bool | None,
        typer.Option(
            "--billable/--not-billable", help="Mark the entry (not) billable.", show_default=False
        ),
    ] = None,
) -> None:
    """Start a timer now (a running one is stopped first by awork)."""
    state = state_of(ctx)
    type_id = parse_uuid(type_of_work, "--type-of-work")
    user_id = _user(user)
    project_id = parse_uuid(project, "--project") if project is not None else None
    task_id = parse_uuid(task, "--task") if task is not None else None
    if timezone is not None:
        _check_timezone(timezone)

    async def body(client: AworkClient) -> str:
        entry = await client.timer.start(
            type_id,
            timezone=timezone,
            user_id=user_id,
            project_id=project_id,
            task_id=task_id,
            note=note,
            is_billable=billable,
        )
        return timer_action_line("start", entry)

    typer.echo(run_with_client(state, body))


def _check_timezone(name: str) -> None:
    import zoneinfo

    from ._errors import CliUsageError

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CliUsageError(f"--timezone: unknown time zone {name!r}") from None


def _simple(ctx: typer.Context, action: str, user: str | None) -> None:
    state = state_of(ctx)
    user_id = _user(user)

    async def body(client: AworkClient) -> str:
        method = getattr(client.timer, action)
        return timer_action_line(action, await method(user_id=user_id))

    typer.echo(run_with_client(state, body))


@app.command()
def stop(ctx: typer.Context, user: UserOption = None) -> None:
    """Stop the timer and show the time tracked."""
    _simple(ctx, "stop", user)


@app.command()
def pause(ctx: typer.Context, user: UserOption = None) -> None:
    """Pause the timer (awork allows it only on your own timer)."""
    _simple(ctx, "pause", user)


@app.command()
def resume(ctx: typer.Context, user: UserOption = None) -> None:
    """Resume a paused timer."""
    _simple(ctx, "resume", user)


@app.command()
def status(ctx: typer.Context, user: UserOption = None) -> None:
    """Show whether the timer is running, paused or stopped, with the elapsed time."""
    state = state_of(ctx)
    user_id = _user(user)

    async def body(client: AworkClient) -> str:
        return timer_status_line(await client.timer.status(user_id=user_id))

    typer.echo(run_with_client(state, body))
