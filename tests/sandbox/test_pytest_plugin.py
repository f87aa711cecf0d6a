"""The pytest plugin's README example in a fresh project: pytest-asyncio strict and auto modes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    """The README's ``awork_sandbox`` test (the block that uses the fixture)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if "def test_" in b and "awork_sandbox" in b)


def _run(pytester: pytest.Pytester, pytestconfig: pytest.Config, ini: str) -> pytest.RunResult:
    pytester.makeini(ini)
    args = ["-p", "no:cacheprovider"]
    if not pytestconfig.pluginmanager.has_plugin("awork_sandbox"):  # not installed: by name
        args += ["-p", "awork_async.sandbox.pytest_plugin"]
    return pytester.runpytest_subprocess(*args)


#: What a fresh project has: pytest-asyncio's defaults (strict mode); the loop scope is set
#: only to silence pytest-asyncio's own deprecation warning about leaving it unset.
STRICT = """
[pytest]
asyncio_default_fixture_loop_scope = function
"""

AUTO = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.mark.parametrize("ini", [STRICT, AUTO], ids=["strict", "auto"])
def test_readme_example_runs_in_a_fresh_project(
    pytester: pytest.Pytester, pytestconfig: pytest.Config, ini: str
) -> None:
    pytester.makepyfile(test_example=_readme_example())
    result = _run(pytester, pytestconfig, ini)
    result.assert_outcomes(passed=1)


def test_fixtures_work_in_strict_mode(
    pytester: pytest.Pytester, pytestconfig: pytest.Config
) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.asyncio

        async def test_default(awork_sandbox):
            assert len(awork_sandbox.store.entries) == 200

        async def test_factory(awork_sandbox_factory):
            sb = await awork_sandbox_factory(entries=4)
            assert len(sb.store.entries) == 4
        """
    )
    _run(pytester, pytestconfig, STRICT).assert_outcomes(passed=2)


def test_a_marker_s_knobs_do_not_leak_from_one_test_into_the_next(
    pytester: pytest.Pytester, pytestconfig: pytest.Config
) -> None:
    """A module's marker is one ``FaultConfig`` object for all its tests; what a test's sandbox
    changes in it (queued faults, a knob, the random draws) is not what the next test starts
    with. (The queued slow answers of one test used to hold the next one's first requests.)"""
    pytester.makepyfile(
        """
        import random

        import pytest
        from awork_async.sandbox import FaultConfig, RateLimitConfig

        pytestmark = pytest.mark.awork_sandbox(
            entries=3, faults=FaultConfig(seed=5), rate_limit=RateLimitConfig(per_second=9)
        )

        async def test_changes_the_knobs(awork_sandbox):
            awork_sandbox.faults.inject_next("slow", 4)
            awork_sandbox.faults.slow_delay = 5.0
            awork_sandbox.faults.rng.random()
            awork_sandbox.config.rate_limit.per_second = 1

        async def test_starts_from_the_marker(awork_sandbox):
            assert list(awork_sandbox.faults.queue) == []
            assert awork_sandbox.faults.slow_delay == FaultConfig().slow_delay
            assert awork_sandbox.faults.rng.random() == random.Random(5).random()
            assert awork_sandbox.config.rate_limit.per_second == 9
        """
    )
    _run(pytester, pytestconfig, AUTO).assert_outcomes(passed=2)
