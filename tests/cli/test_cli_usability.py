"""Rough edges of the command line a new user hits (issue 9 §6): help, option positions,
config mistakes, base-URL hints, messages, pipes and Ctrl+C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from test_cli_subprocess import clean_env
from typer.testing import CliRunner, Result

from awork_async._sansio import join_url
from awork_async.cli import app
from awork_async.cli._errors import base_url_hint
from awork_async.sandbox import Sandbox

TOKEN = "tok-usability-sandbox-7"


pytestmark = pytest.mark.cli_sandbox(entries=300, seed=4, token=TOKEN)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})


def _commands() -> list[list[str]]:
    """Every command path of the CLI (groups and leaves)."""
    import typer.main

    found: list[list[str]] = []

    def visit(command: Any, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, [*path, name])

    visit(typer.main.get_command(app), [])
    return found


# -- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "root")
def test_help_shows_flags_as_flags(path: list[str]) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_help_lists_the_global_options_on_every_command() -> None:
    text = run("export", "time-entries", "--help").output
    assert "Global options" in text
    for option in ("--token", "--base-url", "--config", "--verbose", "--max-attempts"):
        assert option in text


# -- global options after the subcommand --------------------------------------------------


def test_global_options_work_after_the_subcommand(cli_sandbox: Sandbox) -> None:
    after = run(
        "export", "time-entries", "--token", cli_sandbox.token, "--base-url", cli_sandbox.base_url
    )
    assert after.exit_code == 0, after.stderr
    assert len(after.stdout.splitlines()) == 300
    listed = run(
        "types-of-work", "list", "--json", "--base-url", cli_sandbox.base_url, "--token", TOKEN
    )
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout)
    between = run("timer", "--token", TOKEN, "status", "--base-url", cli_sandbox.base_url)
    assert between.exit_code == 0, between.stderr


def test_an_option_after_the_subcommand_wins(cli_sandbox: Sandbox) -> None:
    result = run(
        "--token",
        "tok-wrong",
        "--base-url",
        cli_sandbox.base_url,
        "timer",
        "status",
        "--token",
        TOKEN,
    )
    assert result.exit_code == 0, result.stderr
    wrong = run(
        "--token", TOKEN, "--base-url", cli_sandbox.base_url, "timer", "status", "--token", "x"
    )
    assert wrong.exit_code == 1
    assert "rejected the token" in wrong.stderr
    assert "tok-wrong" not in result.output


def test_verbose_after_the_subcommand_shows_the_traceback() -> None:
    url = "http://127.0.0.1:9/api/v1"
    quiet = run("timer", "status", "--token", "t", "--base-url", url, "--max-attempts", "1")
    loud = run("timer", "status", "--token", "t", "--base-url", url, "--max-attempts", "1", "-v")
    assert quiet.exit_code == loud.exit_code == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr


# -- config file mistakes --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_missing_config_file_is_a_usage_error(tmp_path: Path, where: str) -> None:
    missing = str(tmp_path / "nope.toml")
    args = ["--config", missing, "timer", "status"]
    if where == "after":
        args = ["timer", "status", "--config", missing]
    result = run(*args)
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr
    assert "does not exist" in result.stderr


def test_a_missing_config_file_from_the_environment_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["timer", "status"], env={"AWORK_ASYNC_CONFIG": str(tmp_path / "gone.toml")}
    )
    assert result.exit_code == 2
    assert "gone.toml" in result.stderr


def test_misspelt_config_keys_are_named(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'tokn = "{TOKEN}"\nbase_url = "{cli_sandbox.base_url}"\n')
    result = run("--config", str(config), "timer", "status")
    assert result.exit_code == 2  # no token, since the key is misspelt
    assert "unknown key 'tokn'" in result.stderr
    assert "did you mean 'token'?" in result.stderr
    assert "valid keys: token, base_url" in result.stderr


# -- base URL without /api/v1 ----------------------------------------------------------------


def test_a_base_url_without_the_api_path_gets_a_hint(cli_sandbox: Sandbox) -> None:
    root = cli_sandbox.base_url.removesuffix("/api/v1")
    for base in (root, root + "/"):
        result = run("--base-url", base, "--token", TOKEN, "types-of-work", "list")
        assert result.exit_code == 1
        assert f"did you mean --base-url {root}/api/v1?" in result.stderr
        assert "//typeofwork" not in result.stderr  # the path is joined once
    assert base_url_hint(cli_sandbox.base_url) == ""
    assert base_url_hint(cli_sandbox.base_url + "/") == ""


def test_join_url_on_a_bare_host() -> None:
    import yarl

    assert str(join_url(yarl.URL("http://h:1"), "/typeofwork")) == "http://h:1/typeofwork"
    assert str(join_url(yarl.URL("http://h:1/api/v1"), "/me")) == "http://h:1/api/v1/me"


# -- messages --------------------------------------------------------------------------------


def test_resume_with_another_filter_never_says_none(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl")
    base = ["--base-url", cli_sandbox.base_url, "--token", TOKEN, "export", "time-entries", "-q"]
    first = run(*base, "-o", out, "--filterby", "duration gt 3600")
    assert first.exit_code == 0, first.stderr
    refused = run(*base, "-o", out, "--resume")
    assert refused.exit_code == 1
    assert "None" not in refused.stderr
    assert "filterby 'duration gt 3600'" in refused.stderr
    assert "no filter" in refused.stderr


# -- pipes -----------------------------------------------------------------------------------


def test_a_reader_that_stops_early_ends_the_export_quietly(cli_sandbox: Sandbox) -> None:
    cmd = [
        sys.executable,
        "-m",
        "awork_async",
        "--base-url",
        cli_sandbox.base_url,
        "--token",
        TOKEN,
    ]
    with subprocess.Popen(
        [*cmd, "export", "time-entries", "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # like `| head -1`: one line, then close the pipe
        proc.stdout.close()
        error = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert json.loads(first)["id"]
    # 300 entries (~400 KB) do not fit a pipe's buffer: the writer hit the closed pipe
    assert code == 0
    assert error == b""


# -- the demo's Ctrl+C -------------------------------------------------------------------------


def _demo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "awork-demo-sandbox"]


def test_demo_interrupted_during_the_export_stops_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import awork_async.export

    started: list[str] = []

    async def interrupted_export(client: Any, output: Any, **options: Any) -> Any:
        started.append(str(client.base_url))
        assert _demo_threads(), "the sandbox serves from its own thread"
        raise KeyboardInterrupt

    monkeypatch.setattr(awork_async.export, "export_time_entries", interrupted_export)
    target = tmp_path / "demo.jsonl"
    result = CliRunner().invoke(app, ["demo", "--entries", "50", "-o", str(target)])
    assert started
    assert result.exit_code == 130
    assert result.stderr.strip() == f"interrupted: demo stopped, {target} left as it was"
    assert not target.exists()
    for thread in _demo_threads():
        thread.join(30)  # the sandbox was asked to stop; it is not busy, so it does
        assert not thread.is_alive()


def test_demo_ctrl_c_prints_a_message_and_exits_130(tmp_path: Path) -> None:
    target = tmp_path / "demo.jsonl"
    with subprocess.Popen(
        [sys.executable, "-m", "awork_async", "demo", "--entries", "50000", "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith("starting a local awork sandbox")
        assert proc.stdout.readline().startswith("sandbox on http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)  # the export of 50,000 entries has just begun
        error = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert code == 130
    assert error == f"interrupted: demo stopped, {target} left as it was\n"
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left behind
