"""``awork-async mirror``: keep a database in step with awork's time entries.

A thin shell around :func:`awork_async.mirror.mirror`: builds the client (with a
:class:`~awork_async.RedisRateLimiter` for ``--redis``), serves a
:class:`~awork_async.webhooks.WebhookReceiver` for ``--webhooks-port``, shows a progress bar on
the first load and prints one line per pass (``--json``: one JSON object per line).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .. import _constants as C
from ._constants import CRASH_EXIT_CODE, ENV_CRASH_AFTER
from ._errors import CliError, CliUsageError
from ._progress import ExportProgress
from ._runtime import run_with_client, state_of

if TYPE_CHECKING:
    from .. import AworkClient
    from .._ratelimit import RateLimiter
    from ..mirror import PassReport
    from ..webhooks import WebhookReceiver

__all__ = ["mirror_command", "parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def parse_duration(text: str, option: str) -> float | None:
    """``"90"``/``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` in seconds; ``"0"``/``"never"``: None."""
    value = text.strip().lower()
    if value in ("0", "never", "off"):
        return None
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        raise CliUsageError(
            f"{option}: {text!r} is not a duration (e.g. 90, 15m, 6h, 1d, or never)"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        return None
    return seconds


def _crash_after() -> int | None:
    """Test hook: exit abruptly once this many entries were committed (first load)."""
    text = os.environ.get(ENV_CRASH_AFTER)
    return int(text) if text else None


def mirror_command(
    ctx: typer.Context,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="Database URL: sqlite:///FILE (one process) or postgresql://user@host/db "
            "(several workers; pip install 'awork-async[postgres]').",
            show_default=False,
        ),
    ],
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (cron).")] = False,
    poll_every: Annotated[
        str, typer.Option("--poll-every", help="Time between passes (e.g. 60, 5m).")
    ] = "60",
    sweep_every: Annotated[
        str,
        typer.Option(
            "--sweep-every",
            help="Time between deletion sweeps (e.g. 6h, 1d; 'never' to rely on webhooks only).",
        ),
    ] = "1d",
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            help="redis:// URL: share the rate limit with every worker of the workspace "
            "(pip install 'awork-async[redis]').",
            show_default=False,
        ),
    ] = None,
    webhooks_port: Annotated[
        int | None,
        typer.Option(
            "--webhooks-port",
            min=1,
            max=65535,
            help="Receive awork's webhooks on this port and apply deletions at once.",
            show_default=False,
        ),
    ] = None,
    webhooks_host: Annotated[
        str, typer.Option("--webhooks-host", help="Address the webhook receiver listens on.")
    ] = "127.0.0.1",
    webhooks_path: Annotated[
        str, typer.Option("--webhooks-path", help="Path of the webhook receiver.")
    ] = "/awork/webhooks",
    auth_header: Annotated[
        str | None,
        typer.Option(
            "--auth-header",
            help="Header awork sends with each delivery (as configured on the webhook).",
            show_default=False,
        ),
    ] = None,
    auth_value: Annotated[
        str | None,
        typer.Option(
            "--auth-value",
            envvar="AWORK_WEBHOOK_SECRET",
            help="Its value (default: $AWORK_WEBHOOK_SECRET). Never printed.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="The mirror's name (its state row and leader lock).")
    ] = "default",
    page_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Entries per request (1..1000).")
    ] = 1000,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, max=64, help="Requests in flight on a first load or catch-up."
        ),
    ] = C.DEFAULT_CONCURRENCY,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=5000, help="Entries per transaction.")
    ] = 2000,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per pass (for log shippers).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no pass lines.")
    ] = False,
) -> None:
    """Keep a database in step with awork's time entries, deletions included.

    Creates the tables (time_entries, mirror_state, ...) on first use, loads everything once,
    then reads the changes every --poll-every. Deletions come from webhooks (--webhooks-port)
    and from a sweep every --sweep-every. Several workers may run against one PostgreSQL
    database: one leads, the others stand by and take over when it dies.
    """
    from ..mirror import MirrorCounters, async_database_url, mirror

    state = state_of(ctx)
    try:
        async_database_url(db)
    except ValueError as exc:
        raise CliUsageError(f"--db: {exc}") from None
    poll = parse_duration(poll_every, "--poll-every")
    if poll is None:
        raise CliUsageError("--poll-every must be a positive duration")
    sweep = parse_duration(sweep_every, "--sweep-every")
    if webhooks_port is not None and not (auth_header and auth_value):
        raise CliUsageError(
            "--webhooks-port needs --auth-header and --auth-value (awork's only verification)"
        )
    if webhooks_port is None and (auth_header or auth_value) and auth_header:
        raise CliUsageError("--auth-header/--auth-value need --webhooks-port")
    if redis is not None and not redis.startswith(("redis://", "rediss://", "unix://")):
        raise CliUsageError("--redis must be a redis://, rediss:// or unix:// URL")
    state.settings().require_token()

    counters = MirrorCounters()
    progress = ExportProgress(enabled=not quiet and sys.stderr.isatty(), label="mirror")
    crash_after = _crash_after()
    hooks = counters.hooks()
    hooks.on_rate_limit_wait.append(lambda event: progress.rate_limit_wait(event.wait))

    def on_progress(done: int, total: int | None) -> None:
        progress.update(done, total)
        if crash_after is not None and done >= crash_after:
            os._exit(CRASH_EXIT_CODE)

    def on_pass(report: PassReport) -> None:
        progress.__exit__(None, None, None)  # the bar is for the first load only
        if quiet:
            return
        typer.echo(report.to_json() if as_json else report.line())

    def limiter() -> RateLimiter:
        from .._redis_ratelimit import RedisRateLimiter

        assert redis is not None
        try:
            return RedisRateLimiter(redis)
        except ImportError as exc:
            raise CliUsageError(str(exc)) from None

    async def body(client: AworkClient) -> None:
        receiver: WebhookReceiver | None = None
        runner = None
        if webhooks_port is not None:
            from aiohttp import web

            from ..webhooks import WebhookReceiver

            assert auth_header is not None
            assert auth_value is not None
            receiver = WebhookReceiver(auth_header=auth_header, auth_value=auth_value)
            runner = web.AppRunner(receiver.app(path=webhooks_path), access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, webhooks_host, webhooks_port).start()
            except OSError as exc:
                await runner.cleanup()
                raise CliError(
                    f"--webhooks-port: cannot listen on {webhooks_host}:{webhooks_port}: "
                    f"{exc.strerror or exc}"
                ) from None
        try:
            await mirror(
                client,
                db,
                once=once,
                name=name,
                poll_every=poll,
                sweep_every=sweep,
                receiver=receiver,
                counters=counters,
                batch_size=batch_size,
                page_size=page_size,
                concurrency=concurrency,
                on_pass=on_pass,
                on_progress=on_progress,
            )
        finally:
            if receiver is not None:
                receiver.close()
            if runner is not None:
                await runner.cleanup()

    from ..mirror import MirrorLockedError

    with progress:
        try:
            run_with_client(
                state, body, hooks=hooks, rate_limiter=limiter if redis is not None else None
            )
        except MirrorLockedError as exc:
            raise CliError(str(exc)) from None
