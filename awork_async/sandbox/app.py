"""The aiohttp application: routes under ``/api/v1`` plus one middleware for the cross-cutting
behaviour (trace ids, auth, rate limits, injected faults, stats, ``ErrorResponse`` bodies)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiohttp import web

from ._http import API_PREFIX, CONFIG_KEY, STATS_KEY, STORE_KEY, json_response
from .config import FaultConfig, SandboxConfig
from .errors import SandboxError, error_body
from .ratelimit import FixedWindowRateLimiter
from .routes_bookings import routes as booking_routes
from .routes_entries import routes as entry_routes
from .routes_misc import routes as misc_routes
from .routes_timer import routes as timer_routes
from .routes_webhooks import HUB_KEY
from .routes_webhooks import routes as webhook_routes
from .stats import SandboxStats
from .store import Store
from .webhooks import WebhookHub

__all__ = ["FAULTS_KEY", "LIMITER_KEY", "TOKEN_KEY", "build_app"]

_log = logging.getLogger("awork_async.sandbox")

FAULTS_KEY: Final = web.AppKey("awork_sandbox_faults", FaultConfig)
LIMITER_KEY: Final = web.AppKey("awork_sandbox_limiter", FixedWindowRateLimiter)
TOKEN_KEY: Final = web.AppKey("awork_sandbox_token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Turns of the event loop a GET answer waits before it is built: a request the loop reads
#: reaches the middleware (and the limiter) in its second turn (protocol, then handler task).
_READ_TURNS: Final = 3


class _Builds:
    """With rate limits on, GET answers (pages: milliseconds each) are built one at a time,
    each after the loop has read and counted the requests that arrived meanwhile.

    Requests received in one burst end their latency together; built back to back in one turn
    of the loop, 17 pages kept it from reading for up to a second, so requests a client sent
    meanwhile were counted that late, bunched into one window (429s awork's gateway, which
    counts independently of its backends' work, never gives).
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def build(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        async with self._lock:
            for _ in range(_READ_TURNS):
                await asyncio.sleep(0)
            return await handler(request)


BUILDS_KEY: Final = web.AppKey("awork_sandbox_builds", _Builds)


def _route_key(request: web.Request) -> str:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else "<unmatched>"
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :] or "/"
    return f"{request.method} {path}"


def _error_response(exc: SandboxError, trace_id: str) -> web.Response:
    body = error_body(
        exc.code,
        exc.description,
        trace_id,
        details=exc.details,
        validation_errors=exc.validation_errors,
    )
    return json_response(body, status=exc.status, headers=exc.headers)


def _http_error(exc: web.HTTPException, method: str) -> SandboxError:
    if exc.status == 404:
        return SandboxError(404, "not-found", "There is no matching path for this URL.")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        # awork documents no code for 405; this one is in its kebab-case style (notes §5.2).
        allowed = ", ".join(sorted(exc.allowed_methods))
        return SandboxError(
            405,
            "method-not-allowed",
            f"The method {method} is not allowed here.",
            details=[f"Allowed methods: {allowed}."],
            headers={"Allow": allowed},
        )
    if exc.status == 413:
        return SandboxError(413, "request-body-too-large", "The request body is too large.")
    return SandboxError(exc.status, "invalid-operation", exc.reason)


def _check_auth(request: web.Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise SandboxError(
            401,
            "workspaceid-missing",
            "The request is missing a valid workspace id. Most likely your token is invalid.",
        )


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send the headers and half the body, announcing the full length plus more, then close."""
    body = bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body) + 64
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    _drop(request)
    return stream


def _draw_fault(
    request: web.Request, faults: FaultConfig, stats: SandboxStats
) -> tuple[str, int | None] | None:
    """Draw this request's fault (counted)."""
    path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else request.path
    fault = faults.draw() if faults.applies_to(request.method, path) else None
    if fault is not None:
        stats.faults[fault[0]] += 1
    return fault


async def _delay(faults: FaultConfig, fault: tuple[str, int | None] | None) -> None:
    """The time the server takes: the latency knob, plus ``slow_delay`` for a ``slow`` fault."""
    if faults.latency:
        await asyncio.sleep(faults.latency)
    if fault is not None and fault[0] == "slow":
        await asyncio.sleep(faults.slow_delay)


def _injected(
    fault: tuple[str, int | None], faults: FaultConfig, trace_id: str
) -> web.Response | None:
    """The response of an injected 429 or 5xx (502/503 come as an HTML page, like a proxy)."""
    kind, status = fault
    if kind == "rate_limit":
        wait = str(faults.retry_after)
        exc = SandboxError(
            429,
            "too-many-requests",
            "Rate limit exceeded (injected fault).",
            headers={"Retry-After": wait, "RateLimit-Remaining": "0", "RateLimit-Reset": wait},
        )
        return _error_response(exc, trace_id)
    if kind == "error":
        code = status or 500
        if code == 500:
            exc = SandboxError(500, "server-error", "An internal error occurred (injected fault).")
            return _error_response(exc, trace_id)
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        text = f"{code} {reason.get(code, 'Server Error')}"
        return web.Response(
            status=code, text=f"<html><body><h1>{text}</h1></body></html>", content_type="text/html"
        )
    return None


def _sent(
    response: web.StreamResponse, trace_id: str, headers: dict[str, str], stats: SandboxStats
) -> web.StreamResponse:
    """Add the trace id and rate-limit headers; count the status."""
    response.headers["trace-id"] = trace_id
    response.headers.update(headers)
    stats.by_status[response.status] += 1
    return response


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything that is not a route: see the module docstring."""
    app = request.app
    stats, faults = app[STATS_KEY], app[FAULTS_KEY]
    limiter = app.get(LIMITER_KEY)
    stats.requests += 1
    trace_id = uuid.uuid4().hex
    route = _route_key(request)
    stats.by_route[route] += 1
    rate_headers: dict[str, str] = {}
    try:
        # Authenticate first: an unauthenticated request must not consume a queued fault.
        _check_auth(request, app[TOKEN_KEY])
    except SandboxError as exc:
        return _sent(_error_response(exc, trace_id), trace_id, {}, stats)
    fault = _draw_fault(request, faults, stats)
    kind = fault[0] if fault else None
    injected = _injected(fault, faults, trace_id) if fault is not None else None
    dropped = kind == "drop" and not faults.drop_after_processing
    decision = None
    if limiter is not None and injected is None and not dropped:
        # Counted on arrival, before the time the server takes (latency, slow): awork's limits
        # are enforced by its gateway (the RateLimit-* and X-RateLimit-*-Second/-Minute headers
        # are those of Kong's rate-limiting plugin, which counts a request in its access phase,
        # before the upstream handles it). Counting after the latency counted each request
        # when this process's loop came back to it, hundreds of ms late on a busy machine and
        # bunched (requests a client spread over 1.3 s counted in one second: 429s no real
        # server gives). A refused request is answered at once, like the gateway does.
        # The requests already received (ready on the loop) are counted before this one's
        # answer is built, too.
        decision = limiter.hit()
        rate_headers = decision.headers
        await asyncio.sleep(0)
    if decision is None or decision.allowed:
        await _delay(faults, fault)
    if dropped:
        stats.undelivered += 1
        _drop(request)
        return web.Response(status=499)
    response: web.StreamResponse
    if injected is not None:
        response = injected
    else:
        try:
            if decision is not None and not decision.allowed:
                stats.rate_limited += 1
                raise SandboxError(429, "too-many-requests", "Rate limit exceeded.")
            if limiter is not None and request.method == "GET":
                response = await app[BUILDS_KEY].build(handler, request)
            else:
                response = await handler(request)
            if request.method != "GET" and 200 <= response.status < 300:
                stats.writes[route] += 1
        except SandboxError as exc:
            response = _error_response(exc, trace_id)
        except web.HTTPException as exc:
            response = _error_response(_http_error(exc, request.method), trace_id)
        except Exception:
            _log.exception("sandbox handler failed")
            response = _error_response(
                SandboxError(500, "server-error", "An internal error occurred."), trace_id
            )
    _sent(response, trace_id, rate_headers, stats)
    if kind == "drop":
        stats.undelivered += 1
        _drop(request)
    elif kind == "truncate" and isinstance(response, web.Response):
        stats.undelivered += 1
        return await _truncated(request, response)
    elif kind == "garbage" and isinstance(response, web.Response) and response.status in (200, 201):
        stats.undelivered += 1
        return _garbage(response, stats.faults["garbage"])
    return response


def _garbage(response: web.Response, nth: int) -> web.Response:
    """A well-framed answer with the status and headers of ``response`` and a body that is not
    the JSON promised: in turn cut-off JSON, a proxy's HTML page, an empty body."""
    body = response.body if isinstance(response.body, bytes) else b"{}"
    variants = (
        body[: max(1, len(body) // 2)],
        b"<html><body><h1>Proxy: upstream answered nonsense</h1></body></html>",
        b"",
    )
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return web.Response(status=response.status, body=variants[nth % len(variants)], headers=headers)


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    app[HUB_KEY].bind(asyncio.get_running_loop())
    yield
    await app[HUB_KEY].close()


async def _churn(app: web.Application) -> AsyncIterator[None]:
    config, store = app[CONFIG_KEY], app[STORE_KEY]
    task: asyncio.Task[None] | None = None
    if config.churn_interval:
        interval, batch = config.churn_interval, config.churn_batch

        async def run() -> None:
            while True:
                await asyncio.sleep(interval)
                store.insert_entries(batch)
                store.delete_entries(batch)

        task = asyncio.create_task(run())
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_app(
    config: SandboxConfig | None = None,
    *,
    store: Store | None = None,
    stats: SandboxStats | None = None,
) -> web.Application:
    """Build the sandbox application.

    A missing ``config.token`` is replaced by a random one (written back into ``config``);
    the token is also available as ``app[TOKEN_KEY]``.
    """
    config = config or SandboxConfig()
    if config.token is None:
        config.token = secrets.token_urlsafe(24)
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=16 * 1024 * 1024)
    app[CONFIG_KEY] = config
    app[STORE_KEY] = store or Store.generate(config)
    app[STATS_KEY] = stats or SandboxStats()
    app[FAULTS_KEY] = config.faults
    app[TOKEN_KEY] = config.token
    data = app[STORE_KEY]
    hub = WebhookHub(config.webhooks, now=data.now, me=lambda: data.users[data.me_id])
    app[HUB_KEY] = hub
    data.listeners.append(hub.on_changes)
    if config.rate_limit is not None:
        app[LIMITER_KEY] = FixedWindowRateLimiter(config.rate_limit)
        app[BUILDS_KEY] = _Builds()
    for table in (entry_routes, timer_routes, booking_routes, misc_routes, webhook_routes):
        for route in table:
            assert isinstance(route, web.RouteDef)
            app.router.add_route(
                route.method, API_PREFIX + route.path, route.handler, **route.kwargs
            )
    app.cleanup_ctx.append(_churn)
    app.cleanup_ctx.append(_webhooks)
    return app
