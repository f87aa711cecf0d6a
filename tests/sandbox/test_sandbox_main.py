"""``python -m awork_async.sandbox`` is ``awork-async sandbox`` (one CLI), old spellings kept."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from awork_async.sandbox.__main__ import legacy_arguments, main


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["--port", "0"], ["--port", "0"]),
        (["--token", "T"], ["--sandbox-token", "T"]),
        (["--token=T", "--entries", "5"], ["--sandbox-token", "T", "--entries", "5"]),
        (["--rate-limit"], ["--rate-limit", "50/1000"]),
        (
            ["--rate-limit", "--per-second", "5", "--per-minute=100", "--seed", "2"],
            ["--seed", "2", "--rate-limit", "5/100"],
        ),
        (["--rate-limit", "7/70"], ["--rate-limit", "7/70"]),
        (["--per-second", "5"], []),  # without --rate-limit the limits were ignored
        (["--error-rate", "0.1", "--latency", "0.5"], ["--error-rate", "0.1", "--latency", "0.5"]),
        (["--token"], ["--sandbox-token"]),  # the CLI reports the missing value
    ],
)
def test_legacy_arguments(old: list[str], new: list[str]) -> None:
    assert legacy_arguments(old) == new


def test_the_module_runs_the_cli_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import awork_async.sandbox as sandbox_package

    built: list[dict[str, Any]] = []

    class RecordingSandbox:
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)

    def fake_run(coro: Any) -> None:
        coro.close()

    monkeypatch.setattr(sandbox_package, "Sandbox", RecordingSandbox)
    monkeypatch.setattr(asyncio, "run", fake_run)
    main(["--port", "0", "--token", "T", "--rate-limit", "--per-second", "5", "--slow-rate", "0.5"])
    (kwargs,) = built
    assert (kwargs["port"], kwargs["token"]) == (0, "T")
    assert (kwargs["rate_limit"].per_second, kwargs["rate_limit"].per_minute) == (5, 1000)
    assert kwargs["faults"].slow_rate == 0.5  # an option the old entry point did not have


def test_a_usage_error_exits_with_the_cli_code() -> None:
    with pytest.raises(SystemExit) as info:
        main(["--port", "not-a-port"])
    assert info.value.code == 2


def test_help_is_the_cli_commands_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "awork_async.sandbox", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--sandbox-token" in result.stdout
    assert "--slow-rate" in result.stdout  # an option only the one CLI has


def test_the_sandbox_configuration_has_a_public_module() -> None:
    import awork_async.sandbox as sandbox_package
    from awork_async.sandbox import _config, config

    for name in config.__all__:
        assert getattr(_config, name) is getattr(config, name)  # old imports keep working
    for name in ("FaultConfig", "RateLimitConfig", "SandboxConfig", "WebhookDeliveryConfig"):
        cls = getattr(sandbox_package, name)
        assert cls is getattr(config, name)
        assert cls.__module__ == "awork_async.sandbox.config"
