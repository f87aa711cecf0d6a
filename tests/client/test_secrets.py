"""Secrets and transport policy (issue 9 §4): no token, password or secret in any message,
repr, traceback, hook event or reachable exception object; one URL policy for every URL a secret
is sent to; bounded messages; field names that cannot smuggle filter text."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest
from _helpers import BASE, TOKEN, FakeSleep
from aioresponses import aioresponses
from typer.testing import CliRunner

from awork_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    AworkClient,
    Hooks,
    InvalidFilterError,
    NoRateLimiter,
    OAuth2Provider,
    OAuth2Token,
    PermissionDeniedError,
    RetryPolicy,
    ServerError,
)
from awork_async._hooks import ErrorEvent
from awork_async._json_pages import _to_entry
from awork_async._response import RawResponse
from awork_async._retry import RetryEvent
from awork_async.cli import app
from awork_async.cli._errors import redact
from awork_async.cli._runtime import AppState, _RedactingFilter
from awork_async.export import iter_time_entries_consistent
from awork_async.filters import F, Fields, and_, asc, desc, order_by, to_order_string
from awork_async.models import TimeEntry

ENTRY_ID = "2b0b2ef6-0c9b-4c8e-9d43-2f8a0d9b4c11"
REFRESH = "ref-SECRET-77aa"
CLIENT_SECRET = "cs-SECRET-88bb"


# ----------------------------------------------------------------------------- helpers


def reachable(root: object) -> list[object]:
    """Every object reachable from ``root`` through exception links (``__cause__``,
    ``__context__``), ``args``, attributes (``__dict__`` and slots) and container items."""
    seen: set[int] = set()
    found: list[object] = []
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen or isinstance(obj, (int, float, bool, bytes)):
            continue
        seen.add(id(obj))
        found.append(obj)
        if isinstance(obj, str):
            continue
        if isinstance(obj, BaseException):
            stack += [obj.__cause__, obj.__context__, *obj.args]
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                stack += [key, value]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack += list(vars(obj).values())
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
    return found


def assert_nowhere(exc: BaseException, *secrets: str) -> None:
    """No secret in ``str``/``repr``/``args``/the traceback text of ``exc``, nor in the
    ``repr`` of anything reachable from it."""
    texts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    texts += [repr(obj) for obj in reachable(exc)]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def echo_body(*secrets: str) -> dict[str, object]:
    """An error body echoing the request's credentials everywhere it can."""
    first = secrets[0]
    return {
        "code": "echo",
        "description": f"bad request header Authorization: Bearer {first}",
        "details": [f"Bearer {s}" for s in secrets],
        "validationErrors": [{"property": first, "message": f"got {first}"}],
        "traceId": first,
        "echo": {first: list(secrets)},
    }


@pytest.fixture
def recorded() -> tuple[Hooks, list[object]]:
    events: list[object] = []
    return Hooks(on_retry=[events.append], on_error=[events.append]), events


def hooked_client(hooks: Hooks, *, auth: OAuth2Provider | None = None) -> AworkClient:
    return AworkClient(
        token=None if auth else TOKEN,
        auth=auth,
        base_url=BASE,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(random=lambda: 0.0, max_attempts=2),
        sleep=FakeSleep(),
        hooks=hooks,
    )


# ------------------------------------------------------------------ one URL policy (1, 2)


@pytest.mark.parametrize(
    "url",
    [
        "http://auth.example.com/api/v1/accounts/token",
        "http://192.168.1.2/token",
        "ftp://auth.example.com/token",
        "auth.example.com/token",
    ],
)
def test_oauth_token_url_follows_the_base_url_rule(url: str) -> None:
    async def never(*_: object) -> Mapping[str, object]:
        raise AssertionError("no request may be sent")

    with pytest.raises(ValueError, match="token_url must"):
        OAuth2Provider(
            OAuth2Token(access_token="a", refresh_token=REFRESH),
            client_id="c",
            client_secret=CLIENT_SECRET,
            token_url=url,
            request=never,
        )
    with pytest.raises(ValueError, match="base_url must"):
        AworkClient(token=TOKEN, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/token",
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://[::1]:9/token",
    ],
)
def test_oauth_token_url_allows_https_and_loopback(url: str) -> None:
    OAuth2Provider(OAuth2Token(access_token="a"), client_id="c", token_url=url)
    AworkClient(token=TOKEN, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2-PW@evil.example.com/api/v1",
        "https://user:hunter2-PW@api.example.com/api/v1",
        "ftp://user:hunter2-PW@api.example.com/api/v1",
        "https://api.example.com/api/v1?api_key=hunter2-PW",
        "http://evil.example.com/api/v1?api_key=hunter2-PW#hunter2-PW",
        "https://hunter2-PW@api.example.com/api/v1",
    ],
)
def test_refused_urls_are_never_repeated_with_their_secrets(url: str) -> None:
    with pytest.raises(ValueError, match="base_url must") as base:
        AworkClient(token=TOKEN, base_url=url)
    with pytest.raises(ValueError, match="token_url must") as token_url:
        OAuth2Provider(OAuth2Token(access_token="a"), client_id="c", token_url=url)
    for error in (base.value, token_url.value):
        assert_nowhere(error, "hunter2-PW")
        assert "example.com" in str(error)  # still says which URL was refused


def test_cli_never_prints_a_refused_base_urls_password() -> None:
    for url in (
        "http://user:hunter2-PW@evil.example.com/api/v1",
        "https://api.example.com/api/v1?key=hunter2-PW",
    ):
        result = CliRunner().invoke(
            app, ["--base-url", url, "--token", "tok-x", "types-of-work", "list"]
        )
        assert result.exit_code == 2, result.output
        assert "--base-url" in result.stderr
        assert "hunter2-PW" not in result.output


# ----------------------------------------------------------- scrubbed error answers (3)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, AuthenticationError), (403, PermissionDeniedError), (500, ServerError)],
)
async def test_echoed_token_is_scrubbed_from_errors_and_hook_events(
    status: int,
    expected: type[APIStatusError],
    recorded: tuple[Hooks, list[object]],
) -> None:
    hooks, events = recorded
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    with aioresponses() as mocked:
        for _ in range(2):
            mocked.get(
                url,
                status=status,
                payload=echo_body(TOKEN),
                headers={"X-Echo": f"Bearer {TOKEN}", "trace-id": TOKEN},
            )
        async with hooked_client(hooks) as awork:
            with pytest.raises(expected) as info:
                await awork.time_entries.get(ENTRY_ID)
    error = info.value
    assert_nowhere(error, TOKEN)
    assert "Bearer ***" in str(error)  # the message still says what the server answered
    assert isinstance(error.body, dict) and "***" in error.body["echo"]
    assert error.headers["X-Echo"] == "Bearer ***"
    assert [type(e) for e in events] == [RetryEvent, ErrorEvent] if status == 500 else [ErrorEvent]
    for event in events:
        assert TOKEN not in repr(event)
        assert_nowhere(event.error, TOKEN)  # type: ignore[attr-defined]


async def test_echoed_token_in_a_text_body_is_scrubbed() -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/timeentries/{ENTRY_ID}",
            status=400,
            body=f"<html>Authorization: Bearer {TOKEN}; token={TOKEN}</html>",
        )
        async with hooked_client(Hooks()) as awork:
            with pytest.raises(APIStatusError) as info:
                await awork.time_entries.get(ENTRY_ID)
    assert_nowhere(info.value, TOKEN)
    assert "Bearer ***" in str(info.value)


async def test_oauth_secrets_are_scrubbed_from_api_errors() -> None:
    auth = OAuth2Provider(
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH),
        client_id="c",
        client_secret=CLIENT_SECRET,
    )
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/timeentries/{ENTRY_ID}",
            status=403,
            payload=echo_body(TOKEN, REFRESH, CLIENT_SECRET),
        )
        async with hooked_client(Hooks(), auth=auth) as awork:
            with pytest.raises(PermissionDeniedError) as info:
                await awork.time_entries.get(ENTRY_ID)
    assert_nowhere(info.value, TOKEN, REFRESH, CLIENT_SECRET)


async def test_echoed_token_in_an_undecodable_success_answer_is_nowhere() -> None:
    """A 2xx answer whose fields quote the token and do not decode: the error names the
    fields, never their values, and does not chain the converter's exception (which does)."""
    bad = {
        "id": ENTRY_ID,
        "timezone": "UTC",
        "typeOfWorkId": ENTRY_ID,
        "duration": f"Bearer {TOKEN}",
        "startDateUtc": TOKEN,
    }
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=bad)
        mocked.get(re.compile(r".*/timeentries\?.*"), payload=[bad])
        async with hooked_client(Hooks()) as awork:
            with pytest.raises(APIResponseValidationError, match=r"duration") as one:
                await awork.time_entries.get(ENTRY_ID)
            with pytest.raises(APIResponseValidationError, match=r"duration") as page:
                await awork.time_entries.list().collect()
    with pytest.raises(APIResponseValidationError, match=ENTRY_ID) as export_row:
        _to_entry(bad)
    for error in (one.value, page.value, export_row.value):
        assert_nowhere(error, TOKEN)


@pytest.mark.parametrize(
    "row",
    [
        {"id": f"Bearer {TOKEN}", "createdOn": "2024-05-01T10:00:00Z"},
        {"id": ENTRY_ID, "createdOn": f"Bearer {TOKEN}"},
    ],
)
async def test_echoed_token_in_a_keyset_page_is_nowhere(row: dict[str, object]) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*/timeentries\?.*"), payload=[row], headers={"aw-totalitems": "1"})
        async with hooked_client(Hooks()) as awork:
            with pytest.raises(APIResponseValidationError, match="time entry") as info:
                async for _ in iter_time_entries_consistent(awork, raw=True):
                    pass
    assert_nowhere(info.value, TOKEN)


# ------------------------------------------------------ no request headers reachable (5)


@pytest.fixture
async def malformed_server() -> AsyncIterator[str]:
    """A loopback server whose answers aiohttp cannot parse: aiohttp raises a
    ``ClientResponseError`` whose ``request_info`` holds the request headers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_no_request_headers_reachable_from_a_connection_error(
    malformed_server: str, recorded: tuple[Hooks, list[object]]
) -> None:
    hooks, events = recorded
    async with AworkClient(
        token=TOKEN,
        base_url=f"{malformed_server}/api/v1",
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(random=lambda: 0.0, max_attempts=2),
        sleep=FakeSleep(),
        hooks=hooks,
    ) as awork:
        with pytest.raises(APIConnectionError, match="connection lost") as info:
            await awork.time_entries.get(ENTRY_ID)
    assert_nowhere(info.value, TOKEN)
    assert not any(isinstance(obj, aiohttp.ClientResponseError) for obj in reachable(info.value))
    assert [type(e) for e in events] == [RetryEvent, ErrorEvent]
    for event in events:
        assert_nowhere(event.error, TOKEN)  # type: ignore[attr-defined]


async def test_no_basic_auth_reachable_from_a_failed_refresh(malformed_server: str) -> None:
    basic = base64.b64encode(f"c:{CLIENT_SECRET}".encode()).decode()
    auth = OAuth2Provider(
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH),
        client_id="c",
        client_secret=CLIENT_SECRET,
        token_url=f"{malformed_server}/token",
    )
    # The refresh takes the one request path: a POST whose answer is lost has an unknown outcome.
    with pytest.raises(AuthenticationError, match="OutcomeUnknownError") as info:
        await auth.refresh()
    assert_nowhere(info.value, basic, REFRESH, CLIENT_SECRET, TOKEN)


async def test_no_secret_reachable_when_a_custom_requester_fails() -> None:
    async def failing(
        url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Mapping[str, object]:
        raise RuntimeError(f"boom {form['refresh_token']} {headers['Authorization']}")

    auth = OAuth2Provider(
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH),
        client_id="c",
        client_secret=CLIENT_SECRET,
        request=failing,
    )
    with pytest.raises(AuthenticationError) as info:
        await auth.refresh()
    assert_nowhere(info.value, REFRESH, CLIENT_SECRET, "Basic ")


# --------------------------------------------------------------- the CLI's secrets (4)


def test_cli_redacts_the_token_as_sent() -> None:
    assert redact("Authorization: Bearer s3cr3t-T0K", ["  s3cr3t-T0K \t"]) == (
        "Authorization: Bearer ***"
    )
    state = AppState(token_option=" s3cr3t-T0K ", env={"AWORK_TOKEN": " env-T0K\n"})
    import logging

    record = logging.LogRecord(
        "awork_async", logging.INFO, __file__, 1, "sent %s and %s", ("s3cr3t-T0K", "env-T0K"), None
    )
    _RedactingFilter(state).filter(record)
    assert record.getMessage() == "sent *** and ***"


def test_app_state_repr_shows_no_token_and_no_environment() -> None:
    state = AppState(
        token_option=" s3cr3t-T0K ",
        base_url_option="http://127.0.0.1:9/api/v1",
        env={"AWORK_TOKEN": "env-T0K", "HOME": "/home/someone"},
    )
    text = repr(state)
    assert "s3cr3t-T0K" not in text and "env-T0K" not in text
    assert "/home/someone" not in text
    assert "127.0.0.1:9" in text  # the harmless options are still shown
    resolved = AppState(
        base_url_option="https://user:hunter2-PW@api.example.com/api/v1?k=hunter2-PW",
        env={"AWORK_TOKEN": "env-T0K"},
    )
    resolved.settings()
    text = repr(resolved)
    assert "hunter2-PW" not in text and "env-T0K" not in text
    assert "api.example.com" in text


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers 500 with the request's Authorization header (and the bare token) in the body."""

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        body = (
            f'{{"code": "echo", "description": "{authorization} / '
            f'{authorization.removeprefix("Bearer ")}"}}'
        ).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_cli_never_prints_an_unstripped_token(
    echo_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWORK_TOKEN", raising=False)
    result = CliRunner().invoke(
        app,
        [
            "--verbose",
            "--token",
            "  s3cr3t-T0K ",
            "--base-url",
            echo_server,
            "--max-attempts",
            "1",
            "types-of-work",
            "list",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" in result.stderr and "HTTP 500" in result.stderr
    assert "s3cr3t-T0K" not in result.output


# ---------------------------------------------------------------- bounded messages (6)


async def test_a_huge_url_is_cut_in_messages_and_event_reprs(
    recorded: tuple[Hooks, list[object]],
) -> None:
    hooks, events = recorded
    huge = "note eq '" + "x" * 2_000_000 + "'"
    with aioresponses() as mocked:
        mocked.get(
            re.compile(r".*/timeentries\?.*"),
            status=400,
            payload={"code": "invalid-filter-or-order", "description": "too long"},
        )
        mocked.get(re.compile(r".*/typeofwork\?.*"), exception=aiohttp.ClientPayloadError("cut"))
        async with hooked_client(hooks) as awork:
            with pytest.raises(InvalidFilterError) as status_error:
                await awork.time_entries.list(filterby=huge).collect()
            with pytest.raises(APIConnectionError) as connection_error:
                await awork.types_of_work.list(filterby=huge).collect()
    for error in (status_error.value, connection_error.value):
        assert len(str(error)) < 1000
        assert len(repr(error)) < 1000
        assert len(error.url) > 2_000_000  # the attribute keeps the whole URL
        assert "chars)" in str(error)
    assert "invalid-filter-or-order" in str(status_error.value)
    assert events
    for event in events:
        assert len(repr(event)) < 2000
    raw = RawResponse(method="GET", url=status_error.value.url, status=400, headers={})
    assert len(repr(raw)) < 1000


# --------------------------------------------------------------- field names (7)


@pytest.mark.parametrize(
    "name", ["note eq 'a' or isBillable", "a/b", "id)", "x y", "a'", "", "1abc", "a-b"]
)
def test_field_names_are_checked_on_every_path(name: str) -> None:
    entry = Fields(TimeEntry)
    attempts = [
        lambda: getattr(F, name),
        lambda: getattr(F.project, name),
        lambda: F[name],
        lambda: getattr(entry, name),
        lambda: entry.project[name],
        lambda: F.tags.any(lambda t: getattr(t, name) == 1),
    ]
    if "/" not in name:  # a path such as ``a/b`` is a valid order key
        attempts += [
            lambda: asc(name),
            lambda: desc(name),
            lambda: order_by(name),
            lambda: to_order_string([name]),
        ]
    for attempt in attempts:
        with pytest.raises((ValueError, AttributeError)):
            attempt()


def test_valid_names_and_order_keys_still_work() -> None:
    assert str(getattr(F, "is_billable") == True) == "isBillable eq true"  # noqa: B009, E712
    assert str(and_(F["count"] > 1, getattr(F.project, "name") == "a")) == (  # noqa: B009
        "count gt 1 and project/name eq 'a'"
    )
    assert str(order_by("project/name  DESC", asc("LastName"), desc("a/b"))) == (
        "project/name DESC,LastName asc,a/b desc"
    )
    assert to_order_string("any raw text, as documented") == "any raw text, as documented"
