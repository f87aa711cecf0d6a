"""``awork-async time-bookings list`` and ``awork-async types-of-work list``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from ._errors import CliUsageError
from ._options import parse_date_range, parse_uuid
from ._output import (
    BOOKING_HEADERS,
    TYPE_OF_WORK_HEADERS,
    bookings_rows,
    print_json,
    print_table,
    types_of_work_rows,
)
from ._runtime import run_with_client, state_of

if TYPE_CHECKING:
    from .. import AworkClient
    from ..models import TimeBooking, TypeOfWork

__all__ = ["booking_filter", "bookings_app", "types_app"]

bookings_app = typer.Typer(help="Time bookings (planned capacity).", no_args_is_help=True)
types_app = typer.Typer(help="Types of work.", no_args_is_help=True)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (the API's camelCase fields) instead of a table.")
]


def booking_filter(date_from: dt.date | None, date_to: dt.date | None) -> str | None:
    """Bookings overlapping ``[date_from, date_to]``: ``endDate ge from and startDate le to``."""
    from ..filters import Expr, F, and_, to_filter_string

    parts: list[Expr] = []
    if date_from is not None:
        parts.append(F.end_date.ge(date_from))
    if date_to is not None:
        parts.append(F.start_date.le(date_to))
    return to_filter_string(and_(*parts)) if parts else None


@bookings_app.command("list")
def list_bookings(
    ctx: typer.Context,
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day (YYYY-MM-DD, today, yesterday or today-N).",
            show_default=False,
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Last day, inclusive (YYYY-MM-DD, today, ...).", show_default=False
        ),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="Only this user's bookings (repeat for several; needs --from and --to): "
            "uses GET /users/timebookings.",
            show_default=False,
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List time bookings: of some users in a date interval, or all (paginated)."""
    state = state_of(ctx)
    first, last = parse_date_range(date_from, date_to)
    user_ids = [parse_uuid(u, "--user") for u in user or ()]
    if user_ids and (first is None or last is None):
        raise CliUsageError("--user needs both --from and --to (the interval of the lookup)")

    async def body(client: AworkClient) -> list[TimeBooking]:
        if user_ids:
            assert first is not None
            assert last is not None
            by_user = await client.time_bookings.for_users(user_ids, first, last)
            return [b for bookings in by_user.values() for b in bookings]
        return [b async for b in client.time_bookings.list(filterby=booking_filter(first, last))]

    bookings = run_with_client(state, body)
    if json:
        print_json(bookings)
    else:
        print_table(f"{len(bookings)} time bookings", BOOKING_HEADERS, bookings_rows(bookings))


@types_app.command("list")
def list_types(
    ctx: typer.Context,
    archived: Annotated[
        bool, typer.Option("--archived", help="Include archived types of work.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """List the workspace's types of work (their ids are what `timer start` needs)."""
    state = state_of(ctx)

    async def body(client: AworkClient) -> list[TypeOfWork]:
        return [t async for t in client.types_of_work.list(show_archived=archived)]

    types = run_with_client(state, body)
    if json:
        print_json(types)
    else:
        print_table(f"{len(types)} types of work", TYPE_OF_WORK_HEADERS, types_of_work_rows(types))
