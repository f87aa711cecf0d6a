"""The ``awork-async`` command line through typer's ``CliRunner``, against a local sandbox."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import threaded_sandbox
from typer.testing import CliRunner, Result

from awork_async.cli import app
from awork_async.sandbox import Sandbox

TOKEN_MARK = "tok-"  # the sandbox's tokens are random; tests also pass their own


#: Last day of the shared sandbox's data (by default it ends a few days before today).
ANCHOR = dt.date(2025, 6, 30)


#: One read-only sandbox for the export and list tests (nothing here mutates it). Its data ends
#: on a fixed day (``ANCHOR``), since the tests filter by fixed dates.
pytestmark = pytest.mark.cli_sandbox(
    entries=600, seed=7, token="tok-export-sandbox-0001", anchor=ANCHOR
)


@pytest.fixture
def timer_sandbox() -> Iterator[Sandbox]:
    """A fresh small sandbox per timer test (the timer mutates data)."""
    with threaded_sandbox(entries=20, seed=3, token="tok-timer-sandbox-0002") as sb:
        yield sb


def run(sb: Sandbox | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Invoke the CLI (pointed at ``sb`` when given) and capture stdout/stderr separately."""
    prefix = ["--base-url", sb.base_url, "--token", sb.token] if sb is not None else []
    return CliRunner().invoke(app, [*prefix, *args], env=env)


def entries_of(sb: Sandbox) -> dict[str, dict[str, Any]]:
    return sb.store.entries


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# ------------------------------------------------------------------------------ export


def test_export_jsonl_file_matches_the_sandbox_line_by_line(
    cli_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "all.jsonl"
    result = run(cli_sandbox, "export", "time-entries", "-o", str(out), "--page-size", "150")
    assert result.exit_code == 0, result.stderr
    rows = jsonl(out.read_text())
    data = entries_of(cli_sandbox)
    assert len(rows) == len(data) == 600
    assert {r["id"] for r in rows} == set(data)
    for row in rows:
        assert row == data[row["id"]]
    keys = [(r["createdOn"], r["id"]) for r in rows]
    assert keys == sorted(keys)  # the export's stable order
    summary = result.stderr.strip().splitlines()[-1]
    match = re.match(
        rf"exported 600 entries to {re.escape(str(out))}: (\d+) pages, (\d+) requests, "
        r"0 retries, 0 429s, [\d.]+s",
        summary,
    )
    assert match is not None, summary
    assert int(match[1]) >= 4  # 600 entries in pages of 150
    assert int(match[2]) == int(match[1])
    assert result.stdout == ""
    checkpoint = json.loads((tmp_path / "all.jsonl.checkpoint").read_text())
    assert checkpoint["complete"] is True
    assert checkpoint["count"] == 600


def test_export_concurrency_gives_the_same_file(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    files = []
    for concurrency in ("1", "4"):
        out = tmp_path / f"c{concurrency}.jsonl"
        args = ["-o", str(out), "--page-size", "10", "--concurrency", concurrency]
        result = run(cli_sandbox, "export", "time-entries", *args)
        assert result.exit_code == 0, result.stderr
        files.append(out.read_bytes())
    assert files[0] == files[1]
    assert len(files[0].splitlines()) == 600
    refused = run(cli_sandbox, "export", "time-entries", "--concurrency", "0")
    assert refused.exit_code == 2


def test_export_csv_to_stdout_matches_the_sandbox(cli_sandbox: Sandbox) -> None:
    from awork_async.export import CSV_COLUMNS

    result = run(cli_sandbox, "export", "time-entries", "--format", "csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --quiet: no summary either
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    data = entries_of(cli_sandbox)
    assert {r["id"] for r in rows} == set(data)
    for row in rows:
        entry = data[row["id"]]
        assert row["duration"] == str(entry["duration"])
        assert row["is_billable"] == ("true" if entry["isBillable"] else "false")
        assert row["user_id"] == entry["userId"]
        assert row["start_date"] == entry["startDateUtc"][:10]
        assert row["note"] == (entry["note"] or "")


def test_export_date_range_is_inclusive_of_the_last_day(cli_sandbox: Sandbox) -> None:
    result = run(
        cli_sandbox, "export", "time-entries", "--from", "2025-03-01", "--to", "2025-03-31"
    )
    assert result.exit_code == 0, result.stderr
    got = {r["id"] for r in jsonl(result.stdout)}
    expected = {
        i
        for i, e in entries_of(cli_sandbox).items()
        if "2025-03-01" <= e["startDateUtc"][:10] <= "2025-03-31"
    }
    assert got == expected
    assert any(entries_of(cli_sandbox)[i]["startDateUtc"].startswith("2025-03-31") for i in got)


def test_export_user_and_billable_filters(cli_sandbox: Sandbox) -> None:
    user = cli_sandbox.store.me_id
    for flag, wanted in (("--billable", True), ("--not-billable", False)):
        result = run(cli_sandbox, "export", "time-entries", "--user", user, flag)
        assert result.exit_code == 0, result.stderr
        got = {r["id"] for r in jsonl(result.stdout)}
        expected = {
            i
            for i, e in entries_of(cli_sandbox).items()
            if e["userId"] == user and e["isBillable"] is wanted
        }
        assert expected
        assert got == expected


def test_export_project_and_raw_filter_are_combined(cli_sandbox: Sandbox) -> None:
    project = next(e["projectId"] for e in entries_of(cli_sandbox).values() if e["projectId"])
    result = run(
        cli_sandbox,
        "export",
        "time-entries",
        "--project",
        project,
        "--filterby",
        "duration gt 3600 or duration eq 0",
    )
    assert result.exit_code == 0, result.stderr
    got = {r["id"] for r in jsonl(result.stdout)}
    expected = {
        i
        for i, e in entries_of(cli_sandbox).items()
        if e["projectId"] == project and (e["duration"] > 3600 or e["duration"] == 0)
    }
    assert expected
    assert got == expected


def test_resume_of_a_finished_export_adds_nothing(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    first = run(cli_sandbox, "export", "time-entries", "-f", "csv", "-o", str(out))
    assert first.exit_code == 0
    before = out.read_bytes()
    again = run(cli_sandbox, "export", "time-entries", "-f", "csv", "-o", str(out), "--resume")
    assert again.exit_code == 0, again.stderr
    assert "exported 0 entries" in again.stderr
    assert out.read_bytes() == before


def test_resume_refuses_another_format(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.out"
    assert run(cli_sandbox, "export", "time-entries", "-o", str(out)).exit_code == 0
    result = run(cli_sandbox, "export", "time-entries", "-f", "csv", "-o", str(out), "--resume")
    assert result.exit_code == 1
    assert "jsonl export, not csv" in one_error_line(result)


def by_duration_desc_then_id(sb: Sandbox, keep: set[str] | None = None) -> list[str]:
    entries = sorted(entries_of(sb).values(), key=lambda e: (-e["duration"], e["id"]))
    return [e["id"] for e in entries if keep is None or e["id"] in keep]


def test_export_orderby_to_a_file_and_resume(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "ordered.csv"
    args = ["export", "time-entries", "-f", "csv", "-o", str(out), "--page-size", "64"]
    result = run(cli_sandbox, *args, "--orderby", " duration  desc , id")
    assert result.exit_code == 0, result.stderr
    ids = [row["id"] for row in csv.DictReader(io.StringIO(out.read_text()))]
    assert ids == by_duration_desc_then_id(cli_sandbox)
    assert len(ids) == 600
    assert "exported 600 entries" in result.stderr
    checkpoint = json.loads((tmp_path / "ordered.csv.checkpoint").read_text())
    assert checkpoint["complete"] is True
    assert (checkpoint["orderby"], checkpoint["pageSize"]) == ("duration desc,id", 64)
    before = out.read_bytes()

    again = run(cli_sandbox, *args, "--orderby", "duration desc,id", "--resume")
    assert again.exit_code == 0, again.stderr
    assert "exported 0 entries" in again.stderr
    other_order = run(cli_sandbox, *args, "--orderby", "duration asc,id", "--resume")
    assert other_order.exit_code == 1
    assert "orderby='duration desc,id', not 'duration asc,id'" in one_error_line(other_order)
    no_order = run(cli_sandbox, *args, "--resume")
    assert no_order.exit_code == 1
    assert "belongs to an ordered export" in one_error_line(no_order)
    assert out.read_bytes() == before


def test_export_orderby_with_a_filter_to_stdout(cli_sandbox: Sandbox) -> None:
    result = run(
        cli_sandbox, "export", "time-entries", "--billable", "--orderby", "duration desc,id", "-q"
    )
    assert result.exit_code == 0, result.stderr
    billable = {i for i, e in entries_of(cli_sandbox).items() if e["isBillable"]}
    assert billable
    assert [r["id"] for r in jsonl(result.stdout)] == by_duration_desc_then_id(
        cli_sandbox, billable
    )


def test_server_rejected_orderby_is_a_runtime_error(cli_sandbox: Sandbox) -> None:
    result = run(cli_sandbox, "export", "time-entries", "--orderby", "nosuchfield")
    assert result.exit_code == 1
    assert "unknown property 'nosuchfield'" in one_error_line(result)
    assert result.stdout == ""


# ------------------------------------------------------------------------------ lists


def test_time_bookings_json_for_a_date_range(cli_sandbox: Sandbox) -> None:
    result = run(
        cli_sandbox, "time-bookings", "list", "--from", "2025-06-01", "--to", "2025-06-10", "--json"
    )
    assert result.exit_code == 0, result.stderr
    got = {b["id"]: b for b in json.loads(result.stdout)}
    expected = {
        i
        for i, b in cli_sandbox.store.time_bookings.items()
        if b["endDate"] >= "2025-06-01" and b["startDate"] <= "2025-06-10"
    }
    assert expected
    assert set(got) == expected
    for booking_id, booking in got.items():
        stored = cli_sandbox.store.time_bookings[booking_id]
        assert booking["userId"] == stored["userId"]
        assert booking["duration"] == stored["duration"]


def test_time_bookings_for_repeated_users(cli_sandbox: Sandbox) -> None:
    bookings = cli_sandbox.store.time_bookings.values()
    users = sorted({b["userId"] for b in bookings})[:2]
    args = ["time-bookings", "list", "--from", "2024-01-01", "--to", "2026-12-31", "--json"]
    result = run(cli_sandbox, *args, "--user", users[0], "--user", users[1])
    assert result.exit_code == 0, result.stderr
    got = {b["id"] for b in json.loads(result.stdout)}
    assert got == {b["id"] for b in bookings if b["userId"] in users}
    missing = run(cli_sandbox, "time-bookings", "list", "--user", users[0])
    assert missing.exit_code == 2
    assert "--user needs both --from and --to" in one_error_line(missing)


def test_time_bookings_table(cli_sandbox: Sandbox) -> None:
    result = run(cli_sandbox, "time-bookings", "list", "--from", "2025-06-01", "--to", "2025-06-01")
    assert result.exit_code == 0, result.stderr
    assert "time bookings" in result.stdout
    first = next(
        b
        for b in cli_sandbox.store.time_bookings.values()
        if b["startDate"] <= "2025-06-01" <= b["endDate"]
    )
    assert first["id"] in result.stdout


def test_types_of_work_table_and_json(cli_sandbox: Sandbox) -> None:
    table = run(cli_sandbox, "types-of-work", "list")
    assert table.exit_code == 0, table.stderr
    active = [t for t in cli_sandbox.store.types_of_work.values() if not t.get("isArchived")]
    for kind in active:
        assert kind["id"] in table.stdout
        assert kind["name"] in table.stdout
    listed = json.loads(run(cli_sandbox, "types-of-work", "list", "--json").stdout)
    assert {t["id"] for t in listed} == {t["id"] for t in active}
    everything = json.loads(
        run(cli_sandbox, "types-of-work", "list", "--archived", "--json").stdout
    )
    assert {t["id"] for t in everything} == set(cli_sandbox.store.types_of_work)


# ------------------------------------------------------------------------------ timer


def test_timer_start_pause_resume_stop(timer_sandbox: Sandbox) -> None:
    sb = timer_sandbox
    kind = next(iter(sb.store.types_of_work))
    project = next(iter(sb.store.projects))
    started = run(
        sb,
        "timer",
        "start",
        "--type-of-work",
        kind,
        "--project",
        project,
        "--note",
        "cli test",
        "--timezone",
        "Europe/Berlin",
        "--billable",
    )
    assert started.exit_code == 0, started.stderr
    assert started.stdout.startswith("timer started at ")
    entry_id = sb.store.running[sb.store.me_id]
    assert entry_id in started.stdout
    entry = sb.store.entries[entry_id]
    assert (entry["typeOfWorkId"], entry["projectId"], entry["note"]) == (kind, project, "cli test")
    assert (entry["timezone"], entry["isBillable"]) == ("Europe/Berlin", True)

    status = run(sb, "timer", "status")
    assert status.stdout.startswith("running for ")
    assert entry_id in status.stdout
    assert run(sb, "timer", "pause").stdout.strip() == f"timer paused (entry {entry_id})"
    assert run(sb, "timer", "status").stdout.startswith("paused after ")
    assert run(sb, "timer", "resume").stdout.strip() == f"timer resumed (entry {entry_id})"
    stopped = run(sb, "timer", "stop")
    assert stopped.stdout.startswith("timer stopped: ")
    assert sb.store.entries[entry_id]["endDateUtc"] is not None
    assert sb.store.me_id not in sb.store.running
    assert run(sb, "timer", "stop").stdout.strip() == "no timer to stop: nothing is running"
    assert run(sb, "timer", "status").stdout.startswith(f"stopped (last entry {entry_id}")


def test_timer_for_another_user(timer_sandbox: Sandbox) -> None:
    sb = timer_sandbox
    user = next(u for u in sb.store.users if u != sb.store.me_id)
    kind = next(iter(sb.store.types_of_work))
    result = run(sb, "timer", "start", "--user", user, "--type-of-work", kind)
    assert result.exit_code == 0, result.stderr
    assert user in sb.store.running
    assert run(sb, "timer", "status", "--user", user).stdout.startswith("running for ")
    assert run(sb, "timer", "stop", "--user", user).stdout.startswith("timer stopped")
    assert user not in sb.store.running


def test_timer_start_needs_a_type_of_work(timer_sandbox: Sandbox) -> None:
    result = run(timer_sandbox, "timer", "start")
    assert result.exit_code == 2
    assert "--type-of-work" in one_error_line(result)
    bad_zone = run(
        timer_sandbox,
        "timer",
        "start",
        "--type-of-work",
        next(iter(timer_sandbox.store.types_of_work)),
        "--timezone",
        "Mars/Olympus",
    )
    assert bad_zone.exit_code == 2
    assert "unknown time zone" in one_error_line(bad_zone)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "time-entries", "--from", "2025-02-30"], "--from: '2025-02-30' is not a date"),
        (["export", "time-entries", "--to", "tomorrow"], "--to: 'tomorrow' is not a date"),
        (["export", "time-entries", "--format", "xml"], "'xml' is not one of"),
        (["export", "time-entries", "--page-size", "5000"], "--page-size"),
        (["export", "time-entries", "--user", "bob"], "--user: 'bob' is not an id"),
        (["export", "time-entries", "--resume"], "--resume needs --output FILE"),
        (
            ["export", "time-entries", "--orderby", "duration sideways"],
            "--orderby: 'duration sideways' is not an order key",
        ),
        (["export", "nothing"], "No such command"),
        (["--nope"], "No such option"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    cli_sandbox: Sandbox, args: list[str], fragment: str
) -> None:
    result = run(cli_sandbox, *args)
    assert result.exit_code == 2, result.output
    assert fragment in one_error_line(result)
    assert result.stdout == ""


def test_missing_token_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "never.jsonl"
    result = run(
        None, "--base-url", "http://127.0.0.1:9/api/v1", "export", "time-entries", "-o", str(out)
    )
    assert result.exit_code == 2
    assert "no API token" in one_error_line(result)
    assert not out.exists()  # nothing was created before the token check


def test_unwritable_output_is_a_usage_error(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    result = run(
        cli_sandbox, "export", "time-entries", "-o", str(tmp_path / "no" / "dir" / "x.jsonl")
    )
    assert result.exit_code == 2
    assert "cannot write" in one_error_line(result)
    directory = run(cli_sandbox, "export", "time-entries", "-o", str(tmp_path))
    assert directory.exit_code == 2
    assert "cannot write" in one_error_line(directory)


def test_rejected_token_is_a_runtime_error(cli_sandbox: Sandbox) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--base-url",
            cli_sandbox.base_url,
            "--token",
            "tok-wrong-secret",
            "types-of-work",
            "list",
        ],
    )
    assert result.exit_code == 1
    assert "rejected the token (HTTP 401)" in one_error_line(result)
    assert "tok-wrong-secret" not in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_a_runtime_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/v1"
    result = run(
        None, "--base-url", url, "--token", "tok-x", "--max-attempts", "1", "timer", "status"
    )
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("error: connection failed")
    assert "cannot connect" in line


def test_insecure_base_url_is_a_usage_error() -> None:
    result = run(
        None, "--base-url", "http://example.com/api/v1", "--token", "tok-x", "timer", "status"
    )
    assert result.exit_code == 2
    assert "https" in one_error_line(result)


def test_verbose_shows_a_traceback_but_never_the_token(cli_sandbox: Sandbox) -> None:
    secret = "tok-verbose-secret-123"
    result = CliRunner().invoke(
        app,
        [
            "--verbose",
            "--base-url",
            cli_sandbox.base_url,
            "--token",
            secret,
            "types-of-work",
            "list",
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "AuthenticationError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert secret not in result.output


def test_the_token_never_appears_in_any_output(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    token = cli_sandbox.token
    outputs = [
        run(
            cli_sandbox,
            "--verbose",
            "export",
            "time-entries",
            "--page-size",
            "100",
            "-o",
            str(tmp_path / "a"),
        ),
        run(cli_sandbox, "--verbose", "types-of-work", "list"),
        run(cli_sandbox, "--verbose", "timer", "status"),
        run(cli_sandbox, "--verbose", "export", "time-entries", "--from", "bad"),
        run(
            None,
            "--token",
            token,
            "--base-url",
            "http://127.0.0.1:9/api/v1",
            "--max-attempts",
            "1",
            "-v",
            "timer",
            "status",
        ),
        run(
            None,
            "types-of-work",
            "list",
            env={"AWORK_TOKEN": token, "AWORK_BASE_URL": cli_sandbox.base_url},
        ),
    ]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 2, 1, 0]
    for result in outputs:
        assert token not in result.output
        assert token not in (tmp_path / "a").read_text()


def test_token_and_base_url_from_the_config_file(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "awork-async" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'token = "{cli_sandbox.token}"\nbase_url = "{cli_sandbox.base_url}"\n')
    result = run(None, "types-of-work", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) >= 1
    explicit = tmp_path / "other.toml"
    explicit.write_text(f'token = "tok-bad"\nbase_url = "{cli_sandbox.base_url}"\n')
    rejected = run(None, "--config", str(explicit), "types-of-work", "list")
    assert rejected.exit_code == 1
    assert "rejected the token" in one_error_line(rejected)
    # the option and the environment win over the file
    assert (
        run(
            None, "--config", str(explicit), "--token", cli_sandbox.token, "types-of-work", "list"
        ).exit_code
        == 0
    )


def test_bare_group_shows_help_without_an_error_line() -> None:
    result = run(None, "timer")
    assert result.exit_code == 2
    assert "start" in result.stdout
    assert "error:" not in result.stderr


def test_version_and_help() -> None:
    from awork_async import __version__

    version = run(None, "--version")
    assert version.exit_code == 0
    assert version.stdout.strip() == f"awork-async {__version__}"
    helped = run(None, "--help")
    assert helped.exit_code == 0
    for command in ("export", "timer", "time-bookings", "types-of-work", "sandbox", "demo"):
        assert command in helped.stdout


# ------------------------------------------------------------------------------ demo


def test_demo_writes_the_file_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(None, "demo", "--entries", "250", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "awork-export-demo.csv"
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 250
    assert len({r["id"] for r in rows}) == 250
    assert "exported 250 entries to awork-export-demo.csv" in result.stdout
    assert "AWORK_TOKEN" in result.stdout  # how to run it against real awork
    assert not (tmp_path / "awork-export-demo.csv.checkpoint").exists()


def test_interrupted_export_suggests_resume(
    cli_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from awork_async.cli import cmd_export

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd_export, "run_export", interrupted)
    result = run(cli_sandbox, "export", "time-entries", "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 130
    assert "--resume" in one_error_line(result)


def test_verbose_logs_the_clients_retries_without_the_token(tmp_path: Path) -> None:
    with threaded_sandbox(entries=30, seed=1, token="tok-retry-sandbox-77") as sb:
        sb.faults.inject_next("error", 1, status=503)
        result = run(sb, "--verbose", "export", "time-entries", "-o", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert "1 retry" in result.stderr.strip().splitlines()[-1]
    assert "retrying GET" in result.stderr  # --verbose shows the client's log
    logger = logging.getLogger("awork_async")
    assert not [h for h in logger.handlers if getattr(h, "_awork_cli", False)]  # cleaned up
    assert "tok-retry-sandbox-77" not in result.output
