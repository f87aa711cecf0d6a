"""Helpers shared by the CLI tests: a sandbox served from a background thread.

The CLI runs its own event loop (``asyncio.run``) inside each command, so the sandbox it talks
to must live on another loop: this one runs in a daemon thread. Readiness is signalled with a
``threading.Event``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from awork_async.sandbox import Sandbox


@contextmanager
def threaded_sandbox(**config: Any) -> Iterator[Sandbox]:
    """A started :class:`Sandbox` on 127.0.0.1 (random port), served by a background thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            sandbox = Sandbox(port=0, **config)
            loop.run_until_complete(sandbox.start())
            box["sandbox"] = sandbox
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(sandbox.close())
            loop.close()

    thread = threading.Thread(target=serve, name="cli-test-sandbox", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    try:
        yield box["sandbox"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
