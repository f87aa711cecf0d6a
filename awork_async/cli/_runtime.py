"""Shared state of one invocation and running a command's coroutine with a client."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs
import typer

from ._errors import CliUsageError, redact
from ._settings import ConfigFile, Settings, default_config_path, load_config_file, resolve

if TYPE_CHECKING:
    from pathlib import Path

    from .. import AworkClient
    from .._hooks import Hooks
    from .._ratelimit import RateLimiter

__all__ = [
    "AppState",
    "disable_verbose_logging",
    "enable_verbose_logging",
    "make_client",
    "run_with_client",
    "state_of",
]

T = TypeVar("T")


def _url_repr(url: str | None) -> str:
    """A URL option as shown: without user info, password or query."""
    from .._redact import safe_url

    return repr(None if url is None else safe_url(url))


@attrs.define
class AppState:
    """The global options of one invocation; settings are resolved on first use.

    Its ``repr`` shows neither the token option nor the environment (which holds
    ``AWORK_TOKEN``), and the base URL without user info, password or query.
    """

    token_option: str | None = attrs.field(default=None, repr=False)
    base_url_option: str | None = attrs.field(default=None, repr=_url_repr)
    config_path: Path | None = None
    verbose: bool = False
    max_attempts: int | None = None
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False)
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """Token and base URL from the options, the environment and the config file."""
        if self._settings is None:
            from .. import _constants as C

            path = self.config_path or default_config_path(self.env)
            config: ConfigFile = load_config_file(path)
            if config.note and not (self.token_option or self.env.get("AWORK_TOKEN")):
                print(f"note: {config.note}", file=sys.stderr)
            for warning in config.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            self._settings = resolve(
                token_option=self.token_option,
                base_url_option=self.base_url_option,
                env=self.env,
                config=config,
                default_base_url=C.DEFAULT_BASE_URL,
            )
        return self._settings

    def forget_settings(self) -> None:
        """Resolve the settings again on next use (an option changed)."""
        self._settings = None

    @property
    def resolved(self) -> Settings | None:
        """The settings if they were resolved already (never resolves them)."""
        return self._settings

    def secrets(self) -> list[str]:
        """Every token this invocation may know (never to be printed)."""
        found = [self.token_option, self.env.get("AWORK_TOKEN")]
        if self._settings is not None:
            found.append(self._settings.token)
        return [s for s in found if s]


def state_of(ctx: typer.Context) -> AppState:
    """The :class:`AppState` the global options stored for this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


class _RedactingFilter(logging.Filter):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self._state = state

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._state.secrets())
        record.args = None
        return True


#: Level of the library's logger before ``--verbose`` changed it (restored afterwards).
_SAVED_LEVEL: list[int] = []


def _logger() -> logging.Logger:
    from .. import _constants as C

    return logging.getLogger(C.LOGGER_NAME)


def enable_verbose_logging(state: AppState) -> None:
    """Send the library's log records (retries, waits) to stderr, token redacted."""
    disable_verbose_logging()
    logger = _logger()
    handler = logging.StreamHandler(sys.stderr)
    handler._awork_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter(state))
    logger.addHandler(handler)
    _SAVED_LEVEL.append(logger.level)
    logger.setLevel(logging.DEBUG)


def disable_verbose_logging() -> None:
    """Undo :func:`enable_verbose_logging` (the CLI calls it when a command ends)."""
    logger = _logger()
    for old in [h for h in logger.handlers if getattr(h, "_awork_cli", False)]:
        logger.removeHandler(old)
    if _SAVED_LEVEL:
        logger.setLevel(_SAVED_LEVEL[0])
        _SAVED_LEVEL.clear()


def make_client(
    state: AppState, *, hooks: Hooks | None = None, rate_limiter: RateLimiter | None = None
) -> AworkClient:
    """A client for the resolved token and base URL (usage errors for a missing token or a
    bad URL, before anything is sent)."""
    from .. import AworkClient, RetryPolicy

    settings = state.settings()
    token = settings.require_token()
    retry = RetryPolicy(max_attempts=state.max_attempts) if state.max_attempts else None
    try:
        return AworkClient(
            token=token,
            base_url=settings.base_url,
            retry=retry,
            hooks=hooks,
            rate_limiter=rate_limiter,
        )
    except ValueError as exc:
        raise CliUsageError(f"--base-url: {redact(str(exc), state.secrets())}") from None


def run_with_client(
    state: AppState,
    body: Callable[[AworkClient], Awaitable[T]],
    *,
    hooks: Hooks | None = None,
    rate_limiter: Callable[[], RateLimiter] | None = None,
) -> T:
    """Run ``body(client)`` on a fresh event loop with a client that is closed afterwards
    (``rate_limiter``: makes the client's limiter inside the loop; closed afterwards)."""

    async def main() -> T:
        limiter = rate_limiter() if rate_limiter is not None else None
        try:
            client = make_client(state, hooks=hooks, rate_limiter=limiter)
            async with client:
                return await body(client)
        finally:
            if limiter is not None:
                await limiter.aclose()

    return asyncio.run(main())
