"""The one request path: a 401 refresh is a retry reason of the one loop; errors left as raised."""

from __future__ import annotations

from typing import Any

import pytest
from _helpers import BASE, FakeSleep, no_sleep
from aioresponses import aioresponses

from awork_async import (
    AuthenticationError,
    AworkClient,
    Hooks,
    NoRateLimiter,
    OAuth2Provider,
    OAuth2Token,
    RateLimitError,
    RetryPolicy,
    ServerError,
    capture_responses,
)
from awork_async._exceptions import make_status_error
from awork_async._hooks import RequestEvent, RetryEvent

URL = f"{BASE}/me"


class RotatingAuth:
    """Hands out t1, then t2 after each 401 it is told about (``refreshes`` False: never)."""

    def __init__(self, *, refreshes: bool = True) -> None:
        self.current = 1
        self.failed: list[str] = []
        self.refreshes = refreshes

    async def token(self) -> str:
        return f"t{self.current}"

    async def on_unauthorized(self, failed_token: str) -> bool:
        self.failed.append(failed_token)
        if self.refreshes:
            self.current += 1
        return self.refreshes


def _client(auth: RotatingAuth, **kwargs: Any) -> AworkClient:
    return AworkClient(
        base_url=BASE, auth=auth, rate_limiter=NoRateLimiter(), sleep=no_sleep, **kwargs
    )


def _tokens(m: aioresponses) -> list[str]:
    return [
        str(call.kwargs["headers"]["Authorization"])
        for calls in m.requests.values()
        for call in calls
    ]


async def test_401_refresh_is_a_retry_reason_not_counted_as_an_attempt() -> None:
    auth = RotatingAuth()
    events: list[RetryEvent] = []
    hooks = Hooks(on_retry=[events.append])
    with aioresponses() as m:
        m.get(URL, status=401, payload={})
        m.get(URL, status=200, payload={"ok": 1})
        client = _client(auth, retry=RetryPolicy(max_attempts=1), hooks=hooks)
        async with client, capture_responses() as responses:
            answer = await client._transport.request("GET", "/me")
        assert _tokens(m) == ["Bearer t1", "Bearer t2"]
    assert answer.parsed == {"ok": 1}
    assert auth.failed == ["t1"]
    assert [(r.status, r.attempt) for r in responses] == [(401, 1), (200, 2)]
    assert answer.responses == tuple(responses)  # the call's one record holds every answer
    assert answer.raw is responses[-1]
    assert events == []  # a refresh is not a retry of the policy's


async def test_a_failed_calls_answers_are_captured_once_in_call_order() -> None:
    """A capture block gets each call's answers when the call ends, failed calls included."""
    with aioresponses() as m:
        m.get(URL, status=503, payload={})
        m.get(URL, status=502, payload={})
        m.get(f"{BASE}/other", status=200, payload=[])
        client = _client(RotatingAuth(), retry=RetryPolicy(max_attempts=2, jitter=0))
        async with client, capture_responses() as outer:
            async with capture_responses() as inner:
                with pytest.raises(ServerError):
                    await client._transport.request("GET", "/me")
            other = await client._transport.request("GET", "/other")
    assert [(r.status, r.attempt) for r in inner] == [(503, 1), (502, 2)]
    assert outer == [*inner, *other.responses]


async def test_one_refresh_per_call() -> None:
    auth = RotatingAuth()
    with aioresponses() as m:
        m.get(URL, status=401, payload={}, repeat=True)
        async with _client(auth) as client:
            with pytest.raises(AuthenticationError):
                await client._transport.request("GET", "/me")
        assert _tokens(m) == ["Bearer t1", "Bearer t2"]
    assert auth.failed == ["t1"]


async def test_no_refresh_means_the_401_is_raised() -> None:
    auth = RotatingAuth(refreshes=False)
    with aioresponses() as m:
        m.get(URL, status=401, payload={}, repeat=True)
        async with _client(auth) as client:
            with pytest.raises(AuthenticationError):
                await client._transport.request("GET", "/me")
        assert _tokens(m) == ["Bearer t1"]


async def test_refresh_between_retries_leaves_the_policy_its_attempts() -> None:
    auth = RotatingAuth()
    events: list[RetryEvent] = []
    with aioresponses() as m:
        m.get(URL, status=503, payload={})
        m.get(URL, status=401, payload={})
        m.get(URL, status=200, payload={"ok": 2})
        async with _client(
            auth, retry=RetryPolicy(max_attempts=2, jitter=0), hooks=Hooks(on_retry=[events.append])
        ) as client:
            answer = await client._transport.request("GET", "/me")
    assert answer.parsed == {"ok": 2}
    assert [(e.attempt, e.reason) for e in events] == [(1, "503")]


async def test_giving_up_on_a_429_keeps_the_exceptions_args() -> None:
    error = make_status_error(429, {}, b"", method="GET", url=URL)
    assert isinstance(error, RateLimitError)
    args = error.args

    async def attempt() -> str:
        raise error

    with pytest.raises(RateLimitError) as info:
        await RetryPolicy(max_attempts=2, backoff_initial=3, jitter=0).call(
            attempt, method="GET", url=URL, sleep=FakeSleep()
        )
    assert info.value is error
    assert error.args == args  # not rewritten
    assert error.retry_after == 6.0
    assert "retry after 6s" in str(error)


# -- OAuth refresh on the same request path ------------------------------------------------------

TOKEN_URL = f"{BASE}/accounts/token"


def _oauth(rotated: list[OAuth2Token]) -> OAuth2Provider:
    return OAuth2Provider(
        OAuth2Token(access_token="acc-SECRET-0", refresh_token="ref-SECRET-0"),
        client_id="app",
        token_url=TOKEN_URL,
        on_token_refreshed=rotated.append,
    )


async def test_refresh_goes_through_the_clients_request_path() -> None:
    rotated: list[OAuth2Token] = []
    seen: list[RequestEvent] = []
    fresh = {"access_token": "acc-SECRET-1", "refresh_token": "ref-SECRET-1", "expires_in": 9e4}
    with aioresponses() as m:
        m.get(URL, status=401, payload={})
        m.post(TOKEN_URL, status=429, headers={"Retry-After": "0"}, payload={})  # retried
        m.post(TOKEN_URL, status=200, payload=fresh)
        m.get(URL, status=200, payload={"ok": 3})
        client = AworkClient(
            base_url=BASE,
            auth=_oauth(rotated),
            rate_limiter=NoRateLimiter(),
            sleep=no_sleep,
            hooks=Hooks(on_request=[seen.append]),
        )
        async with client:
            answer = await client._transport.request("GET", "/me")
        sent = [(k[0], str(k[1]), c.kwargs["headers"]) for k, v in m.requests.items() for c in v]
    assert answer.parsed == {"ok": 3}
    assert [r.access_token for r in rotated] == ["acc-SECRET-1"]
    assert [(e.method, e.url) for e in seen] == [
        ("GET", URL),
        ("POST", TOKEN_URL),
        ("POST", TOKEN_URL),
        ("GET", URL),
    ]
    token_headers = [h for method, _, h in sent if method == "POST"]
    assert all("Authorization" not in h for h in token_headers)  # no bearer to the endpoint
    assert all(h["Content-Type"] == "application/x-www-form-urlencoded" for h in token_headers)
    gets = [h["Authorization"] for method, _, h in sent if method == "GET"]
    assert gets == ["Bearer acc-SECRET-0", "Bearer acc-SECRET-1"]


async def test_refresh_answers_obey_the_body_cap_and_stay_secret() -> None:
    rotated: list[OAuth2Token] = []
    big = {"access_token": "x" * 500, "error": "ref-SECRET-0"}
    with aioresponses() as m:
        m.get(URL, status=401, payload={})
        m.post(TOKEN_URL, status=200, payload=big)
        client = AworkClient(
            base_url=BASE,
            auth=_oauth(rotated),
            rate_limiter=NoRateLimiter(),
            sleep=no_sleep,
            max_response_bytes=100,
        )
        async with client:
            with pytest.raises(AuthenticationError, match="ResponseTooLargeError") as info:
                await client._transport.request("GET", "/me")
    assert "SECRET" not in str(info.value)
    assert rotated == []


async def test_refused_refresh_names_the_oauth_error_without_secrets() -> None:
    with aioresponses() as m:
        m.get(URL, status=401, payload={})
        m.post(
            TOKEN_URL,
            status=400,
            payload={"error": "invalid_grant", "error_description": "ref-SECRET-0 was used"},
        )
        client = AworkClient(
            base_url=BASE, auth=_oauth([]), rate_limiter=NoRateLimiter(), sleep=no_sleep
        )
        async with client:
            with pytest.raises(AuthenticationError) as info:
                await client._transport.request("GET", "/me")
    assert info.value.status == 400
    assert info.value.code == "invalid_grant"
    assert "was used" in str(info.value)
    assert "SECRET" not in str(info.value)
