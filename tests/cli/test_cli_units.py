"""Pure parts of the command line: option parsing, filters, settings, messages, rendering."""

from __future__ import annotations

import datetime as dt
import io
import sys
import uuid
from pathlib import Path

import attrs
import pytest
from _helpers import FakeClock
from rich.console import Console

from awork_async import (
    APIConnectionError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from awork_async._hooks import Hooks, RateLimitWaitEvent
from awork_async.cli._errors import CliError, CliUsageError, describe_error, redact
from awork_async.cli._options import (
    entry_filter,
    parse_date,
    parse_date_range,
    parse_rate_limit,
    parse_uuid,
)
from awork_async.cli._output import format_elapsed, timer_action_line, timer_status_line
from awork_async.cli._progress import ExportProgress, summary_line
from awork_async.cli._settings import (
    ConfigFile,
    Settings,
    default_config_path,
    load_config_file,
    parse_config_file,
    resolve,
)
from awork_async.cli.cmd_export import checkpoint_path_for, parse_orderby
from awork_async.cli.cmd_lists import booking_filter
from awork_async.models import Break, TimeEntry
from awork_async.resources.timer import timer_status

UID = uuid.UUID("3b1a11df-587f-4280-bbab-6c398d88348a")
UTC = dt.timezone.utc

# ------------------------------------------------------------------------------ options


def test_parse_date_accepts_iso_days_only() -> None:
    assert parse_date("2025-06-30", "--from") == dt.date(2025, 6, 30)
    assert parse_date(None, "--from") is None
    for bad in ("2025-13-01", "2025-6-1", "tomorrow", "today+1", "today-", "2025-06-30T00:00"):
        with pytest.raises(CliUsageError, match="--from") as info:
            parse_date(bad, "--from")
        assert info.value.exit_code == 2


def test_parse_date_accepts_days_relative_to_today() -> None:
    day = dt.date(2026, 3, 1)
    assert parse_date("today", "--to", today=day) == day
    assert parse_date("yesterday", "--to", today=day) == dt.date(2026, 2, 28)
    assert parse_date("today-30", "--from", today=day) == dt.date(2026, 1, 30)
    assert parse_date("yesterday-1", "--from", today=day) == dt.date(2026, 2, 27)
    assert parse_date_range("today-7", "today", today=day) == (dt.date(2026, 2, 22), day)
    with pytest.raises(CliUsageError, match="before --from"):
        parse_date_range("today", "today-1", today=day)


def test_date_range_rejects_reversed_range() -> None:
    assert parse_date_range("2025-01-01", "2025-01-01") == (dt.date(2025, 1, 1),) * 2
    with pytest.raises(CliUsageError, match="before --from"):
        parse_date_range("2025-02-01", "2025-01-31")


def test_parse_uuid() -> None:
    assert parse_uuid(str(UID), "--user") == UID
    with pytest.raises(CliUsageError, match="--user: 'me' is not an id"):
        parse_uuid("me", "--user")


def test_entry_filter_uses_the_typed_builder() -> None:
    assert entry_filter() is None
    text = entry_filter(
        date_from=dt.date(2025, 6, 1),
        date_to=dt.date(2025, 6, 30),
        user=UID,
        billable=False,
        raw_filter="duration gt 3600 or note eq 'x'",
    )
    assert text == (
        "startDateUtc ge datetime'2025-06-01T00:00:00' and "
        "startDateUtc lt datetime'2025-07-01T00:00:00' and "
        f"userId eq guid'{UID}' and isBillable eq false and "
        "(duration gt 3600 or note eq 'x')"
    )
    assert entry_filter(project=UID, billable=True) == (
        f"projectId eq guid'{UID}' and isBillable eq true"
    )
    with pytest.raises(CliUsageError):
        entry_filter(raw_filter="  ")


def test_booking_filter_selects_overlapping_bookings() -> None:
    assert booking_filter(None, None) is None
    assert booking_filter(dt.date(2025, 6, 1), dt.date(2025, 6, 10)) == (
        "endDate ge datetime'2025-06-01T00:00:00' and startDate le datetime'2025-06-10T00:00:00'"
    )


def test_parse_orderby_uses_the_filters_order_keys() -> None:
    assert parse_orderby(None) is None
    assert parse_orderby("  ") is None
    assert parse_orderby(" duration  DESC , project/name") == "duration DESC,project/name"
    for bad in ("duration sideways", "a,,b", "1abc", "a desc desc"):
        with pytest.raises(CliUsageError, match="is not an order key"):
            parse_orderby(bad)


def test_parse_rate_limit() -> None:
    assert parse_rate_limit(None) is None
    assert parse_rate_limit("50/1000") == (50, 1000)
    for bad in ("50", "a/b", "0/10", "50/"):
        with pytest.raises(CliUsageError, match="--rate-limit"):
            parse_rate_limit(bad)


def test_checkpoint_sits_beside_the_output() -> None:
    assert checkpoint_path_for(Path("out/x.jsonl")) == Path("out/x.jsonl.checkpoint")


# ------------------------------------------------------------------------------ settings


def test_settings_precedence_option_env_file() -> None:
    config = ConfigFile(token="file-token", base_url="https://file.example/api/v1")
    env = {"AWORK_TOKEN": "env-token", "AWORK_BASE_URL": "https://env.example/api/v1"}
    default = "https://default/api/v1"
    first = resolve(
        token_option="opt",
        base_url_option="https://opt/api/v1",
        env=env,
        config=config,
        default_base_url=default,
    )
    assert (first.token, first.base_url, first.token_source) == (
        "opt",
        "https://opt/api/v1",
        "--token",
    )
    second = resolve(
        token_option=None, base_url_option=None, env=env, config=config, default_base_url=default
    )
    assert (second.token, second.base_url) == ("env-token", "https://env.example/api/v1")
    third = resolve(
        token_option=None, base_url_option=None, env={}, config=config, default_base_url=default
    )
    assert (third.token, third.base_url, third.token_source) == (
        "file-token",
        "https://file.example/api/v1",
        "config file",
    )
    empty = resolve(
        token_option=None,
        base_url_option=None,
        env={},
        config=ConfigFile(),
        default_base_url="https://d/api/v1",
    )
    assert (empty.token, empty.base_url) == (None, "https://d/api/v1")
    with pytest.raises(CliUsageError, match="no API token") as info:
        empty.require_token()
    assert info.value.exit_code == 2


def test_settings_repr_hides_the_token() -> None:
    settings = Settings(token="s3cret-token", base_url="https://x/api/v1")
    assert "s3cret-token" not in repr(settings)


def test_config_file_is_read_on_every_supported_python(tmp_path: Path) -> None:
    # Python 3.10 has no tomllib: the tomli backport (a dependency there) reads the file.
    path = tmp_path / "config.toml"
    path.write_text('token = "abc"\nbase_url = "http://127.0.0.1:1/api/v1"\n')
    assert load_config_file(path) == ConfigFile(token="abc", base_url="http://127.0.0.1:1/api/v1")


def test_config_file_parsing(tmp_path: Path) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    def parse(data: bytes) -> dict[str, object]:
        loaded: dict[str, object] = tomllib.loads(data.decode())
        return loaded

    path = tmp_path / "config.toml"
    assert parse_config_file(path, parse) == ConfigFile()
    path.write_text('token = "abc"\nbase_url = "http://127.0.0.1:1/api/v1"\n')
    assert parse_config_file(path, parse) == ConfigFile(
        token="abc", base_url="http://127.0.0.1:1/api/v1"
    )
    skipped = parse_config_file(path, None)
    assert skipped.token is None
    assert skipped.note is not None
    assert "no TOML parser" in skipped.note
    path.write_text("token = 3\n")
    with pytest.raises(CliUsageError, match="token must be a string"):
        parse_config_file(path, parse)
    path.write_text("token = \n")
    with pytest.raises(CliUsageError, match="cannot read config file"):
        parse_config_file(path, parse)


def test_default_config_path_honours_xdg() -> None:
    assert default_config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/awork-async/config.toml")
    assert default_config_path({}).parts[-3:] == (".config", "awork-async", "config.toml")


# ------------------------------------------------------------------------------ errors


def test_describe_error_messages_and_codes() -> None:
    assert describe_error(CliUsageError("bad\n  input")) == ("bad input", 2)
    assert describe_error(CliError("boom")) == ("boom", 1)
    message, code = describe_error(AuthenticationError(status=401, url="https://x"))
    assert code == 1
    assert "rejected the token (HTTP 401)" in message
    message, code = describe_error(
        PermissionDeniedError(status=403, description="Only admins may do that.")
    )
    assert (message, code) == ("permission denied (HTTP 403): Only admins may do that.", 1)
    message, _ = describe_error(RateLimitError(status=429, retry_after=3.0))
    assert message == "rate limited by the server (HTTP 429); retry after 3s"
    message, _ = describe_error(ServerError(status=503, method="GET", url="https://x/y"))
    assert message.startswith("the server answered HTTP 503")
    message, _ = describe_error(APIConnectionError("GET https://x: cannot connect"))
    assert message == "connection failed: GET https://x: cannot connect"
    assert describe_error(RuntimeError("odd")) == ("RuntimeError: odd", 1)


def test_redact() -> None:
    assert redact("token abc and abc", ["abc", None, ""]) == "token *** and ***"


# ------------------------------------------------------------------------------ rendering


def test_format_elapsed() -> None:
    assert format_elapsed(None) == "-"
    assert format_elapsed(0) == "0:00:00"
    assert format_elapsed(dt.timedelta(hours=26, minutes=3, seconds=9)) == "26:03:09"
    assert format_elapsed(-61) == "-0:01:01"


def _entry(**fields: object) -> TimeEntry:
    base: dict[str, object] = {
        "id": UID,
        "start_date_utc": dt.datetime(2025, 6, 1, tzinfo=UTC),
        "start_time_utc": "08:00:00",
    }
    base.update(fields)
    return TimeEntry(**base)  # type: ignore[arg-type]


def test_timer_status_lines() -> None:
    now = dt.datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
    running = timer_status_line(timer_status(_entry(), now))
    assert running == f"running for 1:30:00 (since 2025-06-01 08:00:00 UTC, entry {UID})"
    open_break = Break(start_date=dt.datetime(2025, 6, 1, 9, 0, tzinfo=UTC))
    paused = timer_status_line(timer_status(_entry(breaks=(open_break,)), now))
    assert paused.startswith("paused after 1:00:00")
    done = _entry(
        end_date_utc=dt.datetime(2025, 6, 1, tzinfo=UTC), end_time_utc="09:00:00", duration=3600
    )
    assert timer_status_line(timer_status(done, now)).startswith(
        f"stopped (last entry {UID}: 1:00:00 tracked"
    )
    assert timer_status_line(timer_status(None, now)) == "stopped (no time entries yet)"


def test_timer_action_lines() -> None:
    assert timer_action_line("stop", None) == "no timer to stop: nothing is running"
    assert timer_action_line("stop", _entry(duration=90)) == (
        f"timer stopped: 0:01:30 tracked (entry {UID})"
    )
    assert timer_action_line("start", _entry()).startswith("timer started at 2025-06-01 08:00")
    assert timer_action_line("pause", _entry()) == f"timer paused (entry {UID})"
    assert timer_action_line("resume", _entry()) == f"timer resumed (entry {UID})"


@attrs.frozen
class _Summary:
    entries: int = 5000
    pages: int = 5
    requests: int = 7
    retries: int = 1
    rate_limited: int = 1
    seconds: float = 2.0


def test_summary_line() -> None:
    assert summary_line(_Summary(), "out.jsonl") == (
        "exported 5000 entries to out.jsonl: 5 pages, 7 requests, 1 retry, 1 429s, 2.00s "
        "(2,500 entries/s)"
    )
    one = summary_line(_Summary(entries=1, pages=1, requests=1, retries=0, seconds=0), "-")
    assert one == "exported 1 entry to -: 1 page, 1 request, 0 retries, 1 429s, 0.00s"


def test_progress_bar_renders_on_a_terminal_and_stays_silent_otherwise() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with ExportProgress(enabled=True, console=console) as progress:
        progress.update(500, 2000)
        progress.update(1000, 2000)
        console.print(progress._progress)  # render one frame deterministically
    text = buffer.getvalue()
    assert "1000/2000" in text
    assert "50%" in text
    quiet = ExportProgress(enabled=False)
    with quiet:
        quiet.update(10, None)
        quiet.rate_limit_wait(30.0)
    assert (quiet.done, quiet.total) == (10, None)


def _frame(progress: ExportProgress) -> str:
    """One frame of the bar rendered at 80 columns."""
    assert progress._progress is not None
    table = progress._progress.make_tasks_table(progress._progress.tasks)
    screen = Console(width=80, record=True, file=io.StringIO())
    screen.print(table)
    return screen.export_text()


def test_progress_bar_fits_80_columns_and_shows_rate_limit_waits() -> None:
    clock = FakeClock(1000.0)
    hidden = Console(file=io.StringIO(), width=80)
    with ExportProgress(enabled=True, console=hidden, clock=clock) as progress:
        progress.update(69000, 200000)
        frame = _frame(progress)
        assert "69000/200000" in frame  # the numbers are never cut
        assert "35%" in frame or "34%" in frame
        assert "…" not in frame
        progress.update(199000, 1200000)
        assert "199000/1200000" in _frame(progress)

        progress.rate_limit_wait(0.02)  # pacing within a second: not worth a word
        assert "waiting" not in _frame(progress)
        progress.rate_limit_wait(41.2)  # the limiter holds the export
        frame = _frame(progress)
        assert "waiting for the rate limit (42 s)" in frame
        assert "199000/1200000" in frame
        clock.now += 30.0
        assert "waiting for the rate limit (12 s)" in _frame(progress)
        clock.now += 20.0
        assert "waiting" not in _frame(progress)  # the wait is over
        progress.rate_limit_wait(100.0)
        progress.update(200000, 1200000)  # entries arrived: no longer waiting
        frame = _frame(progress)
        assert "waiting" not in frame
        assert "200000/1200000" in frame
        for line in frame.splitlines():
            assert len(line.rstrip()) <= 80


async def test_progress_hooks_feed_the_rate_limit_wait() -> None:
    clock = FakeClock(1000.0)
    progress = ExportProgress(enabled=False, clock=clock)
    hooks = progress.hooks()
    await hooks.emit_rate_limit_wait(method="GET", url="https://x/api/v1/timeentries", wait=5.0)
    assert progress.wait_left() == 5.0


def test_cli_export_feeds_rate_limit_waits_to_its_progress_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from awork_async.cli import cmd_export
    from awork_async.cli._runtime import AppState

    seen: dict[str, object] = {}

    def fake_run_with_client(state: AppState, body: object, *, hooks: object = None) -> object:
        seen["hooks"] = hooks
        return "summary"

    monkeypatch.setattr(cmd_export, "run_with_client", fake_run_with_client)
    progress = ExportProgress(enabled=False, clock=FakeClock(1000.0))
    result = cmd_export.run_export(
        AppState(),
        io.BytesIO(),
        format=cmd_export.ExportFormat.JSONL,
        filterby=None,
        page_size=10,
        checkpoint=None,
        resume=False,
        progress=progress,
    )
    assert result == "summary"
    hooks = seen["hooks"]
    assert isinstance(hooks, Hooks)
    assert len(hooks.on_rate_limit_wait) == 1
    hooks.on_rate_limit_wait[0](RateLimitWaitEvent(method="GET", url="u", wait=9.0))
    assert progress.wait_left() == 9.0


def test_the_export_command_carries_no_crash_switch() -> None:
    """The crash of the resume tests is injected by ``tests/cli/crashing_cli.py``, not the package."""
    import inspect

    from awork_async.cli import cmd_export

    source = inspect.getsource(cmd_export)
    assert "_exit" not in source
    assert "CRASH" not in source
