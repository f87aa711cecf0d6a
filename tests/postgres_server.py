"""Test helper: a throw-away PostgreSQL cluster on a free loopback port.

``initdb`` makes a cluster in a fresh temporary directory (trust authentication, no fsync),
``pg_ctl start -w`` starts it on ``127.0.0.1`` and waits until it accepts connections, and the
cluster is stopped (``-m immediate``) and removed afterwards. PostgreSQL refuses to run as root:
under root the directory is given to the ``postgres`` user (created by Debian's ``postgresql``
package) and the binaries run through ``runuser``. Without the binaries the requesting test is
skipped with the reason (CI installs the Debian package ``postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

#: Ports tried before giving up (a free port can be taken between probing and binding).
PORT_ATTEMPTS = 3


@attrs.frozen
class PostgresServer:
    """A running test cluster (superuser ``postgres``, trust authentication)."""

    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_postgres_server() -> Iterator[PostgresServer]:
    """Start a fresh cluster on a free port; stop and remove it on exit."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): no initdb/pg_ctl")
    prefix: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]
        owner = (user.pw_uid, user.pw_gid)
    root = Path(tempfile.mkdtemp(prefix="awork-pg-"))
    try:
        if owner is not None:
            os.chown(root, *owner)
        data = root / "data"
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off"
            )
            started = subprocess.run(
                [
                    *prefix,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                capture_output=True,
                timeout=120,
                check=False,
            )
            if started.returncode == 0:
                try:
                    yield PostgresServer(port)
                finally:
                    subprocess.run(
                        [
                            *prefix,
                            str(bin_dir / "pg_ctl"),
                            "-D",
                            str(data),
                            "-m",
                            "immediate",
                            "stop",
                        ],
                        capture_output=True,
                        timeout=60,
                        check=False,
                    )
                return
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start:\n{log[-2000:]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
