"""Hostile or broken servers (issue 9 §3): size cap, body time bound, redirects, bad 2xx bodies.

Framing-level faults (endless chunked bodies, gzip bombs, a body that never completes) are served
by a tiny aiohttp server on 127.0.0.1; the rest uses aioresponses. No test depends on how long
something took: the typed error says which bound was hit.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone

import pytest
from _helpers import BASE, TOKEN, FakeSleep
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses

from awork_async import (
    APIResponseValidationError,
    APITimeoutError,
    AworkClient,
    NoRateLimiter,
    OutcomeUnknownError,
    ResponseTooLargeError,
    RetryPolicy,
    Timeouts,
    UnexpectedRedirectError,
)
from awork_async import _constants as C
from awork_async.export import export_time_entries
from awork_async.models import TimeEntryCreate

ENTRY_ID = "2b0b2ef6-0c9b-4c8e-9d43-2f8a0d9b4c11"
TYPE_ID = "8d9c0a40-51a4-4d3c-9e53-2c3c4e2c1c11"
USER_ID = "5f7c0a40-51a4-4d3c-9e53-2c3c4e2c1c22"
ENTRY = {
    "id": ENTRY_ID,
    "timezone": "Europe/Berlin",
    "typeOfWorkId": TYPE_ID,
    "startDateUtc": "2024-05-14T00:00:00Z",
    "startTimeUtc": "10:00:00",
    "duration": 3600,
}
ENTRY_CREATED = "2024-05-14T10:00:00Z"
MiB = 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _client(base_url: str, sleep: FakeSleep, **kwargs: object) -> AworkClient:
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    return AworkClient(
        token=TOKEN,
        base_url=base_url,
        rate_limiter=NoRateLimiter(),
        sleep=sleep,
        **kwargs,  # type: ignore[arg-type]
    )


class LocalServer:
    """One route on a loopback aiohttp server; counts the requests it got."""

    def __init__(self, handler: Handler) -> None:
        self.hits = 0
        self.release = asyncio.Event()  # set at teardown: lets a stalled handler finish

        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits += 1
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", counted)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/api/v1"))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[LocalServer]]]:
    started: list[LocalServer] = []

    async def start(handler: Handler) -> LocalServer:
        local = LocalServer(handler)
        await local.server.start_server()
        started.append(local)
        return local

    yield start
    for local in started:
        local.release.set()
        await local.server.close()


# -- the size cap -------------------------------------------------------------------------------


def test_default_cap_is_64_mib() -> None:
    assert 64 * MiB == C.DEFAULT_MAX_RESPONSE_BYTES
    assert AworkClient(token=TOKEN)._transport.max_response_bytes == 64 * MiB


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_max_response_bytes_is_checked(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_response_bytes"):
        AworkClient(token=TOKEN, max_response_bytes=value)  # type: ignore[arg-type]


async def test_endless_chunked_body_stops_at_the_cap(
    serve: Callable[[Handler], Awaitable[LocalServer]],
) -> None:
    sent = [0]

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"[" + b" " * (64 * 1024)
        try:
            while sent[0] < 256 * MiB:  # a bound only so the test ends without the fix
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what the cap should make it do
        return response

    local = await serve(endless)
    sleep = FakeSleep()
    async with _client(local.base_url, sleep, max_response_bytes=MiB) as awork:
        with pytest.raises(ResponseTooLargeError) as info:
            await awork.time_entries.get(ENTRY_ID)
    assert info.value.limit == MiB
    assert info.value.status == 200
    assert "max_response_bytes" in str(info.value)
    assert local.hits == 1  # not retried: the same request would get the same answer
    assert sleep.waits == []
    assert sent[0] < 256 * MiB  # the connection was dropped, not drained


def _gzip_bomb(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (about 1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(size // MiB)]
    parts.append(compressor.flush())
    return b"".join(parts)


async def test_gzip_bomb_never_grows_memory_beyond_the_cap(
    serve: Callable[[Handler], Awaitable[LocalServer]],
) -> None:
    bomb = _gzip_bomb(128 * MiB)
    assert len(bomb) < MiB

    async def gzip_bomb(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )
        response.content_length = len(bomb)
        await response.prepare(request)
        try:
            for start in range(0, len(bomb), 16 * 1024):
                await response.write(bomb[start : start + 16 * 1024])
        except (ConnectionError, RuntimeError):
            pass
        return response

    local = await serve(gzip_bomb)
    async with _client(local.base_url, FakeSleep(), max_response_bytes=2 * MiB) as awork:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError):
                await awork.time_entries.get(ENTRY_ID)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Decompressed bytes are counted: 128 MiB of zeros never reach memory, only about the cap.
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert local.hits == 1


async def test_content_length_beyond_the_cap_is_refused_before_reading(
    mocked: aioresponses,
) -> None:
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", body=b"[" + b" " * 2000 + b"]", repeat=True)
    async with _client(BASE, FakeSleep(), max_response_bytes=1000) as awork:
        with pytest.raises(ResponseTooLargeError, match=r"1000 bytes"):
            await awork.time_entries.get(ENTRY_ID)


async def test_an_answer_at_the_cap_is_read(mocked: aioresponses) -> None:
    import orjson

    body = orjson.dumps(ENTRY)
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", body=body)
    async with _client(BASE, FakeSleep(), max_response_bytes=len(body)) as awork:
        entry = await awork.time_entries.get(ENTRY_ID)
    assert str(entry.id) == ENTRY_ID


async def test_error_answers_are_capped_too(
    serve: Callable[[Handler], Awaitable[LocalServer]],
) -> None:
    async def huge_error(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"x" * (2 * MiB))

    local = await serve(huge_error)
    async with _client(local.base_url, FakeSleep(), max_response_bytes=MiB) as awork:
        with pytest.raises(ResponseTooLargeError) as info:
            await awork.time_entries.get(ENTRY_ID)
    assert info.value.status == 404


class _RecordingGate:
    """A ``body_reads`` bound that records when it is entered and left, and holds the reader
    until ``go`` is set."""

    def __init__(self, local: LocalServer) -> None:
        self.local = local
        self.events: list[str] = []
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def __aenter__(self) -> None:
        # Entered once the answer's headers arrived: the server has been asked.
        self.events.append(f"enter after {self.local.hits} request(s)")
        self.entered.set()
        await self.go.wait()

    async def __aexit__(self, *exc: object) -> None:
        self.events.append("exit" if exc[0] is None else f"exit with {exc[0].__name__}")


@pytest.mark.parametrize("status", [200, 404])
async def test_bodies_are_read_within_the_contexts_body_reads_bound(
    serve: Callable[[Handler], Awaitable[LocalServer]], status: int
) -> None:
    """The page engine's lanes bound the bodies they read at once (``_transport.body_reads``):
    the transport enters the bound after an answer's headers arrived, reads the body inside it
    and leaves it, success or error; outside such a context there is no bound."""
    import orjson

    from awork_async._transport import body_reads

    async def answer(request: web.Request) -> web.StreamResponse:
        body = ENTRY if status == 200 else {"code": "not-found", "description": "gone"}
        return web.Response(status=status, body=orjson.dumps(body))

    local = await serve(answer)
    gate = _RecordingGate(local)
    async with _client(local.base_url, FakeSleep()) as awork:
        token = body_reads.set(gate)
        try:
            call = asyncio.ensure_future(awork.time_entries.get(ENTRY_ID))
        finally:
            body_reads.reset(token)
        entered = asyncio.ensure_future(gate.entered.wait())
        done, _ = await asyncio.wait({call, entered}, return_when=asyncio.FIRST_COMPLETED)
        assert entered in done and not call.done()  # held at the bound, its body unread
        gate.go.set()
        if status == 200:
            assert str((await call).id) == ENTRY_ID
        else:
            with pytest.raises(Exception, match="gone"):
                await call
        assert body_reads.get() is None
        if status == 200:
            await awork.time_entries.get(ENTRY_ID)  # outside the context: not bounded
    assert gate.events == ["enter after 1 request(s)", "exit"]


# -- the time bound on the whole body --------------------------------------------------------


def test_body_bound_defaults_and_validation() -> None:
    assert Timeouts().body == C.DEFAULT_BODY_TIMEOUT
    assert Timeouts(body=None).body is None
    with pytest.raises(ValueError, match="body"):
        Timeouts(body=0)
    assert Timeouts(total=5).merge(7.0).body == C.DEFAULT_BODY_TIMEOUT


def _stalled(local_release: Callable[[], asyncio.Event]) -> Handler:
    """A handler that sends the headers and half a body, then never the rest."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"id": "')
        await local_release().wait()  # event-driven: only the test's teardown releases it
        return response

    return handler


async def test_a_body_that_never_completes_trips_the_body_bound(
    serve: Callable[[Handler], Awaitable[LocalServer]],
) -> None:
    holder: list[LocalServer] = []
    local = await serve(_stalled(lambda: holder[0].release))
    holder.append(local)
    sleep = FakeSleep()
    # ``read`` off: only the body bound can end the wait (a trickle never trips ``read``).
    timeouts = Timeouts(connect=5, read=None, total=30, body=0.05)
    retry = RetryPolicy(max_attempts=2, random=lambda: 0.0)
    async with _client(local.base_url, sleep, timeout=timeouts, retry=retry) as awork:
        with pytest.raises(APITimeoutError, match=r"body was not complete within 0\.05s"):
            await awork.time_entries.get(ENTRY_ID)
    assert local.hits == 2  # retried like a read timeout (GET is idempotent)
    assert len(sleep.waits) == 1


async def test_a_post_whose_body_never_completes_is_outcome_unknown(
    serve: Callable[[Handler], Awaitable[LocalServer]],
) -> None:
    holder: list[LocalServer] = []
    local = await serve(_stalled(lambda: holder[0].release))
    holder.append(local)
    form = _form()
    timeouts = Timeouts(connect=5, read=None, total=30, body=0.05)
    async with _client(local.base_url, FakeSleep(), timeout=timeouts) as awork:
        with pytest.raises(OutcomeUnknownError, match="body was not complete"):
            await awork.time_entries.create(form)
    assert local.hits == 1


def _form() -> TimeEntryCreate:
    return TimeEntryCreate.from_span(
        start=datetime(2024, 5, 14, 10, tzinfo=timezone.utc),
        duration=60,
        timezone="Europe/Berlin",
        type_of_work_id=TYPE_ID,
        user_id=USER_ID,
    )


# -- redirects ----------------------------------------------------------------------------------


async def test_a_redirect_is_a_typed_error_naming_a_cleaned_target(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    target = "https://user:hunter2@login.evil.test/sso?token=abc123&sig=zz#frag"
    mocked.get(url, status=302, headers={"Location": target}, repeat=True)
    with pytest.raises(UnexpectedRedirectError) as info:
        await mocked_client.time_entries.get(ENTRY_ID)
    error = info.value
    assert error.status == 302
    assert error.location == "https://login.evil.test/sso"
    text = f"{error} {error!r} {error.args}"
    assert "login.evil.test/sso" in str(error) and "not followed" in str(error)
    for secret in ("hunter2", "abc123", "sig=", "frag", "user:"):
        assert secret not in text
    # Never followed (allow_redirects=False reached aiohttp), never retried.
    calls = [(key, call) for key, calls in mocked.requests.items() for call in calls]
    assert len(calls) == 1
    assert calls[0][1].kwargs["allow_redirects"] is False
    assert fake_sleep.waits == []


async def test_a_relative_redirect_names_the_resolved_target(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    mocked.delete(
        f"{BASE}/timeentries/{ENTRY_ID}", status=307, headers={"Location": "/login?next=/x"}
    )
    with pytest.raises(UnexpectedRedirectError) as info:
        await mocked_client.time_entries.delete(ENTRY_ID)  # was: ``None``, as if deleted
    assert info.value.location == "https://api.awork.test/login"


async def test_a_redirected_list_is_not_an_empty_list(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    mocked.get(re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*"), status=301)
    with pytest.raises(UnexpectedRedirectError) as info:
        await mocked_client.time_entries.list().collect()
    assert info.value.location is None
    assert "no Location" in str(info.value)


@pytest.mark.parametrize("orderby", [None, "startDateUtc desc"])
async def test_a_bulk_export_against_redirects_fails(
    mocked_client: AworkClient, mocked: aioresponses, orderby: str | None
) -> None:
    mocked.get(
        re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*"),
        status=302,
        headers={"Location": "https://proxy.test/"},
        repeat=True,
    )
    with pytest.raises(UnexpectedRedirectError):
        await export_time_entries(mocked_client, io.BytesIO(), format="jsonl", orderby=orderby)


# -- a 2xx body that is not the JSON promised ----------------------------------------------------

BAD_BODIES = [
    pytest.param(b'{"id": "2b0b2ef6-0c9b', id="truncated"),
    pytest.param(b"<html><body>Proxy error</body></html>", id="html"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[]", id="array-for-object"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_a_bad_2xx_body_is_retried_for_a_get(
    mocked_client: AworkClient,
    mocked: aioresponses,
    fake_sleep: FakeSleep,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"{BASE}/timeentries/{ENTRY_ID}"
    mocked.get(url, body=body, status=200)
    mocked.get(url, payload=ENTRY)
    with caplog.at_level(logging.INFO, logger="awork_async"):
        entry = await mocked_client.time_entries.get(ENTRY_ID)
    assert str(entry.id) == ENTRY_ID
    assert len(fake_sleep.waits) == 1
    assert "retrying GET" in caplog.text and "APIResponseValidationError" in caplog.text


async def test_a_bad_2xx_body_raises_after_the_retries(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    mocked.get(pattern, body=b"<html>login</html>", status=200, repeat=True)
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
        await mocked_client.time_entries.list().collect()
    assert len(fake_sleep.waits) == C.DEFAULT_MAX_ATTEMPTS - 1


async def test_an_empty_200_list_page_is_not_the_end_of_the_list(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    pattern = re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*")
    mocked.get(pattern, body=b"", status=200)
    mocked.get(pattern, payload=[ENTRY], headers={"aw-totalitems": "1"})
    entries = await mocked_client.time_entries.list().collect()
    assert [str(e.id) for e in entries] == [ENTRY_ID]


async def test_a_bad_2xx_body_of_a_post_is_not_retried(
    mocked_client: AworkClient, mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.post(f"{BASE}/timeentries", body=b'{"id": "2b0b', status=200)
    form = _form()
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
        await mocked_client.time_entries.create(form)  # the write happened: never sent twice
    assert fake_sleep.waits == []
    assert sum(len(calls) for calls in mocked.requests.values()) == 1


# -- impossible aw-totalitems ---------------------------------------------------------------


@pytest.mark.parametrize("total", ["0", "-1", "2.5", "3"])
async def test_a_bulk_export_does_not_end_on_an_impossible_total(
    mocked_client: AworkClient, mocked: aioresponses, total: str
) -> None:
    rows = [
        {**ENTRY, "id": f"2b0b2ef6-0c9b-4c8e-9d43-2f8a0d9b4c{n:02d}", "createdOn": ENTRY_CREATED}
        for n in range(10)
    ]
    mocked.get(
        re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*"),
        payload=rows,
        headers={"aw-totalitems": total},
        repeat=True,
    )
    output = io.BytesIO()
    with pytest.raises(APIResponseValidationError, match="aw-totalitems"):
        await export_time_entries(mocked_client, output, format="jsonl", page_size=10)


# -- answers that contradict the schema's types ----------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"user": "bob"}, "$.user"),
        ({"user": ["bob"]}, "$.user"),
        ({"breaks": {"a": 1}}, "$.breaks"),
        ({"breaks": [{"startDate": 17}]}, "$.breaks[0].startDate"),
        ({"id": None}, "$.id"),
        ({"timezone": None}, "$.timezone"),
        ({"project": {"name": "no id"}}, "$.project.id"),
        ({"duration": "3600"}, "$.duration"),
        ({"isBillable": "false"}, "$.isBillable"),
        ({"startDateUtc": 20240514}, "$.startDateUtc"),
    ],
)
async def test_a_wrong_typed_answer_names_the_field(
    mocked_client: AworkClient, mocked: aioresponses, changes: dict[str, object], path: str
) -> None:
    body = {**ENTRY, **changes}
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=body)
    with pytest.raises(APIResponseValidationError) as one:
        await mocked_client.time_entries.get(ENTRY_ID)
    assert one.value.path == path
    assert f"@ {path}" in str(one.value)
    page = [ENTRY, ENTRY, body]
    mocked.get(re.compile(re.escape(f"{BASE}/timeentries") + r"\?.*"), payload=page)
    with pytest.raises(APIResponseValidationError) as listed:
        await mocked_client.time_entries.list().collect()
    assert listed.value.path == "$[2]" + path[1:]


async def test_a_missing_id_is_refused(mocked_client: AworkClient, mocked: aioresponses) -> None:
    body = {key: value for key, value in ENTRY.items() if key != "id"}
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=body)
    with pytest.raises(APIResponseValidationError, match=r"required field missing @ \$\.id"):
        await mocked_client.time_entries.get(ENTRY_ID)


async def test_what_awork_really_sends_stays_tolerated(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    """Unknown and missing optional fields, null nested objects, offset-less ``*Local`` times
    (notes §10), and the ``last`` entry as an array or an object (D1) all still decode."""
    body = {
        **ENTRY,
        "someFutureField": {"nested": [1, 2]},
        "project": None,
        "task": None,
        "user": {"id": USER_ID},
        "startDateLocal": "2024-05-14T12:00:00",
        "breaks": [],
    }
    mocked.get(f"{BASE}/timeentries/{ENTRY_ID}", payload=body)
    entry = await mocked_client.time_entries.get(ENTRY_ID)
    assert entry.project is None and entry.user is not None and entry.note is None
    assert entry.start_date_local == datetime(2024, 5, 14, 12)
    for shape in ([body], body):
        mocked.get(re.compile(re.escape(f"{BASE}/me/timeentries/last") + r".*"), payload=shape)
        last = await mocked_client.time_entries.last()
        assert last is not None and str(last.id) == ENTRY_ID
