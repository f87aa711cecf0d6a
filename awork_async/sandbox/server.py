"""Running the sandbox: async context manager :class:`Sandbox`, blocking :func:`run_sandbox`."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import sys
from datetime import date
from types import TracebackType

from aiohttp import web

from . import _constants as S
from .app import build_app
from .config import FaultConfig, RateLimitConfig, SandboxConfig, WebhookDeliveryConfig
from .ratelimit import FixedWindowRateLimiter
from .stats import SandboxStats
from .store import Store
from .webhooks import WebhookHub

__all__ = ["Sandbox", "exposure_warning", "run_sandbox"]


def exposure_warning(host: str) -> str | None:
    """The warning to print when ``host`` is not a loopback address, else ``None``.

    The sandbox is a test server: anyone who can reach it and has its token (printed at start,
    or fixed with ``--token``) reads and changes its data, and it has no TLS.
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return None
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        return None
    where = (
        "on ALL network interfaces"
        if name == "" or (address is not None and address.is_unspecified)
        else f"on {host}"
    )
    return (
        f"WARNING: the sandbox listens {where}: other machines can reach it. It is a test "
        "server without TLS; anyone with its token (printed below) can read and change its "
        "data. Use --host 127.0.0.1 unless you mean to share it."
    )


class Sandbox:
    """A local awork-compatible server on 127.0.0.1, for tests and demos::

        async with Sandbox(entries=1000, seed=1) as sb:
            async with aiohttp.ClientSession() as s:
                r = await s.get(f"{sb.base_url}/timeentries", headers=sb.auth_headers)

    Keyword arguments override the matching :class:`SandboxConfig` fields. ``rate_limit`` and
    ``faults`` take :class:`RateLimitConfig` / :class:`FaultConfig`; both are off by default.
    ``webhooks=True`` (or a :class:`WebhookDeliveryConfig`) makes the sandbox POST awork's
    webhook envelopes to the webhooks registered through its API, for every change of a time
    entry (:mod:`awork_async.sandbox.webhooks`); ``await sb.webhooks.join()`` waits for them.
    The data ends a few days before today; ``anchor=date(...)`` fixes its last day instead.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        entries: int | None = None,
        seed: int | None = None,
        host: str | None = None,
        port: int | None = None,
        token: str | None = None,
        rate_limit: RateLimitConfig | None = None,
        faults: FaultConfig | None = None,
        webhooks: bool | WebhookDeliveryConfig | None = None,
        anchor: date | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        overrides = {
            "anchor": anchor,
            "entries": entries,
            "seed": seed,
            "host": host,
            "port": port,
            "token": token,
            "rate_limit": rate_limit,
            "faults": faults,
            "webhooks": webhooks,
        }
        for name, value in overrides.items():
            if value is not None:
                setattr(self.config, name, value)
        self.app = build_app(self.config)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def token(self) -> str:
        """The bearer token the server accepts."""
        assert self.config.token is not None
        return self.config.token

    @property
    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}``."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def store(self) -> Store:
        """The in-memory data (entries, users, …), for assertions and concurrent changes."""
        from ._http import STORE_KEY

        return self.app[STORE_KEY]

    @property
    def stats(self) -> SandboxStats:
        """Request counters."""
        from ._http import STATS_KEY

        return self.app[STATS_KEY]

    @property
    def faults(self) -> FaultConfig:
        """Fault knobs, mutable while running (``sb.faults.error_rate = 0.1``)."""
        return self.config.faults

    @property
    def webhooks(self) -> WebhookHub:
        """Registered webhooks and their delivery (``await sb.webhooks.join()`` waits until
        every queued delivery is done)."""
        from .routes_webhooks import HUB_KEY

        return self.app[HUB_KEY]

    @property
    def rate_limiter(self) -> FixedWindowRateLimiter | None:
        """The rate limiter, when rate limiting is on."""
        from .app import LIMITER_KEY

        return self.app.get(LIMITER_KEY)

    @property
    def port(self) -> int:
        """The bound TCP port (after start)."""
        if self._port is None:
            raise RuntimeError("the sandbox is not running")
        return self._port

    @property
    def origin(self) -> str:
        """``http://HOST:PORT``."""
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``: pass it to the client as its base URL."""
        return f"{self.origin}/api/v1"

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving and release the port."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def run_sandbox(
    host: str = S.SANDBOX_HOST,
    port: int = 8080,
    entries: int = S.SANDBOX_ENTRIES,
    seed: int = S.SANDBOX_SEED,
    *,
    token: str | None = None,
    rate_limit: RateLimitConfig | None = None,
    faults: FaultConfig | None = None,
    config: SandboxConfig | None = None,
    print_fn: object = print,
    webhooks: WebhookDeliveryConfig | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C), printing the base URL and token first (blocking)."""

    async def main() -> None:
        sandbox = Sandbox(
            config,
            entries=entries,
            seed=seed,
            host=host,
            port=port,
            token=token,
            rate_limit=rate_limit,
            faults=faults,
            webhooks=webhooks,
        )
        async with sandbox:
            assert callable(print_fn)
            print_fn(f"awork sandbox listening on {sandbox.base_url}")
            print_fn(f"token: {sandbox.token}")
            print_fn(f"me:    {sandbox.store.me_id} ({len(sandbox.store.entries)} time entries)")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()

    warning = exposure_warning(host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
