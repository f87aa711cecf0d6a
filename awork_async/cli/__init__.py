"""The ``awork-async`` command line: exports, the timer, bookings, a local sandbox, a demo.

Run ``awork-async --help``, or start with ``awork-async demo`` (no account needed). The typer
application is :data:`app`; :func:`main` is the console script's entry point.
"""

from __future__ import annotations

from ._app import app, main

__all__ = ["app", "main"]
