"""``awork-async webhooks``: list, create and delete webhooks; ``listen`` receives them.

``listen`` serves a :class:`~awork_async.webhooks.WebhookReceiver` and prints every verified,
de-duplicated delivery as one JSON line (awork's envelope as received) on stdout; what it
refuses is logged on stderr. awork calls only public https URLs: run it behind a TLS-terminating
proxy or tunnel, or against the sandbox (``awork-async sandbox --webhooks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .. import _constants as C
from ._errors import CliUsageError
from ._options import parse_uuid
from ._output import print_table
from ._runtime import run_with_client, state_of

if TYPE_CHECKING:
    from .. import AworkClient
    from ..models import WebhookConfig

__all__ = ["app"]

app = typer.Typer(
    help="Webhooks: list, create and delete them; listen for their deliveries.",
    no_args_is_help=True,
)

WEBHOOK_HEADERS = ("id", "name", "active", "events", "uri", "auth header", "last failure")
#: Environment variables for the header options (keeps the secret out of shell history).
ENV_AUTH_HEADER = "AWORK_WEBHOOK_AUTH_HEADER"
ENV_AUTH_VALUE = "AWORK_WEBHOOK_AUTH_VALUE"

AuthHeader = Annotated[
    str | None,
    typer.Option(
        "--auth-header",
        envvar=ENV_AUTH_HEADER,
        help="Header awork sends with each delivery, e.g. X-Awork-Secret.",
        show_default=False,
    ),
]
AuthValue = Annotated[
    str | None,
    typer.Option(
        "--auth-value",
        envvar=ENV_AUTH_VALUE,
        help="Its secret value; never printed.",
        show_default=False,
    ),
]


def _public(config: WebhookConfig) -> dict[str, object]:
    """A webhook as JSON without its secret (``authentication`` shows the header name only)."""
    from .._converter import unstructure

    data: dict[str, object] = dict(unstructure(config))
    if data.get("authentication"):
        data["authentication"] = f"{config.auth_header or ''}=***"
    return data


@app.command("list")
def list_webhooks(
    ctx: typer.Context,
    json: Annotated[
        bool, typer.Option("--json", help="Print JSON (camelCase, secrets masked).")
    ] = False,
) -> None:
    """List the workspace's webhooks (needs admin or workspace-manage-config)."""
    state = state_of(ctx)

    async def body(client: AworkClient) -> list[WebhookConfig]:
        return [hook async for hook in client.webhooks.list()]

    hooks = run_with_client(state, body)
    if json:
        import sys

        import orjson

        data = [_public(hook) for hook in hooks]
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    rows = [
        (
            str(h.id or ""),
            h.name or "",
            "yes" if h.is_active else "PAUSED/off",
            ",".join(h.event_types),
            h.uri or "",
            h.auth_header or "",
            h.last_failure_reason or "",
        )
        for h in hooks
    ]
    print_table(f"{len(hooks)} webhooks", WEBHOOK_HEADERS, rows)


def _pair(header: str | None, value: str | None) -> tuple[str, str]:
    if not header or not value:
        raise CliUsageError(
            "--auth-header and --auth-value are required: awork's only verification is that "
            "header (or set " + ENV_AUTH_HEADER + " and " + ENV_AUTH_VALUE + ")"
        )
    return header, value


@app.command("create")
def create_webhook(
    ctx: typer.Context,
    uri: Annotated[str, typer.Option("--uri", help="The receiver's URL (https for awork).")],
    name: Annotated[str, typer.Option("--name", help="A name for the webhook.")] = "awork-async",
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="An event to subscribe to (repeat; default: the four timetracking_* events).",
            show_default=False,
        ),
    ] = None,
    auth_header: AuthHeader = None,
    auth_value: AuthValue = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it switched off.")] = False,
) -> None:
    """Register a webhook that POSTs the chosen events to --uri with the auth header."""
    from ..models import WebhookConfigForm

    state = state_of(ctx)
    header, value = _pair(auth_header, auth_value)
    try:
        form = WebhookConfigForm(
            name=name,
            uri=uri,
            events=list(event or C.WEBHOOK_TIME_EVENTS),
            is_active=not inactive,
            auth_header=header,
            auth_value=value,
        )
    except (TypeError, ValueError) as exc:
        raise CliUsageError(str(exc)) from None

    async def body(client: AworkClient) -> WebhookConfig:
        return await client.webhooks.create(form)

    hook = run_with_client(state, body)
    typer.echo(f"created webhook {hook.id} ({','.join(hook.event_types)} -> {hook.uri})")


@app.command("delete")
def delete_webhook(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.", show_default=False)],
) -> None:
    """Delete a webhook."""
    state = state_of(ctx)
    hook_id = parse_uuid(webhook_id, "WEBHOOK_ID")

    async def body(client: AworkClient) -> None:
        await client.webhooks.delete(hook_id)

    run_with_client(state, body)
    typer.echo(f"deleted webhook {hook_id}")


@app.command("listen")
def listen(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (0 picks a free one).")
    ] = 8081,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    path: Annotated[str, typer.Option(help="URL path of the receiver.")] = "/awork/webhooks",
    auth_header: AuthHeader = None,
    auth_value: AuthValue = None,
    max_events: Annotated[
        int | None,
        typer.Option(min=1, help="Exit after printing this many events.", show_default=False),
    ] = None,
) -> None:
    """Receive webhooks and print each verified event as one JSON line on stdout.

    Deliveries without the right header get 401 and are not printed; redeliveries are printed
    once. The first line on stderr tells the URL to register.
    """
    header, value = _pair(auth_header, auth_value)
    if not path.startswith("/"):
        raise CliUsageError(f"--path must start with '/', got {path!r}")
    import asyncio
    import contextlib
    import sys

    import orjson
    from aiohttp import web

    from ..webhooks import WebhookReceiver

    try:
        receiver = WebhookReceiver(auth_header=header, auth_value=value)
    except (TypeError, ValueError) as exc:
        raise CliUsageError(str(exc)) from None

    async def serve() -> None:
        runner = web.AppRunner(receiver.app(path=path), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = int(runner.addresses[0][1])
            shown = f"[{host}]" if ":" in host else host
            typer.echo(
                f"listening on http://{shown}:{bound}{path} (checking the {header} header); "
                "press Ctrl+C to stop",
                err=True,
            )
            count = 0
            async for event in receiver.events():
                sys.stdout.write(orjson.dumps(dict(event.raw)).decode() + "\n")
                sys.stdout.flush()
                count += 1
                if max_events is not None and count >= max_events:
                    break
        finally:
            receiver.close()
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
