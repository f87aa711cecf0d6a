"""AworkClient lifecycle, the request path, error mapping, retries and secrecy of the token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import traceback

import aiohttp
import pytest
from _helpers import BASE, ENTRY, ENTRY_ID, TOKEN, FakeSleep
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from awork_async import (
    APIConnectionError,
    APIResponseValidationError,
    AuthenticationError,
    AworkClient,
    ClientClosedError,
    LocalRateLimiter,
    NoRateLimiter,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RateLimits,
    RetryPolicy,
    ServerError,
    ValidationFailedError,
    __version__,
    capture_responses,
)


def _requests(m: aioresponses) -> list[tuple[str, URL, dict[str, object]]]:
    return [(k[0], k[1], call.kwargs) for k, calls in m.requests.items() for call in calls]


# -- construction --------------------------------------------------------------------------


def test_requires_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWORK_TOKEN", raising=False)
    with pytest.raises(ValueError, match="AWORK_TOKEN"):
        AworkClient()


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWORK_TOKEN", TOKEN)
    monkeypatch.delenv("AWORK_BASE_URL", raising=False)
    assert AworkClient().base_url == "https://api.awork.com/api/v1"


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWORK_BASE_URL", "http://127.0.0.1:8123/api/v1")
    assert AworkClient(token=TOKEN).base_url == "http://127.0.0.1:8123/api/v1"
    # an explicit argument wins over the environment
    assert AworkClient(token=TOKEN, base_url=BASE).base_url == BASE


def test_base_url_from_environment_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWORK_BASE_URL", "http://api.awork.com/api/v1")
    with pytest.raises(ValueError, match="https"):
        AworkClient(token=TOKEN)


async def test_rate_limits_are_shorthand_for_a_local_limiter() -> None:
    async with AworkClient(token=TOKEN, rate_limiter=RateLimits.ENTERPRISE) as client:
        limiter = client.rate_limiter
        assert isinstance(limiter, LocalRateLimiter)
        assert limiter.limits == RateLimits.ENTERPRISE
        await limiter.acquire()  # a working limiter, not a RateLimits value


@pytest.mark.parametrize("value", [object(), "enterprise", 3000, LocalRateLimiter])
def test_anything_else_as_rate_limiter_is_refused_at_construction(value: object) -> None:
    with pytest.raises(TypeError, match="rate_limiter must be"):
        AworkClient(token=TOKEN, rate_limiter=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://api.awork.com/api/v1", "http://192.168.1.2/api/v1"])
def test_plain_http_refused_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        AworkClient(token=TOKEN, base_url=url)


def test_repr_hides_token() -> None:
    client = AworkClient(token=TOKEN, base_url=BASE)
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client._transport.auth)
    assert TOKEN not in str(vars(client))


# -- lifecycle -----------------------------------------------------------------------------


async def test_owned_session_closed_and_double_close_harmless() -> None:
    client = AworkClient(token=TOKEN, base_url=BASE)
    async with client:
        session = client._transport._session
        assert session is not None and not session.closed
    assert session.closed
    await client.aclose()
    assert client.closed


async def test_use_after_close_raises() -> None:
    client = AworkClient(token=TOKEN, base_url=BASE)
    await client.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        await client.time_entries.get(ENTRY_ID)


async def test_caller_session_never_closed(mocked: aioresponses) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=ENTRY)
    async with aiohttp.ClientSession() as session:
        async with AworkClient(token=TOKEN, base_url=BASE, session=session) as awork:
            await awork.time_entries.get(ENTRY_ID)
        assert not session.closed
        assert awork.closed


# -- the request path ----------------------------------------------------------------------


async def test_headers_auth_and_user_agent(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=ENTRY)
    entry = await mocked_client.time_entries.get(ENTRY_ID)
    assert str(entry.id) == ENTRY_ID
    ((method, _url, kwargs),) = _requests(mocked)
    headers = kwargs["headers"]
    assert isinstance(headers, dict)
    assert method == "GET"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"].startswith(f"awork-async/{__version__} ")
    assert kwargs["allow_redirects"] is False
    timeout = kwargs["timeout"]
    assert isinstance(timeout, aiohttp.ClientTimeout) and timeout.sock_read is not None


async def test_204_is_none(mocked_client: AworkClient, mocked: aioresponses) -> None:
    mocked.delete(f"{BASE}/timeentries/{ENTRY_ID}", status=204)
    assert await mocked_client.time_entries.delete(ENTRY_ID) is None


async def test_invalid_json_success_body(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", body="<html>oops</html>", status=200, repeat=True)
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
        await mocked_client.time_entries.get(ENTRY_ID)
    assert len(fake_sleep.waits) == 4  # retried like a 5xx, then raised


async def test_wrong_shape_success_body(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=[1, 2], repeat=True)
    with pytest.raises(APIResponseValidationError, match="not the JSON object"):
        await mocked_client.time_entries.get(ENTRY_ID)
    assert len(fake_sleep.waits) == 4


async def test_error_mapped_with_details(mocked_client: AworkClient, mocked: aioresponses) -> None:
    mocked.get(
        f"{BASE}/timeentries/{ENTRY_ID}",
        status=404,
        payload={"code": "not-found", "description": "gone", "link": "x", "traceId": "tr-1"},
    )
    with pytest.raises(NotFoundError) as info:
        await mocked_client.time_entries.get(ENTRY_ID)
    err = info.value
    assert (err.status, err.code, err.trace_id, err.method) == (404, "not-found", "tr-1", "GET")
    assert err.url.endswith(f"/timeentries/{ENTRY_ID}")


async def test_validation_error_not_retried(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.put(
        f"{BASE}/timeentries/{ENTRY_ID}",
        status=400,
        payload={
            "code": "validation-failed",
            "description": "bad",
            "link": "x",
            "validationErrors": [{"property": "Timezone", "message": "required"}],
        },
    )
    from awork_async.models import TimeEntryUpdate

    form = TimeEntryUpdate(timezone="Europe/Berlin", type_of_work_id=ENTRY["typeOfWorkId"])
    with pytest.raises(ValidationFailedError) as info:
        await mocked_client.time_entries.update(ENTRY_ID, form)
    assert info.value.validation_errors[0].property == "Timezone"
    assert fake_sleep.waits == []


async def test_get_retried_on_5xx(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    mocked.get(url, status=503, body="busy")
    mocked.get(url, status=502, body="<html>bad gateway</html>")
    mocked.get(url, payload=ENTRY)
    entry = await mocked_client.time_entries.get(ENTRY_ID)
    assert str(entry.id) == ENTRY_ID
    assert len(fake_sleep.waits) == 2


async def test_get_gives_up_after_max_attempts(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    for _ in range(3):
        mocked.get(url, status=500, body="")
    async with AworkClient(
        token=TOKEN,
        base_url=BASE,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(max_attempts=3, random=lambda: 0.0),
        sleep=fake_sleep,
    ) as awork:
        with pytest.raises(ServerError):
            await awork.time_entries.get(ENTRY_ID)
    assert len(fake_sleep.waits) == 2


async def test_get_retried_after_disconnect(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    mocked.get(url, exception=aiohttp.ServerDisconnectedError())
    mocked.get(url, payload=ENTRY)
    assert str((await mocked_client.time_entries.get(ENTRY_ID)).id) == ENTRY_ID
    assert len(fake_sleep.waits) == 1


async def test_post_not_retried_after_disconnect(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.post(
        f"{BASE}/timeentries/{ENTRY_ID}/removebreaks", exception=aiohttp.ServerDisconnectedError()
    )
    with pytest.raises(OutcomeUnknownError, match="may or may not"):
        await mocked_client.time_entries.remove_breaks(ENTRY_ID)
    assert fake_sleep.waits == []
    assert len(_requests(mocked)) == 1


async def test_post_retried_on_connect_failure(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}/removebreaks"
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 443, True, None, None, None, None),
        ConnectionRefusedError(111, "refused"),
    )
    mocked.post(url, exception=refused)
    mocked.post(url, payload=ENTRY)
    assert str((await mocked_client.time_entries.remove_breaks(ENTRY_ID)).id) == ENTRY_ID
    assert len(fake_sleep.waits) == 1


async def test_post_retried_on_429_with_server_wait(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}/removebreaks"
    mocked.post(url, status=429, headers={"Retry-After": "3"}, body="")
    mocked.post(url, payload=ENTRY)
    await mocked_client.time_entries.remove_breaks(ENTRY_ID)
    assert fake_sleep.waits == [3.0]


async def test_429_beyond_cap_raises_with_wait(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", status=429, headers={"RateLimit-Reset": "60"})
    async with AworkClient(
        token=TOKEN,
        base_url=BASE,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(max_retry_wait=30),
        sleep=fake_sleep,
    ) as client:
        with pytest.raises(RateLimitError) as info:
            await client.time_entries.get(ENTRY_ID)
    assert info.value.retry_after == 60
    assert fake_sleep.waits == []


async def test_connection_error_is_typed(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", exception=aiohttp.ClientPayloadError("cut"))
    async with AworkClient(
        token=TOKEN,
        base_url=BASE,
        rate_limiter=NoRateLimiter(),
        retry=RetryPolicy(max_attempts=1),
        sleep=fake_sleep,
    ) as awork:
        with pytest.raises(APIConnectionError, match="connection lost"):
            await awork.time_entries.get(ENTRY_ID)


async def test_token_never_in_errors_or_logs(
    mocked_client: AworkClient, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    mocked.get(url, status=500, body="fail")
    mocked.get(
        url, status=401, payload={"code": "workspaceid-missing", "description": "d", "link": "l"}
    )
    with pytest.raises(AuthenticationError) as info:
        await mocked_client.time_entries.get(ENTRY_ID)
    rendered = "".join(traceback.format_exception(info.value))
    assert TOKEN not in rendered
    assert TOKEN not in repr(info.value) and TOKEN not in str(vars(info.value))
    assert TOKEN not in caplog.text
    assert "retry" in caplog.text.lower()  # the 500 was retried and logged


async def test_raw_response_access(mocked_client: AworkClient, mocked: aioresponses) -> None:
    mocked.get(
        f"{BASE}/timeentries/{ENTRY_ID}",
        payload=ENTRY,
        headers={"trace-id": "abc", "X-RateLimit-Remaining-Minute": "999"},
    )
    resp = await mocked_client.with_raw_response.time_entries.get(ENTRY_ID)
    assert str(resp.parsed.id) == ENTRY_ID
    assert (resp.status, resp.trace_id) == (200, "abc")
    assert resp.rate_limit.minute_remaining == 999


async def test_capture_responses(mocked_client: AworkClient, mocked: aioresponses) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=ENTRY, headers={"trace-id": "t9"})
    async with capture_responses() as responses:
        await mocked_client.time_entries.get(ENTRY_ID)
    assert [r.trace_id for r in responses] == ["t9"]


async def test_query_encoding_of_filter(mocked_client: AworkClient, mocked: aioresponses) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    seen: list[URL] = []

    def record(url: URL, **_: object) -> CallbackResult:
        seen.append(url)
        return CallbackResult(payload=[], headers={"aw-totalitems": "0"})

    mocked.get(pattern, callback=record)
    flt = "note eq 'R&D 100% #1 + more'"
    assert (
        await mocked_client.time_entries.list(filterby=flt, orderby="startDateUtc desc").collect()
        == []
    )
    assert seen[0].query["filterby"] == flt
    assert seen[0].query["orderby"] == "startDateUtc desc"
    assert seen[0].query["pageSize"] == "1000" and seen[0].query["page"] == "1"


@pytest.mark.parametrize("blank", ["", "   "])
async def test_a_blank_filter_or_order_is_not_sent(
    mocked_client: AworkClient, mocked: aioresponses, blank: str
) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    seen: list[URL] = []

    def record(url: URL, **_: object) -> CallbackResult:
        seen.append(url)
        return CallbackResult(payload=[], headers={"aw-totalitems": "0"})

    mocked.get(pattern, callback=record)
    assert await mocked_client.time_entries.list(filterby=blank, orderby=blank).collect() == []
    assert "filterby" not in seen[0].query
    assert "orderby" not in seen[0].query


async def test_raw_mode_yields_api_dicts(mocked_client: AworkClient, mocked: aioresponses) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    mocked.get(
        pattern, payload=[ENTRY, {**ENTRY, "unknownField": 1}], headers={"aw-totalitems": "2"}
    )
    items = await mocked_client.time_entries.list().raw().collect()
    assert items == [ENTRY, {**ENTRY, "unknownField": 1}]
    assert all(isinstance(i, dict) for i in items)


async def test_raw_mode_rejects_non_list(mocked_client: AworkClient, mocked: aioresponses) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    mocked.get(pattern, payload={"not": "a list"}, repeat=True)
    with pytest.raises(APIResponseValidationError, match="JSON array"):
        await mocked_client.time_entries.list().raw().collect()


async def test_cancellation_is_never_swallowed(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    """A cancel that lands as the answer completes still cancels the call (CPython gh-86296:
    ``asyncio.wait_for`` on 3.10/3.11 could drop it and return the result instead)."""
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    for steps in range(40):
        mocked.get(url, payload=ENTRY)
        task = asyncio.ensure_future(mocked_client.time_entries.get(ENTRY_ID))
        for _ in range(steps):
            await asyncio.sleep(0)
        requested = task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if requested:
            assert task.cancelled(), f"cancel after {steps} loop steps was swallowed"
