"""Timeouts: validation, the per-attempt aiohttp timeout, per-call overrides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer as LocalServer

from awork_async import _constants as C
from awork_async._timeouts import Timeouts


def test_defaults_come_from_constants() -> None:
    t = Timeouts()
    assert (t.connect, t.read, t.total) == (
        C.DEFAULT_CONNECT_TIMEOUT,
        C.DEFAULT_READ_TIMEOUT,
        C.DEFAULT_TOTAL_TIMEOUT,
    )


def test_client_timeout_sets_socket_timeouts_and_no_total() -> None:
    ct = Timeouts(connect=3, read=7, total=99).to_client_timeout()
    assert ct.sock_connect == 3.0
    assert ct.sock_read == 7.0
    assert ct.total is None
    assert ct.connect is None


def test_none_means_no_limit() -> None:
    t = Timeouts(connect=None, read=None, total=None)
    ct = t.to_client_timeout()
    assert ct.sock_connect is None
    assert ct.sock_read is None
    assert t.deadline(5.0) is None


def test_ints_become_floats() -> None:
    t = Timeouts(connect=1, read=2, total=3)
    assert isinstance(t.connect, float)
    assert isinstance(t.read, float)
    assert isinstance(t.total, float)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["connect", "read", "total"])
def test_non_positive_values_are_rejected(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        Timeouts(**{name: value})


@pytest.mark.parametrize("value", ["5", True])
def test_non_numbers_are_rejected(value: object) -> None:
    with pytest.raises(TypeError):
        Timeouts(read=value)  # type: ignore[arg-type]


def test_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Timeouts().read = 1.0  # type: ignore[misc]


def test_merge_none_keeps_the_client_timeouts() -> None:
    t = Timeouts(connect=1, read=2, total=3)
    assert t.merge(None) is t


@pytest.mark.parametrize("override", [12, 12.5])
def test_merge_number_replaces_only_total(override: float) -> None:
    merged = Timeouts(connect=1, read=2, total=3).merge(override)
    assert merged == Timeouts(connect=1, read=2, total=float(override))


def test_merge_timeouts_replaces_everything() -> None:
    override = Timeouts(connect=4, read=5, total=None)
    assert Timeouts(connect=1, read=2, total=3).merge(override) == override


def test_merge_validates_the_number() -> None:
    with pytest.raises(ValueError, match="total"):
        Timeouts().merge(-1)


def test_deadline() -> None:
    assert Timeouts(total=30).deadline(100.0) == 130.0


@pytest.fixture
async def stalling_server() -> AsyncIterator[tuple[LocalServer, asyncio.Event]]:
    """Sends headers, then never sends the body until released."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 10
        await resp.prepare(request)
        await release.wait()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    server = LocalServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, release
    finally:
        release.set()
        await server.close()


async def test_sock_read_bounds_a_stalled_read(
    stalling_server: tuple[LocalServer, asyncio.Event],
) -> None:
    server, _ = stalling_server
    timeout = Timeouts(connect=5, read=0.05, total=None).to_client_timeout()
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(server.make_url("/")) as resp,
    ):
        assert resp.status == 200
        with pytest.raises(aiohttp.ServerTimeoutError):
            await resp.read()
