"""The install and CI contract: README's test command, `.ci/run`, `constraints.txt`, classifiers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(pip install .*? && python -m pytest .*?)\n```", readme)
    assert len(commands) == 1
    return commands[0]


def _pinned() -> set[str]:
    names = set()
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            assert str(requirement.specifier).startswith("=="), line
            names.add(canonicalize_name(requirement.name))
    return names


def test_ci_runs_the_readme_test_command() -> None:
    install, test = _readme_test_command().split(" && ")
    assert "-c constraints.txt" in install
    ci_lines = {line.strip() for line in CI_RUN.splitlines()}
    assert install in ci_lines
    assert test in ci_lines


def test_every_dependency_and_tool_is_pinned() -> None:
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"]] + [r for extra in extras.values() for r in extra]
    names = {canonicalize_name(Requirement(r).name) for r in wanted} - {"awork-async"}
    assert names - _pinned() == set()


def test_the_build_backend_and_what_it_imports_are_pinned_exactly() -> None:
    # pip builds in an isolated environment that constraints.txt does not reach.
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert {canonicalize_name(r.name) for r in requires} >= {"hatchling", "packaging", "pluggy"}
    for requirement in requires:
        assert [s.operator for s in requirement.specifier] == ["=="], requirement


def test_test_tools_are_bounded_above() -> None:
    # A plain `pip install -e ".[dev]"` (no constraints file) cannot pick up a breaking release.
    extras = PYPROJECT["project"]["optional-dependencies"]
    for requirement in map(Requirement, extras["test"] + extras["dev"]):
        if requirement.name != "awork-async":
            assert any(s.operator in ("<", "<=", "==") for s in requirement.specifier), requirement


def test_classifiers_list_exactly_the_pythons_ci_tests() -> None:
    classifiers = PYPROJECT["project"]["classifiers"]
    claimed = {c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r".*:: 3\.\d+", c)}
    match = re.search(r"^PYTHONS=\((.*)\)$", CI_RUN, flags=re.M)
    assert match is not None
    assert claimed == set(match.group(1).split())
    assert PYPROJECT["project"]["requires-python"] == f">={min(claimed, key=Version)}"


def test_the_fast_subset_leaves_out_files_that_exist() -> None:
    # A moved or renamed slow file would silently rejoin the fast subset (pytest ignores a missing
    # --ignore path), and the script would no longer fit its time.
    match = re.search(r"^FAST_SUBSET_IGNORES=\((.*?)\)$", CI_RUN, flags=re.M | re.S)
    assert match is not None
    paths = match.group(1).split()
    assert paths
    assert [p for p in paths if not (ROOT / p).is_file()] == []
