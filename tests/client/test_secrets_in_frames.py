"""No secret in the frame locals of a raised exception's traceback (issue 9 §4).

Error reporters print the local variables of every frame on an exception's traceback: Sentry
captures them by default, ``traceback.TracebackException(capture_locals=True)``, rich's
``show_locals``, pytest's ``--showlocals``. So for every way a call can fail, the locals of every
frame on the traceback of every exception reachable from the raised one (``__cause__``,
``__context__``, attributes) must not show the bearer token, the OAuth refresh token and client
secret (nor the Basic header made of it), or a webhook's auth header value: neither as sent nor
as an answer echoed it.

Unit HTTP through aioresponses; what needs real framing (a stalled or oversized body, a request
still in flight when the caller gives up) through a loopback aiohttp server.
"""

from __future__ import annotations

import asyncio
import base64
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from _helpers import BASE, FakeSleep
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from rich.pretty import pretty_repr
from rich.traceback import Traceback

from awork_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    AworkClient,
    NoRateLimiter,
    OAuth2Provider,
    OAuth2Token,
    OutcomeUnknownError,
    ResponseTooLargeError,
    RetryPolicy,
    Timeouts,
    UnexpectedRedirectError,
)
from awork_async import _constants as C
from awork_async.models import WebhookConfigForm

TOKEN = "tok-FRAMESECRET-5d1c"
NEW_TOKEN = "tok-FRAMESECRET-new-77e0"
REFRESH = "ref-FRAMESECRET-a9b8"
NEW_REFRESH = "ref-FRAMESECRET-new-c7d6"
CLIENT_SECRET = "cs-FRAMESECRET-e5f4"
BASIC = base64.b64encode(f"client-1:{CLIENT_SECRET}".encode()).decode()
HOOK_SECRET = "wh-FRAMESECRET-0a1b"
SECRETS = {
    "the token": TOKEN,
    "the refreshed token": NEW_TOKEN,
    "the refresh token": REFRESH,
    "the new refresh token": NEW_REFRESH,
    "the client secret": CLIENT_SECRET,
    "the Basic header": BASIC,
    "the webhook secret": HOOK_SECRET,
}
WEBHOOK_FORM = WebhookConfigForm(
    name="sync",
    uri="https://example.com/awork/webhooks",
    events=["timetracking_added"],
    is_active=True,
    auth_header="X-Awork-Secret",
    auth_value=HOOK_SECRET,
)
ME = re.compile(r".*/api/v1/me$")
TOKEN_URL = C.DEFAULT_TOKEN_URL


# ----------------------------------------------------------------------------- the check


def exceptions_in(root: BaseException) -> list[BaseException]:
    """``root`` and every exception reachable from it (chained, in ``args``, attributes)."""
    seen: set[int] = set()
    found: list[BaseException] = []
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, BaseException):
            found.append(obj)
            stack += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values()]
            stack += getattr(obj, "exceptions", ())
    return found


def with_locals(exc: BaseException) -> dict[str, str]:
    """The traceback's text with its locals, as the standard library and rich show them."""
    formatted = traceback.TracebackException.from_exception(exc, capture_locals=True)
    trace = Traceback.extract(
        type(exc),
        exc,
        exc.__traceback__,
        show_locals=True,
        locals_max_length=100_000,
        locals_max_string=100_000,
    )
    shown = [
        f"{name} = {node.render(max_width=100_000)}"
        for stack in trace.stacks
        for frame in stack.frames
        for name, node in (frame.locals or {}).items()
    ]
    return {"traceback": "".join(formatted.format()), "rich": "\n".join(shown)}


def leaks(exc: BaseException) -> list[str]:
    """Where a secret shows: in the traceback printed with its locals (as error reporters
    do), or in the ``repr`` of a local of a frame on the traceback of a reachable exception."""
    found: list[str] = []
    for how, text in with_locals(exc).items():
        found += [f"{what} in the {how} output" for what, s in SECRETS.items() if s in text]
    for error in exceptions_in(exc):
        tb = error.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            frame = getattr(code, "co_qualname", code.co_name)
            for name, value in tb.tb_frame.f_locals.items():
                try:
                    shown = repr(value)
                except Exception as problem:  # pragma: no cover - a broken repr shows nothing
                    shown = type(problem).__name__
                found += [
                    f"{what} in {frame}'s {name!r} ({type(error).__name__})"
                    for what, secret in SECRETS.items()
                    if secret in shown
                ]
            tb = tb.tb_next
    return found


def assert_no_leak(exc: BaseException) -> None:
    found = leaks(exc)
    assert not found, "secrets in frame locals:\n" + "\n".join(found)


def client(base_url: str = BASE, **kwargs: Any) -> AworkClient:
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0, max_attempts=2))
    if "auth" not in kwargs:
        kwargs["token"] = TOKEN
    return AworkClient(base_url=base_url, rate_limiter=NoRateLimiter(), sleep=FakeSleep(), **kwargs)


def oauth(*, expired: bool = False) -> OAuth2Provider:
    return OAuth2Provider(
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH, expires_at=1.0 if expired else None),
        client_id="client-1",
        client_secret=CLIENT_SECRET,
        clock=lambda: 1_000.0,
    )


def echo(*secrets: str) -> dict[str, object]:
    """An error body quoting the request's credentials."""
    return {
        "code": "echo",
        "error": "invalid_grant",
        "description": " ".join(f"Bearer {s}" for s in secrets),
        "error_description": " ".join(secrets),
        "details": list(secrets),
    }


ECHO_HEADERS = {"X-Echo": f"Bearer {TOKEN}", "X-Hook": HOOK_SECRET}
REFRESHED = {"access_token": NEW_TOKEN, "refresh_token": NEW_REFRESH, "expires_in": 3600}


# ------------------------------------------------------------ failures through aioresponses

Scenario = Callable[[aioresponses], Awaitable[object]]


async def connection_error(mocked: aioresponses) -> object:
    mocked.get(ME, exception=aiohttp.ClientConnectionError("reset"), repeat=True)
    async with client() as awork:
        return await awork.me()


async def connect_refused(mocked: aioresponses) -> object:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 443, True, None, None, None, None),
        OSError(111, "refused"),
    )
    mocked.get(ME, exception=refused, repeat=True)
    async with client() as awork:
        return await awork.me()


async def read_timeout(mocked: aioresponses) -> object:
    mocked.get(ME, exception=aiohttp.ServerTimeoutError("read"), repeat=True)
    async with client() as awork:
        return await awork.me()


async def unauthorized(mocked: aioresponses) -> object:
    mocked.get(ME, status=401, payload=echo(TOKEN), headers=ECHO_HEADERS, repeat=True)
    async with client() as awork:
        return await awork.me()


async def unauthorized_after_a_refresh(mocked: aioresponses) -> object:
    mocked.get(ME, status=401, payload=echo(TOKEN), headers=ECHO_HEADERS)
    mocked.post(TOKEN_URL, payload=REFRESHED)
    mocked.get(ME, status=401, payload=echo(NEW_TOKEN), headers={"X-Echo": NEW_TOKEN})
    async with client(auth=oauth()) as awork:
        return await awork.me()


async def unauthorized_and_the_refresh_fails(mocked: aioresponses) -> object:
    mocked.get(ME, status=401, payload=echo(TOKEN), repeat=True)
    mocked.post(TOKEN_URL, status=400, payload=echo(REFRESH, CLIENT_SECRET, BASIC, TOKEN))
    async with client(auth=oauth()) as awork:
        return await awork.me()


async def early_refresh_refused(mocked: aioresponses) -> object:
    mocked.post(TOKEN_URL, status=400, payload=echo(REFRESH, CLIENT_SECRET, BASIC, TOKEN))
    async with client(auth=oauth(expired=True)) as awork:
        return await awork.me()


async def early_refresh_lost(mocked: aioresponses) -> object:
    mocked.post(TOKEN_URL, exception=aiohttp.ClientConnectionError("reset"))
    async with client(auth=oauth(expired=True)) as awork:
        return await awork.me()


async def early_refresh_not_json(mocked: aioresponses) -> object:
    mocked.post(TOKEN_URL, body=f"<html>{REFRESH} {BASIC} {CLIENT_SECRET}</html>")
    async with client(auth=oauth(expired=True)) as awork:
        return await awork.me()


async def refresh_without_a_client(mocked: aioresponses) -> object:
    mocked.post(TOKEN_URL, status=401, payload=echo(REFRESH, CLIENT_SECRET, BASIC, TOKEN))
    return await oauth().refresh()


async def refresh_answer_without_a_token(mocked: aioresponses) -> object:
    mocked.post(TOKEN_URL, payload={"refresh_token": NEW_REFRESH, "error": TOKEN})
    async with client(auth=oauth(expired=True)) as awork:
        return await awork.me()


async def forbidden_echo(mocked: aioresponses) -> object:
    mocked.get(ME, status=403, payload=echo(TOKEN), headers=ECHO_HEADERS)
    async with client() as awork:
        return await awork.me()


async def server_error_echo(mocked: aioresponses) -> object:
    mocked.get(ME, status=500, payload=echo(TOKEN), headers=ECHO_HEADERS, repeat=True)
    async with client() as awork:
        return await awork.me()


async def oauth_client_gets_an_echo(mocked: aioresponses) -> object:
    mocked.get(ME, status=400, payload=echo(TOKEN, REFRESH, CLIENT_SECRET), headers=ECHO_HEADERS)
    async with client(auth=oauth()) as awork:
        return await awork.me()


async def success_not_json(mocked: aioresponses) -> object:
    mocked.get(ME, body=f"<html>Authorization: Bearer {TOKEN}</html>", repeat=True)
    async with client() as awork:
        return await awork.me()


async def success_wrong_shape(mocked: aioresponses) -> object:
    mocked.get(ME, payload={"user": {"id": f"Bearer {TOKEN}"}, "workspace": TOKEN}, repeat=True)
    async with client() as awork:
        return await awork.me()


async def redirect(mocked: aioresponses) -> object:
    mocked.get(  # inline: a local of this (test) frame would show the token too
        ME,
        status=302,
        headers={"Location": f"https://evil.example.com/steal?token={TOKEN}", "X-Echo": TOKEN},
    )
    async with client() as awork:
        return await awork.me()


async def webhook_create_refused(mocked: aioresponses) -> object:
    mocked.post(
        f"{BASE}/webhooks",
        status=400,
        payload=echo(HOOK_SECRET, TOKEN),
        headers=ECHO_HEADERS,
    )
    async with client() as awork:
        return await awork.webhooks.create(WEBHOOK_FORM)


async def webhook_create_refused_with_raw_response(mocked: aioresponses) -> object:
    mocked.post(f"{BASE}/webhooks", status=422, payload=echo(HOOK_SECRET, TOKEN))
    async with client() as awork:
        return await awork.with_raw_response.webhooks.create(WEBHOOK_FORM)


async def webhook_update_lost(mocked: aioresponses) -> object:
    mocked.put(
        re.compile(r".*/webhooks/.*"),
        exception=aiohttp.ClientConnectionError("reset"),
        repeat=True,
    )
    async with client() as awork:
        return await awork.webhooks.update("2b0b2ef6-0c9b-4c8e-9d43-2f8a0d9b4c11", WEBHOOK_FORM)


async def webhook_create_lost(mocked: aioresponses) -> object:
    mocked.post(f"{BASE}/webhooks", exception=aiohttp.ServerDisconnectedError())
    async with client() as awork:
        return await awork.webhooks.create(WEBHOOK_FORM)


MOCKED: dict[str, tuple[Scenario, type[BaseException]]] = {
    "connection error": (connection_error, APIConnectionError),
    "connect refused": (connect_refused, APIConnectionError),
    "read timeout": (read_timeout, APITimeoutError),
    "401": (unauthorized, AuthenticationError),
    "401 after a refresh": (unauthorized_after_a_refresh, AuthenticationError),
    "401 and the refresh fails": (unauthorized_and_the_refresh_fails, AuthenticationError),
    "early refresh refused": (early_refresh_refused, AuthenticationError),
    "early refresh lost": (early_refresh_lost, AuthenticationError),
    "early refresh not JSON": (early_refresh_not_json, AuthenticationError),
    "refresh without a client": (refresh_without_a_client, AuthenticationError),
    "refresh answer without a token": (refresh_answer_without_a_token, AuthenticationError),
    "403 echo": (forbidden_echo, APIStatusError),
    "500 echo": (server_error_echo, APIStatusError),
    "OAuth client, 400 echo": (oauth_client_gets_an_echo, APIStatusError),
    "2xx not JSON": (success_not_json, APIResponseValidationError),
    "redirect": (redirect, UnexpectedRedirectError),
    "webhook create refused": (webhook_create_refused, APIStatusError),
    "webhook create refused, raw response": (
        webhook_create_refused_with_raw_response,
        APIStatusError,
    ),
    "webhook update lost": (webhook_update_lost, APIConnectionError),
    "webhook create lost": (webhook_create_lost, OutcomeUnknownError),
}


@pytest.mark.parametrize("name", MOCKED)
async def test_no_secret_in_the_locals_of_a_failed_call(name: str) -> None:
    scenario, expected = MOCKED[name]
    with aioresponses() as mocked, pytest.raises(expected) as info:
        await scenario(mocked)
    assert_no_leak(info.value)


@pytest.mark.xfail(
    strict=True,
    reason="a 2xx answer is the caller's data, never scrubbed: the frames decoding it "
    "(resources, pages, exports) hold it, and a hostile 2xx body may quote the token",
)
async def test_a_2xx_body_quoting_the_token_stays_in_the_decoding_frames() -> None:
    with aioresponses() as mocked, pytest.raises(APIResponseValidationError) as info:
        await success_wrong_shape(mocked)
    assert_no_leak(info.value)


# ------------------------------------------------------ failures that need real framing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Starts a loopback server answering every path with the handler; gives its base URL."""
    servers: list[TestServer] = []
    release = asyncio.Event()  # lets stalled handlers finish at teardown

    async def start(handler: Handler) -> str:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            finally:
                await release.wait()

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/api/v1"))

    yield start
    release.set()
    for server in servers:
        await server.close()


async def _echo_start(request: web.Request) -> web.StreamResponse:
    """Starts a chunked 200 answer whose first bytes quote the request's Authorization."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(f'["{request.headers.get("Authorization")}'.encode() + b" " * 4096)
    return response


async def test_no_secret_in_the_locals_when_the_body_exceeds_the_cap(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def oversized(request: web.Request) -> web.StreamResponse:
        response = await _echo_start(request)
        await response.write(b" " * 8192)
        return response

    base_url = await serve(oversized)
    async with client(base_url, max_response_bytes=2048) as awork:
        with pytest.raises(ResponseTooLargeError) as info:
            await awork.me()
    assert_no_leak(info.value)


async def test_no_secret_in_the_locals_when_the_body_stalls(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base_url = await serve(_echo_start)  # then stalls until teardown
    timeouts = Timeouts(connect=5, read=None, total=30, body=0.05)
    async with client(base_url, timeout=timeouts) as awork:
        with pytest.raises(APITimeoutError, match="not complete") as info:
            await awork.me()
    assert_no_leak(info.value)


async def test_no_secret_in_the_locals_when_the_deadline_passes(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def silent(request: web.Request) -> web.StreamResponse:
        return web.Response()  # sent only after the teardown's release

    base_url = await serve(silent)
    async with client(base_url, timeout=Timeouts(connect=5, read=5, total=0.05)) as awork:
        with pytest.raises(APITimeoutError, match="deadline") as info:
            await awork.me()
    assert_no_leak(info.value)


async def test_no_secret_in_the_locals_when_the_caller_gives_up_in_flight(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """The caller's own cancellation (``asyncio.timeout``, a task cancelled) passes through
    aiohttp's frames, which hold the request headers while the request is in flight."""
    arrived = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        arrived.set()
        return web.Response()  # sent only after the teardown's release

    base_url = await serve(silent)
    async with client(base_url, auth=oauth()) as awork:
        task = asyncio.ensure_future(awork.webhooks.create(WEBHOOK_FORM))
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert_no_leak(info.value)


async def test_no_secret_in_the_locals_when_a_refresh_in_flight_is_cancelled(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """The refresh runs in a task of its own: cancelled (at shutdown, say) while its request is
    in flight, the frames holding the refresh form and the Basic header forget them."""
    arrived = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        arrived.set()
        return web.Response()  # sent only after the teardown's release

    base_url = await serve(silent)
    auth = OAuth2Provider(
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH),
        client_id="client-1",
        client_secret=CLIENT_SECRET,
        token_url=f"{base_url}/token",
    )
    caller = asyncio.ensure_future(auth.refresh())
    await arrived.wait()
    refresh = auth._inflight
    assert refresh is not None
    refresh.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await refresh  # its error's context went through the refresh's frames
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert_no_leak(info.value)


def test_pretty_printers_reading_attrs_fields_see_no_secret() -> None:
    """rich shows an attrs object by its fields, not by its ``__repr__``."""
    from awork_async.cli._settings import ConfigFile, Settings

    shown = [
        OAuth2Token(access_token=TOKEN, refresh_token=REFRESH),
        WEBHOOK_FORM,
        ConfigFile(token=TOKEN),
        Settings(token=TOKEN, base_url=f"https://u:{CLIENT_SECRET}@api.example.com/api/v1"),
    ]
    for value in shown:
        text = pretty_repr(value)
        assert type(value).__name__ in text
        assert not [what for what, secret in SECRETS.items() if secret in text], text


def test_the_check_finds_a_secret_in_a_frame() -> None:
    """The check itself: a local holding the token on the traceback is found."""

    def fails(headers: Mapping[str, str]) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as info:
        fails({"Authorization": f"Bearer {TOKEN}"})
    assert "the token in the traceback output" in leaks(info.value)
    assert "the token in the rich output" in leaks(info.value)
    assert any("fails's 'headers'" in where for where in leaks(info.value))
