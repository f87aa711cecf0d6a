"""The ``awork-async`` typer application: global options, error handling and exit codes.

Every failure ends in one line ``error: …`` on stderr: exit status 2 for usage errors (bad
options, missing token, unwritable output), 1 for runtime errors (HTTP errors, connection
failures), 130 when interrupted. ``--verbose`` adds the traceback. The token is never printed.
A reader that closes stdout early (``awork-async export time-entries | head -1``) ends the command
quietly with status 0.
"""

from __future__ import annotations

import copy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol, cast

import typer
from typer.core import TyperGroup

from .. import _constants as C
from ._constants import ENV_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG_NAME
from ._errors import CliError, describe_error, redact
from ._runtime import AppState, disable_verbose_logging, enable_verbose_logging, state_of
from .cmd_demo import demo
from .cmd_export import app as export_app
from .cmd_lists import bookings_app, types_app
from .cmd_mirror import mirror_command
from .cmd_sandbox import sandbox
from .cmd_timer import app as timer_app
from .cmd_webhooks import app as webhooks_app

__all__ = ["app", "main"]

#: Tokens seen by the current invocation, redacted from anything this module prints.
_SECRETS: list[str] = []
#: Whether the current invocation runs with ``--verbose``.
_VERBOSE: list[bool] = [False]


def _click_class(name: str) -> type[Exception]:
    """A click exception class by name, from whichever click typer runs on (typer >= 0.2x
    vendors its own copy as ``typer._click``; older releases use ``click``)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name and issubclass(cls, Exception):
            return cls
    raise ImportError(f"typer has no {name}")  # pragma: no cover


_UsageError = _click_class("UsageError")
_ClickException = _click_class("ClickException")


class _ClickError(Protocol):
    """What is read from a click exception."""

    ctx: Any
    exit_code: int

    def format_message(self) -> str: ...


def _secrets_in_args(args: Sequence[str]) -> list[str]:
    found: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--token" and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--token="):
            found.append(arg.split("=", 1)[1])
    return [f for f in found if f]


def _error(message: str) -> None:
    typer.echo(f"error: {redact(message, _SECRETS)}", err=True)


def _traceback(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    typer.echo(redact(text, _SECRETS), err=True, nl=False)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under CliRunner)
        pass


#: Where each global option lands in :class:`AppState` (the root's callback parameters).
_STATE_FIELDS = {
    "token": "token_option",
    "base_url": "base_url_option",
    "config": "config_path",
    "max_attempts": "max_attempts",
    "verbose": "verbose",
}
#: The root's help option names (also given to every command's help option).
_HELP_NAMES = ["-h", "--help"]


def _apply_global_option(ctx: Any, param: Any, value: Any) -> Any:
    """A global option given after the subcommand: store it in the invocation's state."""
    if value is None or value is False or getattr(ctx, "resilient_parsing", False):
        return value
    state = state_of(ctx)
    setattr(state, _STATE_FIELDS[param.name], value)
    state.forget_settings()  # resolved again with this value
    _SECRETS.extend(state.secrets())
    if param.name == "verbose":
        _VERBOSE[0] = True
        enable_verbose_logging(state)
    return value


def _flag_without_type(param: Any) -> None:
    """Typer shows ``<bool>`` after every flag in rich help; a flag takes no value."""
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""


def _share_global_options(group: Any) -> None:
    """Give every command below ``group`` the root's global options (the same definitions).

    ``awork-async export time-entries --token X`` then works like ``awork-async --token X export
    time-entries``. The copies never read the environment (the root's options do) and only
    override the root's values when given.
    """
    shared = [p for p in group.params if getattr(p, "name", None) in _STATE_FIELDS]
    for param in group.params:
        _flag_without_type(param)

    def visit(command: Any) -> None:
        taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for original in shared:
            if taken.intersection(original.opts):
                continue
            option = copy.copy(original)
            option.envvar = None
            option.show_envvar = False
            option.expose_value = False
            option.default = False if original.is_flag else None
            option.callback = _apply_global_option
            option.rich_help_panel = "Global options"
            command.params.append(option)
        for param in command.params:
            _flag_without_type(param)
        for sub in getattr(command, "commands", {}).values():
            visit(sub)
        _flag_without_type(command.get_help_option(_HelpContext()))

    for command in group.commands.values():
        visit(command)
    _flag_without_type(group.get_help_option(_HelpContext()))


class _HelpContext:
    """Just enough of a click context for ``Command.get_help_option``."""

    help_option_names = _HELP_NAMES


class AworkGroup(TyperGroup):
    """Typer's group with one-line errors and the CLI's exit codes, for every entry point
    (``main()``, ``python -m awork_async`` and typer's ``CliRunner`` alike)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _share_global_options(self)

    # ``ctx`` is click's Context (typer's vendored copy or click itself, by typer version).
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _ClickException):
            raise
        except KeyboardInterrupt:
            raise
        except BrokenPipeError:
            # stdout was closed early (``… | head``): the reader wants no more. Stop quietly
            # with status 0 (not 141, a death by SIGPIPE), so ``set -o pipefail`` scripts that
            # read only the first lines succeed; a failing reader still fails the pipeline.
            _silence_stdout()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, AppState) else None
            if state is not None:
                _SECRETS.extend(state.secrets())
            if _VERBOSE[0] and not isinstance(exc, CliError):
                _traceback(exc)
            resolved = state.resolved if state else None
            base_url = resolved.base_url if resolved else None
            message, code = describe_error(exc, base_url=base_url)
            _error(message)
            raise typer.Exit(code) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        import os

        argv = list(sys.argv[1:] if args is None else args)
        _SECRETS[:] = [*_secrets_in_args(argv), os.environ.get(C.ENV_TOKEN, "")]
        _VERBOSE[0] = False
        code: int
        try:
            result = super().main(
                argv, prog_name or PROG_NAME, complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else EXIT_OK
        except _UsageError as exc:
            usage = cast(_ClickError, exc)
            message = usage.format_message().strip()
            if message:  # empty when the help was shown for a bare group (no_args_is_help)
                path = getattr(usage.ctx, "command_path", None)
                hint = f" (see '{path} --help')" if path else ""
                _error(message + hint)
            code = EXIT_USAGE
        except _ClickException as exc:
            failure = cast(_ClickError, exc)
            _error(failure.format_message())
            code = failure.exit_code
        except (typer.Abort, KeyboardInterrupt):
            _error("interrupted")
            code = EXIT_INTERRUPTED
        finally:
            disable_verbose_logging()
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name=PROG_NAME,
    cls=AworkGroup,
    help="Command line for the awork time-tracking API (exports, timer, bookings, a sandbox).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": _HELP_NAMES},
)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"{PROG_NAME} {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option(
            help=f"awork API key (default: ${C.ENV_TOKEN}, then the config file). Never printed.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar=C.ENV_BASE_URL,
            help="API root, e.g. a sandbox's http://127.0.0.1:8080/api/v1 "
            "(default: the config file, then https://api.awork.com/api/v1).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar=ENV_CONFIG,
            help="Config file (TOML with token and base_url; "
            "default ~/.config/awork-async/config.toml). Must exist when given.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option(
            "--max-attempts",
            min=1,
            help="Attempts per request, the first included (1 disables retries).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and the client's log.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Command line for the awork time-tracking API.

    Start with `awork-async demo` (no account needed): it serves sample data locally and
    exports it. Against awork, pass an API key with --token or AWORK_TOKEN.
    """
    state = AppState(
        token_option=token,
        base_url_option=base_url,
        config_path=config,
        verbose=verbose,
        max_attempts=max_attempts,
    )
    _SECRETS.extend(state.secrets())
    _VERBOSE[0] = verbose
    if verbose:
        enable_verbose_logging(state)
    ctx.obj = state


app.add_typer(export_app, name="export")
app.add_typer(timer_app, name="timer")
app.add_typer(bookings_app, name="time-bookings")
app.add_typer(types_app, name="types-of-work")
app.add_typer(webhooks_app, name="webhooks")
app.command("sandbox")(sandbox)
app.command("demo")(demo)
app.command("mirror")(mirror_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``awork-async`` script (exits with the command's status)."""
    command = typer.main.get_command(app)
    command.main(args=argv, prog_name=PROG_NAME)
