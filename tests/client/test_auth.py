"""Auth providers: API key, OAuth token sets and single-flight refresh with rotation."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from _helpers import FakeClock
from aiohttp import web
from aiohttp.test_utils import TestServer as LocalServer

from awork_async._auth import (
    AuthProvider,
    OAuth2Provider,
    OAuth2Token,
    StaticToken,
    aiohttp_token_requester,
)
from awork_async._exceptions import AuthenticationError

ACCESS = "acc-SECRET-0"
REFRESH = "ref-SECRET-0"
CLIENT_SECRET = "cs-SECRET"
TOKEN_URL = "https://api.awork.com/api/v1/accounts/token"


class FakeTokenEndpoint:
    """Issues rotating tokens; only the latest refresh token is accepted (like awork)."""

    def __init__(self, *, expires_in: float = 3600.0) -> None:
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.valid_refresh = REFRESH
        self.expires_in = expires_in
        self.started = asyncio.Event()
        self.release: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def __call__(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Mapping[str, object]:
        self.calls.append((url, dict(form), dict(headers)))
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        if form.get("refresh_token") != self.valid_refresh:
            raise AuthenticationError(status=400, code="invalid_grant", description="reused")
        n = len(self.calls)
        self.valid_refresh = f"ref-SECRET-{n}"
        return {
            "access_token": f"acc-SECRET-{n}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.valid_refresh,
            "resource": "awork.com",
        }


def provider(
    endpoint: FakeTokenEndpoint,
    *,
    clock: FakeClock | None = None,
    expires_at: float = 5_000.0,
    **kwargs: object,
) -> OAuth2Provider:
    token = OAuth2Token(access_token=ACCESS, refresh_token=REFRESH, expires_at=expires_at)
    return OAuth2Provider(
        token,
        client_id="my-client",
        request=endpoint,
        clock=clock or FakeClock(1_000.0),
        **kwargs,  # type: ignore[arg-type]
    )


def assert_no_secret(text: str) -> None:
    for secret in ("SECRET",):
        assert secret not in text, text


# -- StaticToken -----------------------------------------------------------------------------


async def test_static_token() -> None:
    auth = StaticToken("api-SECRET-key")
    assert await auth.token() == "api-SECRET-key"
    assert await auth.on_unauthorized("api-SECRET-key") is False
    assert repr(auth) == "StaticToken(***)"
    assert_no_secret(str(auth))
    assert isinstance(auth, AuthProvider)


@pytest.mark.parametrize("bad", ["", "   ", "abc\r\nX-Evil: 1"])
def test_static_token_rejects_unusable_values(bad: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011
        StaticToken(bad)
    assert "X-Evil" not in str(info.value)


# -- OAuth2Token -----------------------------------------------------------------------------


def test_oauth_token_repr_hides_tokens() -> None:
    token = OAuth2Token(access_token=ACCESS, refresh_token=REFRESH, expires_at=10.0)
    assert_no_secret(repr(token))
    assert_no_secret(str(token))
    assert "expires_at=10.0" in repr(token)
    assert "refresh_token=None" in repr(OAuth2Token(access_token=ACCESS))


def test_oauth_token_accepts_aware_datetime() -> None:
    when = datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    token = OAuth2Token(access_token=ACCESS, expires_at=when)
    assert token.expires_at == when.timestamp()
    assert token.expires_at_datetime == when


def test_oauth_token_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OAuth2Token(access_token=ACCESS, expires_at=datetime(2030, 1, 1))


def test_from_response_relative_expiry() -> None:
    data = {"access_token": "a", "refresh_token": "r", "expires_in": 86400, "token_type": "Bearer"}
    token = OAuth2Token.from_response(data, now=100.0)
    assert token == OAuth2Token(access_token="a", refresh_token="r", expires_at=86500.0)


def test_from_response_epoch_like_expiry() -> None:
    token = OAuth2Token.from_response({"access_token": "a", "expires_in": 1647274587}, now=5.0)
    assert token.expires_at == 1647274587.0


def test_from_response_keeps_previous_refresh_token() -> None:
    previous = OAuth2Token(access_token="old", refresh_token="keep")
    token = OAuth2Token.from_response({"access_token": "new"}, now=0.0, previous=previous)
    assert token.refresh_token == "keep"
    assert token.expires_at is None


def test_from_response_without_access_token() -> None:
    with pytest.raises(ValueError, match="no access_token") as info:
        OAuth2Token.from_response({"refresh_token": REFRESH}, now=0.0)
    assert_no_secret(str(info.value))


# -- OAuth2Provider ----------------------------------------------------------------------------


async def test_valid_token_is_used_without_refresh() -> None:
    endpoint = FakeTokenEndpoint()
    auth = provider(endpoint, clock=FakeClock(4_000.0), expires_at=5_000.0)
    assert await auth.token() == ACCESS
    assert endpoint.calls == []


async def test_refresh_before_expiry_within_the_margin() -> None:
    endpoint = FakeTokenEndpoint(expires_in=3600)
    clock = FakeClock(4_939.0)
    auth = provider(endpoint, clock=clock, expires_at=5_000.0, refresh_margin=60)
    assert await auth.token() == ACCESS  # 61 s left: not yet
    clock.now = 4_941.0  # 59 s left: refresh
    assert await auth.token() == "acc-SECRET-1"
    assert len(endpoint.calls) == 1
    url, form, headers = endpoint.calls[0]
    assert url == TOKEN_URL
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "my-client",
    }
    assert "Authorization" not in headers
    assert auth.current.expires_at == 4_941.0 + 3600
    assert await auth.token() == "acc-SECRET-1"
    assert len(endpoint.calls) == 1


async def test_confidential_client_uses_basic_auth() -> None:
    endpoint = FakeTokenEndpoint()
    auth = provider(endpoint, client_secret=CLIENT_SECRET)
    await auth.refresh()
    _, form, headers = endpoint.calls[0]
    assert "client_id" not in form
    expected = base64.b64encode(f"my-client:{CLIENT_SECRET}".encode()).decode()
    assert headers["Authorization"] == f"Basic {expected}"


async def test_concurrent_401s_share_one_refresh() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.release = asyncio.Event()
    auth = provider(endpoint)
    tasks = [asyncio.create_task(auth.on_unauthorized(ACCESS)) for _ in range(20)]
    await endpoint.started.wait()
    endpoint.release.set()
    assert await asyncio.gather(*tasks) == [True] * 20
    assert len(endpoint.calls) == 1
    assert await auth.token() == "acc-SECRET-1"
    # A late caller that still holds the old token does not refresh again.
    assert await auth.on_unauthorized(ACCESS) is True
    assert len(endpoint.calls) == 1


async def test_concurrent_expired_callers_share_one_refresh() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.release = asyncio.Event()
    auth = provider(endpoint, clock=FakeClock(6_000.0), expires_at=5_000.0)
    tasks = [asyncio.create_task(auth.token()) for _ in range(20)]
    await endpoint.started.wait()
    endpoint.release.set()
    assert set(await asyncio.gather(*tasks)) == {"acc-SECRET-1"}
    assert len(endpoint.calls) == 1


async def test_rotated_refresh_token_chains_and_reaches_the_hook() -> None:
    endpoint = FakeTokenEndpoint()
    saved: list[OAuth2Token] = []

    async def save(token: OAuth2Token) -> None:
        await asyncio.sleep(0)
        saved.append(token)

    auth = provider(endpoint, on_token_refreshed=save)
    assert await auth.on_unauthorized(ACCESS) is True
    assert await auth.on_unauthorized("acc-SECRET-1") is True
    assert [form["refresh_token"] for _, form, _ in endpoint.calls] == [REFRESH, "ref-SECRET-1"]
    assert [t.refresh_token for t in saved] == ["ref-SECRET-1", "ref-SECRET-2"]
    assert saved[-1] == auth.current


async def test_sync_hook_is_supported() -> None:
    saved: list[OAuth2Token] = []
    auth = provider(FakeTokenEndpoint(), on_token_refreshed=saved.append)
    new = await auth.refresh()
    assert saved == [new]


async def test_failing_hook_is_logged_and_the_token_kept(caplog: pytest.LogCaptureFixture) -> None:
    def broken(token: OAuth2Token) -> None:
        raise OSError("disk full")

    auth = provider(FakeTokenEndpoint(), on_token_refreshed=broken)
    with caplog.at_level(logging.ERROR, logger="awork_async"):
        assert await auth.on_unauthorized(ACCESS) is True
    assert await auth.token() == "acc-SECRET-1"
    assert "on_token_refreshed failed" in caplog.text


async def test_no_refresh_token_means_no_retry() -> None:
    endpoint = FakeTokenEndpoint()
    auth = OAuth2Provider(
        OAuth2Token(access_token=ACCESS, expires_at=0.0),
        client_id="c",
        request=endpoint,
        clock=FakeClock(1_000.0),
    )
    assert await auth.token() == ACCESS  # expired, but nothing to refresh with
    assert await auth.on_unauthorized(ACCESS) is False
    assert endpoint.calls == []


async def test_refresh_rejected_raises_without_secrets() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.fail_with = AuthenticationError(
        status=400,
        code="invalid_grant",
        description=f"refresh token {REFRESH} expired (client secret {CLIENT_SECRET})",
    )
    auth = provider(endpoint, client_secret=CLIENT_SECRET)
    with pytest.raises(AuthenticationError) as info:
        await auth.on_unauthorized(ACCESS)
    assert info.value.status == 400
    assert info.value.code == "invalid_grant"
    assert "expired" in str(info.value)
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value))
    assert_no_secret(repr(auth))
    assert auth.current.access_token == ACCESS  # unchanged: the caller must re-authenticate


async def test_transport_failure_during_refresh_is_an_authentication_error() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.fail_with = aiohttp.ClientConnectionError(f"boom {REFRESH}")
    auth = provider(endpoint)
    with pytest.raises(AuthenticationError) as info:
        await auth.refresh()
    assert "ClientConnectionError" in str(info.value)
    assert_no_secret(str(info.value))
    # Nothing was consumed: a later attempt refreshes normally.
    endpoint.fail_with = None
    assert (await auth.refresh()).access_token == "acc-SECRET-2"


async def test_answer_without_access_token_is_an_authentication_error() -> None:
    async def empty(
        url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Mapping[str, object]:
        return {"refresh_token": "ref-SECRET-9"}

    auth = OAuth2Provider(
        OAuth2Token(access_token=ACCESS, refresh_token=REFRESH), client_id="c", request=empty
    )
    with pytest.raises(AuthenticationError, match="no access_token") as info:
        await auth.refresh()
    assert_no_secret(str(info.value))


async def test_early_refresh_failure_keeps_the_still_valid_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.fail_with = AuthenticationError(status=503, description="down")
    clock = FakeClock(4_970.0)
    auth = provider(endpoint, clock=clock, expires_at=5_000.0)
    with caplog.at_level(logging.WARNING, logger="awork_async"):
        assert await auth.token() == ACCESS
    assert "early OAuth token refresh failed" in caplog.text
    assert_no_secret(caplog.text)
    clock.now = 5_001.0  # now really expired: the failure surfaces
    with pytest.raises(AuthenticationError):
        await auth.token()


async def test_cancelled_caller_does_not_abort_the_refresh() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.release = asyncio.Event()
    auth = provider(endpoint)
    first = asyncio.create_task(auth.on_unauthorized(ACCESS))
    await endpoint.started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(auth.on_unauthorized(ACCESS))
    endpoint.release.set()
    assert await second is True
    assert len(endpoint.calls) == 1
    assert auth.current.refresh_token == "ref-SECRET-1"


def test_provider_validates_arguments() -> None:
    token = OAuth2Token(access_token=ACCESS)
    with pytest.raises(ValueError, match="client_id"):
        OAuth2Provider(token, client_id="")
    with pytest.raises(ValueError, match="refresh_margin"):
        OAuth2Provider(token, client_id="c", refresh_margin=-1)


def test_provider_repr_hides_secrets() -> None:
    auth = provider(FakeTokenEndpoint(), client_secret=CLIENT_SECRET)
    assert repr(auth) == f"OAuth2Provider(client_id='my-client', token_url='{TOKEN_URL}')"
    assert_no_secret(str(auth))
    assert_no_secret(repr(auth.current))


# -- the default aiohttp requester against a local token endpoint -------------------------------


class LocalTokenEndpoint:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], str | None, str | None]] = []
        self.reply: tuple[int, object] = (
            200,
            {
                "access_token": "acc-SECRET-srv",
                "token_type": "Bearer",
                "expires_in": 86400,
                "refresh_token": "ref-SECRET-srv",
            },
        )

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(
            (
                {k: str(v) for k, v in form.items()},
                request.headers.get("Authorization"),
                request.content_type,
            )
        )
        status, body = self.reply
        return web.json_response(body, status=status)


@pytest.fixture
async def token_server() -> AsyncIterator[tuple[LocalServer, LocalTokenEndpoint]]:
    endpoint = LocalTokenEndpoint()
    app = web.Application()
    app.router.add_post("/api/v1/accounts/token", endpoint.handle)
    server = LocalServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, endpoint
    finally:
        await server.close()


async def test_default_requester_posts_a_form_with_basic_auth(
    token_server: tuple[LocalServer, LocalTokenEndpoint],
) -> None:
    server, endpoint = token_server
    url = str(server.make_url("/api/v1/accounts/token"))
    async with aiohttp.ClientSession() as session:
        auth = OAuth2Provider(
            OAuth2Token(access_token=ACCESS, refresh_token=REFRESH),
            client_id="my-client",
            client_secret=CLIENT_SECRET,
            token_url=url,
            session=session,
            clock=FakeClock(100.0),
        )
        new = await auth.refresh()
    assert new == OAuth2Token(
        access_token="acc-SECRET-srv", refresh_token="ref-SECRET-srv", expires_at=86500.0
    )
    form, authorization, content_type = endpoint.requests[0]
    assert form == {"grant_type": "refresh_token", "refresh_token": REFRESH}
    assert content_type == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"my-client:{CLIENT_SECRET}".encode()).decode()
    assert authorization == f"Basic {expected}"


async def test_default_one_shot_session_for_a_public_client(
    token_server: tuple[LocalServer, LocalTokenEndpoint],
) -> None:
    server, endpoint = token_server
    auth = OAuth2Provider(
        OAuth2Token(access_token=ACCESS, refresh_token=REFRESH),
        client_id="public-app",
        token_url=str(server.make_url("/api/v1/accounts/token")),
    )
    assert await auth.on_unauthorized(ACCESS) is True
    assert await auth.token() == "acc-SECRET-srv"
    form, authorization, _ = endpoint.requests[0]
    assert form["client_id"] == "public-app"
    assert authorization is None


async def test_default_requester_maps_error_answers(
    token_server: tuple[LocalServer, LocalTokenEndpoint],
) -> None:
    server, endpoint = token_server
    endpoint.reply = (
        400,
        {"error": "invalid_grant", "error_description": f"token {REFRESH} was already used"},
    )
    url = str(server.make_url("/api/v1/accounts/token"))
    async with aiohttp.ClientSession() as session:
        request = aiohttp_token_requester(session)
        with pytest.raises(AuthenticationError) as info:
            await request(url, {"grant_type": "refresh_token", "refresh_token": REFRESH}, {})
    assert info.value.status == 400
    assert info.value.code == "invalid_grant"
    assert "already used" in str(info.value)
    assert_no_secret(str(info.value))


async def test_default_requester_rejects_a_non_object_body(
    token_server: tuple[LocalServer, LocalTokenEndpoint],
) -> None:
    server, endpoint = token_server
    endpoint.reply = (200, ["not", "an", "object"])
    url = str(server.make_url("/api/v1/accounts/token"))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(AuthenticationError, match="not a JSON object"):
            await aiohttp_token_requester(session)(url, {}, {})
