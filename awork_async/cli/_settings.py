"""Where the token and base URL come from: option, environment, then the config file.

The config file is TOML (``~/.config/awork-async/config.toml``, or below ``$XDG_CONFIG_HOME``)::

    token = "…"
    base_url = "https://api.awork.com/api/v1"

It is read with :mod:`tomllib`, or on Python 3.10 (which lacks it) with its backport ``tomli``, a
dependency there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from .. import _constants as C
from ._constants import CONFIG_DIR_NAME, CONFIG_FILE_NAME
from ._errors import CliUsageError

__all__ = [
    "CONFIG_KEYS",
    "ConfigFile",
    "Settings",
    "default_config_path",
    "load_config_file",
    "parse_config_file",
    "resolve",
]


#: The keys a config file may hold.
CONFIG_KEYS = ("token", "base_url")


@attrs.frozen
class ConfigFile:
    """What the config file held (``None`` for a missing key) and any note about reading it."""

    token: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    note: str | None = None
    #: Problems worth a warning (unknown, e.g. misspelt, keys).
    warnings: tuple[str, ...] = ()


def _shown_url(url: str) -> str:
    from .._redact import safe_url  # no user info, password or query

    return safe_url(url)


@attrs.frozen(repr=False)
class Settings:
    """The resolved connection settings. The token is never shown by ``repr`` (nor by pretty
    printers that read attrs fields, such as rich's)."""

    token: str | None = attrs.field(repr=False)
    base_url: str = attrs.field(repr=lambda url: repr(_shown_url(url)))
    token_source: str | None = None

    def __repr__(self) -> str:
        token = "<set>" if self.token else None
        url = _shown_url(self.base_url)
        return f"Settings(token={token}, base_url={url!r}, source={self.token_source!r})"

    def require_token(self) -> str:
        """The token, or a usage error explaining the three ways to give one."""
        if not self.token:
            raise CliUsageError(
                f'no API token: pass --token, set {C.ENV_TOKEN}, or put token = "…" in '
                f"{default_config_path()}"
            )
        return self.token


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/awork-async/config.toml``, else ``~/.config/awork-async/config.toml``."""
    import os

    environ = os.environ if env is None else env
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / CONFIG_DIR_NAME / CONFIG_FILE_NAME


def _loader() -> Callable[[bytes], dict[str, object]]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10: the backport, same API
        import tomli as tomllib

    def load(data: bytes) -> dict[str, object]:
        loaded: dict[str, object] = tomllib.loads(data.decode("utf-8"))
        return loaded

    return load


def load_config_file(path: Path) -> ConfigFile:
    """Read ``path``; a missing file is an empty config.

    A file that exists but cannot be parsed, or has non-string values, is a usage error.
    """
    return parse_config_file(path, _loader())


def parse_config_file(path: Path, parse: Callable[[bytes], dict[str, object]] | None) -> ConfigFile:
    """:func:`load_config_file` with the TOML parser given (``None``: none available)."""
    if not path.is_file():
        return ConfigFile()
    if parse is None:
        return ConfigFile(
            note=f"config file {path} skipped: no TOML parser (tomllib, or tomli on Python 3.10)"
        )
    try:
        data = parse(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CliUsageError(f"cannot read config file {path}: {exc}") from None
    values: dict[str, str | None] = {}
    warnings = tuple(_unknown_key(path, key) for key in data if key not in CONFIG_KEYS)
    for key in CONFIG_KEYS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise CliUsageError(f"config file {path}: {key} must be a string")
        values[key] = value or None
    return ConfigFile(token=values["token"], base_url=values["base_url"], warnings=warnings)


def _unknown_key(path: Path, key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, CONFIG_KEYS, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"config file {path}: unknown key {key!r} ignored ({guess}valid keys: "
        f"{', '.join(CONFIG_KEYS)})"
    )


def resolve(
    *,
    token_option: str | None,
    base_url_option: str | None,
    env: Mapping[str, str],
    config: ConfigFile,
    default_base_url: str,
) -> Settings:
    """Pick each setting from the first source that has it: option, environment, config file."""
    token, source = None, None
    for candidate, where in (
        (token_option, "--token"),
        (env.get(C.ENV_TOKEN), C.ENV_TOKEN),
        (config.token, "config file"),
    ):
        if candidate:
            token, source = candidate, where
            break
    base_url = base_url_option or env.get(C.ENV_BASE_URL) or config.base_url or default_base_url
    return Settings(token=token, base_url=base_url, token_source=source)
