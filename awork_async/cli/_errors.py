"""Errors of the command line and the one-line messages shown for any failure (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from .. import _constants as C
from ._constants import API_PATH, EXIT_RUNTIME, EXIT_USAGE

__all__ = ["CliError", "CliUsageError", "base_url_hint", "describe_error", "redact"]


class CliError(Exception):
    """A failure reported as ``error: <message>`` with exit status ``exit_code`` (runtime: 1)."""

    exit_code: int = EXIT_RUNTIME

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CliUsageError(CliError):
    """Bad input detected before any work started (an option, the token, the output): exit 2."""

    exit_code = EXIT_USAGE


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``***``.

    Each secret is also removed as stripped: ``--token " tok "`` sends ``tok``.
    """
    from .._redact import scrub

    return scrub(text, secrets)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def base_url_hint(base_url: str | None) -> str:
    """``; did you mean --base-url …/api/v1?`` for a base URL that lacks awork's API path."""
    if not base_url:
        return ""
    import yarl

    url = yarl.URL(base_url)
    if url.path.rstrip("/").endswith(API_PATH):
        return ""
    from .._redact import safe_url

    fixed = safe_url(str(url.with_path(url.path.rstrip("/") + API_PATH)))
    return f"; did you mean --base-url {fixed}?"


def describe_error(exc: BaseException, *, base_url: str | None = None) -> tuple[str, int]:
    """The one-line message and exit status for an exception raised while a command ran.

    Library errors are explained in words (``401`` -> "the server rejected the token");
    anything else is shown as its type and message. ``base_url`` (the one the command used)
    adds a hint to a 404 when it lacks ``/api/v1``.
    """
    # Imported here: the library (and aiohttp) load only when a command ran far enough to fail.
    from .. import _exceptions as E

    if isinstance(exc, CliError):
        return _one_line(exc.message), exc.exit_code
    if isinstance(exc, E.AuthenticationError):
        return (
            f"the server rejected the token (HTTP {exc.status}); check --token, "
            f"{C.ENV_TOKEN} or the config file",
            EXIT_RUNTIME,
        )
    if isinstance(exc, E.PermissionDeniedError):
        detail = f": {exc.description}" if exc.description else ""
        return _one_line(f"permission denied (HTTP {exc.status}){detail}"), EXIT_RUNTIME
    if isinstance(exc, E.RateLimitError):
        wait = f"; retry after {exc.retry_after:g}s" if exc.retry_after is not None else ""
        return f"rate limited by the server (HTTP 429){wait}", EXIT_RUNTIME
    if isinstance(exc, E.APIStatusError):
        hint = base_url_hint(base_url) if exc.status == 404 else ""
        return _one_line(f"the server answered HTTP {exc.status}: {exc}{hint}"), EXIT_RUNTIME
    if isinstance(exc, E.APITimeoutError):
        return _one_line(f"timed out talking to {exc.url or 'the server'}: {exc}"), EXIT_RUNTIME
    if isinstance(exc, E.APIConnectionError):
        return _one_line(f"connection failed: {exc.message}"), EXIT_RUNTIME
    if isinstance(exc, E.AworkError):
        return _one_line(str(exc) or type(exc).__name__), EXIT_RUNTIME
    if isinstance(exc, OSError):
        return _one_line(str(exc) or type(exc).__name__), EXIT_RUNTIME
    text = str(exc)
    name = type(exc).__name__
    return _one_line(f"{name}: {text}" if text else name), EXIT_RUNTIME
