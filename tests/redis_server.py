"""Test helper: run a throw-away ``redis-server`` on a free loopback port.

The server keeps nothing on disk (``--save '' --appendonly no``) and works in a temporary directory.
Readiness is detected from the server's own "Ready to accept connections" log line (no polling
sleeps), then confirmed with a ``PING``; every wait is bounded. Without a ``redis-server`` binary the
requesting test is skipped (CI installs the Debian package ``redis-server``).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

#: Longest time to wait for the server to come up, in seconds.
START_TIMEOUT = 15.0
#: Ports tried before giving up (a free port can be taken between probing and binding).
PORT_ATTEMPTS = 3


@attrs.frozen
class RedisServer:
    """A running test server."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """``redis://`` URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Read the server log until it reports readiness; False if it exits or time runs out."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    log = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                return False
            chunk = os.read(fd, 65536)  # unbuffered: select() and the reads must agree
            if not chunk:  # the server exited (e.g. the port was taken)
                return False
            log += chunk
            if b"Ready to accept connections" in log:
                return True
    return False


def _ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def running_redis_server(directory: Path) -> Iterator[RedisServer]:
    """Start ``redis-server`` in ``directory`` on a free port; stop it on exit.

    Skips the calling test when no ``redis-server`` binary is on ``PATH``.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            if _wait_ready(process, time.monotonic() + START_TIMEOUT) and _ping(port):
                server = RedisServer(port, process)
                # Drain the log so a chatty server never blocks on a full pipe.
                assert process.stdout is not None
                process.stdout.close()
                yield server
                return
        finally:
            _stop(process)
    raise RuntimeError("redis-server did not start")
