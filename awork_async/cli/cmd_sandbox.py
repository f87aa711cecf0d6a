"""``awork-async sandbox``: serve the local awork-compatible server in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Annotated

import typer

from .. import _constants as C
from ._constants import SANDBOX_PORT
from ._options import parse_rate_limit

__all__ = ["LISTENING_PREFIX", "connect_hint", "sandbox"]

#: Start of the line that carries the base URL (scripts and tests wait for it).
LISTENING_PREFIX = "awork sandbox listening on "


def connect_hint(base_url: str, token: str) -> list[str]:
    """The lines telling how to point the CLI (or the client) at a sandbox."""
    return [
        "point the CLI at it with:",
        f"  export {C.ENV_BASE_URL}={base_url} {C.ENV_TOKEN}={token}",
        "  awork-async export time-entries --output entries.jsonl",
        "or in Python: AworkClient(token=..., base_url=...) with the values above",
    ]


def sandbox(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (0 picks a free one).")
    ] = SANDBOX_PORT,
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default; others print a warning).")
    ] = ("127.0.0.1"),
    entries: Annotated[int, typer.Option(min=0, help="Time entries to generate.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 1,
    token: Annotated[
        str | None,
        typer.Option(
            "--sandbox-token",
            help="Bearer token the sandbox accepts (random when omitted).",
            show_default=False,
        ),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help="Enforce awork-like rate limits PER_SECOND/PER_MINUTE, e.g. 50/1000.",
            show_default=False,
        ),
    ] = None,
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds added to every request.")] = 0.0,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered 500/502/503.")
    ] = 0.0,
    rate_limit_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered 429.")
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of connections closed unanswered.")
    ] = 0.0,
    slow_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of responses delayed (--slow-delay).")
    ] = 0.0,
    slow_delay: Annotated[
        float, typer.Option(min=0.0, help="Delay of a slow response, in seconds.")
    ] = 2.0,
    truncate_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of bodies cut short.")
    ] = 0.0,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault draws.")] = 0,
    webhooks: Annotated[
        bool,
        typer.Option(
            "--webhooks",
            help="POST webhooks registered through the sandbox's API (loopback receivers only) "
            "for every time-entry change, retrying failures like awork.",
        ),
    ] = False,
    webhook_failure_rate: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of webhook delivery attempts failed on purpose."
        ),
    ] = 0.0,
) -> None:
    """Run a local awork-compatible server with generated data until Ctrl+C.

    Prints its base URL and token; point the other commands at it with --base-url and --token
    (or AWORK_BASE_URL and AWORK_TOKEN).
    """
    limits = parse_rate_limit(rate_limit)
    from ..sandbox import FaultConfig, RateLimitConfig, Sandbox, WebhookDeliveryConfig
    from ..sandbox.server import exposure_warning

    warning = exposure_warning(host)
    if warning is not None:
        typer.echo(warning, err=True)

    faults = FaultConfig(
        seed=fault_seed,
        error_rate=error_rate,
        rate_limit_rate=rate_limit_rate,
        drop_rate=drop_rate,
        slow_rate=slow_rate,
        slow_delay=slow_delay,
        truncate_rate=truncate_rate,
        latency=latency,
    )
    server = Sandbox(
        entries=entries,
        seed=seed,
        host=host,
        port=port,
        token=token,
        rate_limit=RateLimitConfig(*limits) if limits is not None else None,
        faults=faults,
        webhooks=(
            WebhookDeliveryConfig(failure_rate=webhook_failure_rate, seed=fault_seed)
            if webhooks
            else None
        ),
    )

    async def serve() -> None:
        async with server:
            lines = [
                f"{LISTENING_PREFIX}{server.base_url}",
                f"token: {server.token}",
                f"data: {len(server.store.entries)} time entries (seed {seed}), "
                f"me = {server.store.me_id}",
                *connect_hint(server.base_url, server.token),
                "press Ctrl+C to stop",
            ]
            if webhooks:
                lines.insert(-1, "webhooks: on (register them with `awork-async webhooks create`)")
            typer.echo("\n".join(lines))
            sys.stdout.flush()
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
