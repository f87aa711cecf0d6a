"""``python -m awork_async.sandbox --port 8080 --entries 100000``: serve a sandbox until Ctrl+C.

The same command as ``awork-async sandbox`` (one CLI: :mod:`awork_async.cli.cmd_sandbox`), so it
takes the same options. The spellings of the earlier argparse entry point keep working:
``--token T`` is ``--sandbox-token T``, and the flag ``--rate-limit`` with ``--per-second N``
and ``--per-minute M`` is ``--rate-limit N/M`` (awork's 50/1000 when the two are omitted).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import _constants as C

__all__ = ["legacy_arguments", "main"]

_PROG = "python -m awork_async.sandbox"


def _split(argument: str) -> tuple[str, str | None]:
    """``--name=value`` -> ``("--name", "value")``; anything else -> ``(argument, None)``."""
    if argument.startswith("--") and "=" in argument:
        name, _, value = argument.partition("=")
        return name, value
    return argument, None


def legacy_arguments(argv: Sequence[str]) -> list[str]:
    """Rewrite the earlier entry point's options into ``awork-async sandbox`` options."""
    out: list[str] = []
    rate_flag = False
    per_second, per_minute = str(C.DEFAULT_RATE_PER_SECOND), str(C.DEFAULT_RATE_PER_MINUTE)
    args = list(argv)
    i = 0
    while i < len(args):
        name, value = _split(args[i])
        takes_next = value is None and i + 1 < len(args)
        if name in ("--token", "--per-second", "--per-minute"):
            if value is None:
                if not takes_next:  # let the CLI report the missing value
                    out.append("--sandbox-token" if name == "--token" else name)
                    i += 1
                    continue
                value = args[i + 1]
                i += 1
            if name == "--token":
                out += ["--sandbox-token", value]
            elif name == "--per-second":
                per_second = value
            else:
                per_minute = value
        elif name == "--rate-limit" and value is None:
            following = args[i + 1] if takes_next else ""
            if "/" in following:  # already the PER_SECOND/PER_MINUTE form
                out += [name, following]
                i += 1
            else:
                rate_flag = True
        else:
            out.append(args[i])
        i += 1
    if rate_flag:
        out += ["--rate-limit", f"{per_second}/{per_minute}"]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``awork-async sandbox`` with these arguments (blocking until Ctrl+C)."""
    import typer

    from ..cli.cmd_sandbox import sandbox

    app = typer.Typer(add_completion=False)
    app.command()(sandbox)
    arguments = legacy_arguments(sys.argv[1:] if argv is None else argv)
    try:
        app(args=arguments, prog_name=_PROG)
    except SystemExit as exc:  # typer always exits; only a failure should leave main() that way
        if exc.code not in (0, None):
            raise


if __name__ == "__main__":
    main()
