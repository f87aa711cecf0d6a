"""Shared state of one invocation and running a command's coroutine with a client."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs

from ._errors import CliUsageError, redact
from ._settings import ConfigFile, Settings, default_config_path, load_config_file, resolve

if TYPE_CHECKING:
    from pathlib import Path

    from .. import AworkClient
    from .._hooks import Hooks

__all__ = ["AppState", "run_with_client"]

T = TypeVar("T")


@attrs.define
class AppState:
    """The global options of one invocation; settings are resolved on first use."""

    token_option: str | None = None
    base_url_option: str | None = None
    config_path: Path | None = None
    verbose: bool = False
    max_attempts: int | None = None
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """Token and base URL from the options, the environment and the config file."""
        if self._settings is None:
            from .. import _constants as C

            path = self.config_path or default_config_path(self.env)
            config: ConfigFile = load_config_file(path)
            if config.note and not (self.token_option or self.env.get("AWORK_TOKEN")):
                print(f"note: {config.note}", file=sys.stderr)
            self._settings = resolve(
                token_option=self.token_option,
                base_url_option=self.base_url_option,
                env=self.env,
                config=config,
                default_base_url=C.DEFAULT_BASE_URL,
            )
        return self._settings

    def secrets(self) -> list[str]:
        """Every token this invocation may know (never to be printed)."""
        found = [self.token_option, self.env.get("AWORK_TOKEN")]
        if self._settings is not None:
            found.append(self._settings.token)
        return [s for s in found if s]


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        return True


def enable_verbose_logging(state: AppState) -> None:
    """Send the library's log records (retries, waits) to stderr, token redacted."""
    from .. import _constants as C

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter(state.secrets()))
    logger = logging.getLogger(C.LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def make_client(state: AppState, *, hooks: Hooks | None = None) -> AworkClient:
    """A client for the resolved token and base URL (usage errors for a missing token or a
    bad URL, before anything is sent)."""
    from .. import AworkClient, RetryPolicy

    settings = state.settings()
    token = settings.require_token()
    retry = RetryPolicy(max_attempts=state.max_attempts) if state.max_attempts else None
    try:
        return AworkClient(token=token, base_url=settings.base_url, retry=retry, hooks=hooks)
    except ValueError as exc:
        raise CliUsageError(f"--base-url: {redact(str(exc), state.secrets())}") from None


def run_with_client(
    state: AppState,
    body: Callable[[AworkClient], Awaitable[T]],
    *,
    hooks: Hooks | None = None,
) -> T:
    """Run ``body(client)`` on a fresh event loop with a client that is closed afterwards."""

    async def main() -> T:
        client = make_client(state, hooks=hooks)
        async with client:
            return await body(client)

    return asyncio.run(main())
