"""The README's examples: every Python block compiles, and the quick start runs (sandbox)."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import threaded_sandbox

from awork_async.sandbox import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_its_examples() -> None:
    """The tests below are parametrised by the blocks found: none found must fail, not pass."""
    assert len(BLOCKS) >= 10
    assert any("async def main()" in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_blocks_compile(index: int) -> None:
    source = BLOCKS[index]
    # Blocks that show a fragment inside ``async with ... as awork:`` use top-level await.
    wrapped = "async def _example():\n" + "".join(f"    {line}\n" for line in source.splitlines())
    compile(wrapped, f"README block {index}", "exec")


def test_readme_names_exist() -> None:
    import awork_async

    imported = set()
    for block in BLOCKS:
        for match in re.finditer(r"from awork_async import ([\w, ]+)", block):
            imported |= {n.strip() for n in match.group(1).split(",")}
    assert {"AworkClient", "RateLimits"} <= imported  # the regex found the imports
    missing = [n for n in imported if not hasattr(awork_async, n)]
    assert not missing


@pytest.fixture(scope="module")
def sandbox_in_thread() -> Iterator[Sandbox]:
    """A sandbox served from its own thread and loop (the example calls ``asyncio.run``)."""
    with threaded_sandbox(entries=30, seed=5) as sb:
        yield sb


def test_quick_start_runs_against_sandbox(sandbox_in_thread: Sandbox) -> None:
    quick = next(b for b in BLOCKS if "async def main()" in b)
    source = quick.replace(
        'AworkClient(token="…")',
        f"AworkClient(token={sandbox_in_thread.token!r}, base_url={sandbox_in_thread.base_url!r})",
    )
    assert source != quick
    before = len(sandbox_in_thread.store.entries)
    exec(compile(source, "README quick start", "exec"), {"__name__": "readme"})
    # The example created an entry, changed it and deleted it again.
    assert len(sandbox_in_thread.store.entries) == before
    assert sandbox_in_thread.stats.by_status.get(200, 0) > 0


# -- the command line examples ------------------------------------------------------------

#: Commands of the README's bash blocks that are not run here: ``demo`` starts its own sandbox
#: (tests/cli/test_cli_subprocess.py runs it), ``sandbox`` and ``webhooks listen`` serve until stopped
#: (tests/cli/test_cli_webhooks.py runs ``listen``).
NOT_RUN = ("awork-async demo", "awork-async sandbox", "awork-async webhooks listen")


def _cli_examples(text: str) -> list[list[str]]:
    """Every ``awork-async ...`` line of the bash blocks, continuations joined, comments cut."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("awork-async mirror") and not (
                "--once" in line and "sqlite:" in line
            ):
                continue  # a mirror without --once runs until stopped (tests/mirror/test_mirror*.py)
            if line.startswith("awork-async") and not line.startswith(NOT_RUN):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


CLI_EXAMPLES = _cli_examples(README.read_text(encoding="utf-8"))


#: ``cli_sandbox``: the sandbox the README points at (its data ends near today, like a live
#: workspace).
pytestmark = pytest.mark.cli_sandbox(entries=1000, seed=2, token="tok-readme-cli")


def _placeholders(sb: Sandbox) -> dict[str, str]:
    """Real ids for the README's ``2f9c…`` (a type of work) and ``3a0d…`` (a user)."""
    store = sb.store
    tow = next(t["id"] for t in store.types_of_work.values() if not t["isArchived"])
    first = dt.date.today() - dt.timedelta(days=30)
    booked = next(
        b["userId"]
        for b in store.time_bookings.values()
        if b["endDate"][:10] >= first.isoformat() and b["startDate"][:10] <= str(dt.date.today())
    )
    return {"2f9c…": tow, "3a0d…": booked}


def _produced(args: list[str], stdout: str, folder: Path) -> int:
    """Entries (or lines) the command produced: in its output file, else on stdout."""
    for flag in ("--output", "-o"):
        if flag in args:
            written = (folder / args[args.index(flag) + 1]).read_text(encoding="utf-8")
            lines = written.splitlines()
            return len(lines) - 1 if written.startswith("id,") else len(lines)
    return len(stdout.strip().splitlines())


def test_the_readme_has_cli_examples() -> None:
    assert len(CLI_EXAMPLES) >= 7
    assert any(args[:2] == ["export", "time-entries"] and "--from" in args for args in CLI_EXAMPLES)


@pytest.mark.parametrize("args", CLI_EXAMPLES, ids=[" ".join(a[:3]) for a in CLI_EXAMPLES])
def test_cli_example_produces_output(
    args: list[str], cli_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from awork_async.cli import app

    monkeypatch.chdir(tmp_path)
    for name in ("AWORK_TOKEN", "AWORK_BASE_URL", "AWORK_ASYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    values = _placeholders(cli_sandbox)
    args = [values.get(arg, arg) for arg in args]
    prefix = ["--base-url", cli_sandbox.base_url, "--token", cli_sandbox.token]
    result = CliRunner().invoke(app, [*prefix, *args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    assert _produced(args, result.stdout, tmp_path) > 0, (args, result.stdout, result.stderr)


def test_the_demo_hint_finds_entries(cli_sandbox: Sandbox, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from awork_async.cli import app
    from awork_async.cli.cmd_demo import demo_epilogue
    from awork_async.cli.cmd_export import ExportFormat

    hint = next(line for line in demo_epilogue("x.csv", ExportFormat.CSV) if "export time" in line)
    args = shlex.split(hint)[1:]
    assert "today" in " ".join(args)  # relative dates: the hint never goes stale
    output = tmp_path / "hint.csv"
    args[args.index("--output") + 1] = str(output)
    prefix = ["--base-url", cli_sandbox.base_url, "--token", cli_sandbox.token]
    result = CliRunner().invoke(app, [*prefix, *args])
    assert result.exit_code == 0, result.stderr
    assert len(output.read_text(encoding="utf-8").splitlines()) > 1
