"""The command line as a real process (``python -m awork_async …``) against local sandboxes.

The sandbox runs in a thread of the test process (so its data can be inspected), except in the
test of the ``sandbox`` command itself, which is started as a process and awaited by reading
the line that prints its base URL.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from crashing_cli import CRASH_EXIT_CODE

from awork_async.sandbox import Sandbox, SandboxConfig, Store

ENTRIES = 1500
CRASHING_CLI = Path(__file__).with_name("crashing_cli.py")
TOKEN = "tok-subprocess-sandbox-42"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"AWORK_TOKEN", "AWORK_BASE_URL", "AWORK_ASYNC_CONFIG"}
    }
    env["XDG_CONFIG_HOME"] = "/nonexistent-awork-test-config"
    env.update(extra)
    return env


def cli(
    *args: str,
    sb: Sandbox | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    crash_after: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``awork-async ARGS`` in a new process; ``crash_after``: kill it mid-export there."""
    prefix = ["--base-url", sb.base_url, "--token", sb.token] if sb is not None else []
    if crash_after is None:
        program = [sys.executable, "-m", "awork_async"]
    else:
        program = [sys.executable, str(CRASHING_CLI), str(crash_after)]
    return subprocess.run(
        [*program, *prefix, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or clean_env(),
        timeout=120,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


pytestmark = pytest.mark.cli_sandbox(entries=ENTRIES, seed=11, token=TOKEN)


@pytest.fixture(scope="module")
def reference(cli_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Uninterrupted exports of the sandbox in both formats (one process each)."""
    folder = tmp_path_factory.mktemp("reference")
    files: dict[str, bytes] = {}
    for fmt in ("jsonl", "csv"):
        out = folder / f"ref.{fmt}"
        proc = cli(
            "export",
            "time-entries",
            "-f",
            fmt,
            "-o",
            str(out),
            "--page-size",
            "250",
            sb=cli_sandbox,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith(f"exported {ENTRIES} entries to {out}")
        files[fmt] = out.read_bytes()
    return files


def test_exports_match_the_sandbox_line_by_line(
    cli_sandbox: Sandbox, reference: dict[str, bytes]
) -> None:
    data: dict[str, dict[str, Any]] = cli_sandbox.store.entries
    lines = reference["jsonl"].decode().splitlines()
    assert len(lines) == ENTRIES
    for line in lines:
        row = json.loads(line)
        assert row == data[row["id"]]
    rows = list(csv.DictReader(io.StringIO(reference["csv"].decode())))
    assert [r["id"] for r in rows] == [json.loads(line)["id"] for line in lines]
    for row in rows:
        entry = data[row["id"]]
        assert row["duration"] == str(entry["duration"])
        assert row["type_of_work_id"] == entry["typeOfWorkId"]


def test_stdout_export_with_filters(cli_sandbox: Sandbox) -> None:
    me = cli_sandbox.store.me_id
    proc = cli(
        "export",
        "time-entries",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "--billable",
        "--user",
        me,
        sb=cli_sandbox,
    )
    assert proc.returncode == 0, proc.stderr
    got = {json.loads(line)["id"] for line in proc.stdout.splitlines()}
    expected = {
        i
        for i, e in cli_sandbox.store.entries.items()
        if e["userId"] == me and e["isBillable"] and e["startDateUtc"].startswith("2025-01-")
    }
    assert got == expected
    assert "exported" in proc.stderr  # the summary goes to stderr, the data to stdout


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_after_a_crash_gives_the_uninterrupted_file(
    cli_sandbox: Sandbox, reference: dict[str, bytes], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"crash.{fmt}"
    checkpoint = Path(f"{out}.checkpoint")
    # --resume from the first run: the file is written in place from its first checkpoint on.
    args = ["export", "time-entries", "-f", fmt, "-o", str(out), "--page-size", "250", "--resume"]
    # progress comes per page: at 1250 entries, one page after the checkpoint at 1000
    crashed = cli(*args, sb=cli_sandbox, crash_after=1250)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    saved = json.loads(checkpoint.read_text())
    assert saved["count"] == 1000
    assert saved["complete"] is False
    partial = out.read_bytes()
    assert 0 < len(partial) < len(reference[fmt])
    assert reference[fmt].startswith(partial)
    with out.open("ab") as handle:  # a line cut in half by the crash
        handle.write(b'{"id": "half-writ')
    resumed = cli(*args, sb=cli_sandbox)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.startswith(f"exported {ENTRIES - 1000} entries to {out}")
    assert out.read_bytes() == reference[fmt]
    assert json.loads(checkpoint.read_text())["complete"] is True


def test_a_killed_export_without_resume_keeps_the_old_file(
    cli_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_bytes(b"the old export\n")
    args = ["export", "time-entries", "-o", str(out), "--page-size", "250"]
    crashed = cli(*args, sb=cli_sandbox, crash_after=1000)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert out.read_bytes() == b"the old export\n"
    # A killed process cannot clean up: only its hidden temporary file is left.
    left = sorted(path.name for path in tmp_path.iterdir() if path != out)
    assert len(left) == 1
    assert left[0].startswith(".keep.jsonl.")
    assert left[0].endswith(".tmp")


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad_date = cli("export", "time-entries", "--from", "2025-1-1")
    assert bad_date.returncode == 2
    assert "is not a date" in one_error_line(bad_date)
    no_token = cli("timer", "status")
    assert no_token.returncode == 2
    assert "no API token" in one_error_line(no_token)
    refused = cli(
        "--base-url",
        "http://127.0.0.1:9/api/v1",
        "--token",
        "tok-refused-secret",
        "--max-attempts",
        "1",
        "timer",
        "status",
    )
    assert refused.returncode == 1
    assert "connection failed" in one_error_line(refused)
    assert "tok-refused-secret" not in refused.stderr + refused.stdout


def test_the_token_is_never_printed_even_verbose(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    env = clean_env(AWORK_TOKEN=TOKEN, AWORK_BASE_URL=cli_sandbox.base_url)
    runs = [
        cli(
            "-v", "export", "time-entries", "--page-size", "500", "-o", str(tmp_path / "x"), env=env
        ),
        cli("-v", "--base-url", "http://example.com/api/v1", "timer", "status", env=env),
    ]
    assert [p.returncode for p in runs] == [0, 2]
    assert "Traceback" not in runs[1].stderr  # a usage error: no traceback even verbose
    for proc in runs:
        assert TOKEN not in proc.stdout
        assert TOKEN not in proc.stderr


def test_sandbox_command_serves_generated_data(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awork_async",
            "sandbox",
            "--port",
            "0",
            "--entries",
            "120",
            "--seed",
            "2",
            "--sandbox-token",
            "tok-cli-sandbox",
            "--rate-limit",
            "50/1000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # blocks until the server is listening
        assert first.startswith("awork sandbox listening on http://127.0.0.1:"), first
        base_url = first.rsplit(" ", 1)[1].strip()
        banner = [server.stdout.readline() for _ in range(7)]
        assert banner[0].strip() == "token: tok-cli-sandbox"
        assert any("AWORK_BASE_URL=" in line for line in banner)  # how to point the CLI at it
        proc = cli("--base-url", base_url, "--token", "tok-cli-sandbox", "export", "time-entries")
        assert proc.returncode == 0, proc.stderr
        exported = {json.loads(line)["id"] for line in proc.stdout.splitlines()}
        expected = Store.generate(SandboxConfig(entries=120, seed=2)).entries
        assert exported == set(expected)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_bad_sandbox_options_are_usage_errors() -> None:
    proc = cli("sandbox", "--rate-limit", "fast")
    assert proc.returncode == 2
    assert "--rate-limit" in one_error_line(proc)


def test_demo_works_with_no_arguments(tmp_path: Path) -> None:
    proc = cli("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "awork-export-demo.jsonl"
    lines = out.read_bytes().splitlines()
    assert len(lines) == 5000
    assert len({json.loads(line)["id"] for line in lines}) == 5000
    assert "awork-export-demo.jsonl" in proc.stdout
    assert "exported 5000 entries" in proc.stdout


def test_importing_the_cli_stays_light() -> None:
    code = (
        "import sys, awork_async.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('awork_async.sandbox', "
        "'awork_async.export', 'awork_async._export_', 'awork_async._keyset', "
        "'awork_async._json_pages', 'awork_async._checkpoint', 'awork_async._spool', "
        "'awork_async._sinks'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]"
    helped = cli("--help")
    assert helped.returncode == 0
    assert "demo" in helped.stdout
