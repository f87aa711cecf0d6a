"""Where the access token comes from: an API key, or OAuth 2.0 with refresh-token rotation.

The transport asks its :class:`AuthProvider` for :meth:`~AuthProvider.token` before every attempt
and calls :meth:`~AuthProvider.on_unauthorized` once when an attempt gets a 401.

awork rotates refresh tokens: each refresh returns a new refresh token and kills the old one
(API notes §1.3). Two refreshes in parallel would therefore break the chain, so
:class:`OAuth2Provider` lets exactly one refresh run at a time and every caller that needs one
joins it. The refresh runs in its own task, shielded from the callers' cancellation: once the
old refresh token has been sent, the answer must be read and kept.

No token or secret ever appears in a ``repr``, ``str``, log line or exception message.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

import aiohttp
import attrs
import yarl

from . import _constants as C
from ._exceptions import APIResponseValidationError, APIStatusError, AuthenticationError
from ._ratelimit import NoRateLimiter
from ._redact import forget_callee_locals, scrub
from ._retry import RetryPolicy
from ._sansio import check_transport_url
from ._timeouts import Timeouts
from ._transport import Transport

__all__ = [
    "AuthProvider",
    "OAuth2Provider",
    "OAuth2Token",
    "StaticToken",
    "TokenCallback",
    "TokenRequester",
    "aiohttp_token_requester",
    "transport_token_requester",
]

log = logging.getLogger(C.LOGGER_NAME)

#: ``expires_in`` values above this are epoch timestamps, not durations (notes §1.3: the
#: API-key generator's ``TokenResponse.expires_in`` looks like ``1647274587``).
_EPOCH_THRESHOLD = 1_000_000_000

#: Sends the form to the token endpoint: ``(url, form, headers) -> decoded JSON object``.
#: Raises (preferably :class:`AuthenticationError`) for an error answer.
TokenRequester = Callable[
    [str, Mapping[str, str], Mapping[str, str]], Awaitable[Mapping[str, object]]
]

#: Called with every refreshed token, to persist the rotated refresh token.
TokenCallback = Callable[["OAuth2Token"], "Awaitable[None] | None"]


@runtime_checkable
class AuthProvider(Protocol):
    """Supplies the bearer token of every request."""

    async def token(self) -> str:
        """The current access token (refreshed first if it is about to expire)."""
        ...

    async def on_unauthorized(self, failed_token: str) -> bool:
        """A request with ``failed_token`` got a 401: refresh once if possible.

        Returns True when a retry with :meth:`token` makes sense (the token was refreshed, by
        this call or a concurrent one), False when there is nothing to refresh.
        """
        ...


def _check_token_text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str")
    if not value.strip() or any(c in value for c in "\r\n\0"):
        raise ValueError(f"{what} must be non-empty and contain no line breaks")
    return value


class StaticToken:
    """A fixed bearer token: an API key (never expires, admin-level access, notes §1.3).

    ``on_unauthorized`` always returns False: there is nothing to refresh.
    """

    __slots__ = ("_value",)

    def __init__(self, token: str) -> None:
        self._value = _check_token_text(token, "the API token").strip()

    async def token(self) -> str:
        """The API key."""
        return self._value

    async def on_unauthorized(self, failed_token: str) -> bool:
        """An API key cannot be refreshed: always False."""
        return False

    def __repr__(self) -> str:
        return "StaticToken(***)"

    __str__ = __repr__


def _to_epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("expires_at must be a timezone-aware datetime (or epoch seconds)")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("expires_at must be a datetime, epoch seconds or None")
    if not math.isfinite(value):
        raise ValueError("expires_at must be finite")
    return float(value)


def _check_access(_inst: object, _attr: attrs.Attribute[str], value: str) -> None:
    _check_token_text(value, "access_token")


def _check_refresh(_inst: object, _attr: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        _check_token_text(value, "refresh_token")


@attrs.frozen(repr=False, kw_only=True)
class OAuth2Token:
    """An OAuth 2.0 token set. Its ``repr`` hides both tokens.

    Attributes:
        access_token: the bearer token.
        refresh_token: the (single-use, rotated) refresh token, if ``offline_access`` was
            granted.
        expires_at: when the access token expires, in epoch seconds (an aware ``datetime`` is
            accepted and converted); None when unknown.
        token_type: ``"Bearer"``.
    """

    # ``repr=False`` as well as the ``__repr__`` below: pretty printers that read attrs fields
    # (rich's, in tracebacks with ``show_locals``) skip these.
    access_token: str = attrs.field(validator=_check_access, repr=False)
    refresh_token: str | None = attrs.field(default=None, validator=_check_refresh, repr=False)
    expires_at: float | None = attrs.field(default=None, converter=_to_epoch)
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        refresh = "***" if self.refresh_token is not None else "None"
        return (
            f"OAuth2Token(access_token=***, refresh_token={refresh}, "
            f"expires_at={self.expires_at!r}, token_type={self.token_type!r})"
        )

    __str__ = __repr__

    @property
    def expires_at_datetime(self) -> datetime | None:
        """``expires_at`` as an aware UTC datetime."""
        if self.expires_at is None:
            return None
        return datetime.fromtimestamp(self.expires_at, timezone.utc)

    def expires_within(self, seconds: float, *, now: float) -> bool:
        """True when the access token expires less than ``seconds`` after ``now``."""
        return self.expires_at is not None and self.expires_at - seconds <= now

    @classmethod
    def from_response(
        cls, data: Mapping[str, object], *, now: float, previous: OAuth2Token | None = None
    ) -> OAuth2Token:
        """Build a token from a token endpoint answer
        (``{access_token, token_type, expires_in, refresh_token}``).

        ``expires_in`` is read as seconds from ``now``, or as an epoch timestamp when it is that
        large. Without a ``refresh_token`` in the answer, ``previous``'s is kept. Raises
        ``ValueError`` (never showing a token) when the answer has no usable access token.
        """
        access = data.get("access_token")
        if not isinstance(access, str) or not access.strip():
            raise ValueError("the token endpoint's answer has no access_token")
        refresh = data.get("refresh_token")
        if not isinstance(refresh, str) or not refresh.strip():
            refresh = previous.refresh_token if previous is not None else None
        expires_at: float | None = None
        expires_in = data.get("expires_in")
        if isinstance(expires_in, str):
            try:
                expires_in = float(expires_in)
            except ValueError:
                expires_in = None
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            seconds = float(expires_in)
            if math.isfinite(seconds):
                expires_at = seconds if seconds >= _EPOCH_THRESHOLD else now + seconds
        token_type = data.get("token_type")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=expires_at,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        )


def _basic_auth(client_id: str, client_secret: str) -> str:
    """``Basic base64(client_id:client_secret)``, as awork documents it (notes §1.3)."""
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _refresh_error(
    url: str,
    description: str,
    *,
    status: int = 0,
    code: str | None = None,
    secrets: Iterable[str] = (),
) -> AuthenticationError:
    """An :class:`AuthenticationError` for a failed refresh, with every secret removed."""
    secrets = tuple(secrets)
    return AuthenticationError(
        status=status,
        code=scrub(code, secrets) if code else None,
        description=scrub(description, secrets),
        method="POST",
        url=url,
    )


def transport_token_requester(
    transport: Transport, *, timeout: float | Timeouts | None = None
) -> TokenRequester:
    """A :data:`TokenRequester` on the client's one request path (``transport``).

    The form is POSTed like every other call: timeouts, the retry policy (a POST is repeated
    only when it provably never left, or after a 429), hooks, the redirect rule and the body
    cap apply; no bearer token is sent. An error status or a body that is not a JSON object
    raises :class:`AuthenticationError` with the server's ``error``/``code`` and description
    (secrets removed).
    """

    async def request(
        url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Mapping[str, object]:
        secrets = [*form.values(), *headers.values()]
        try:
            answer = await transport.request(
                "POST",
                url,
                form=form,
                headers=headers,
                timeout=timeout,
                expect="object",
                authenticate=False,
            )
        except APIStatusError as exc:
            failure = _refused(url, exc, secrets)
        except APIResponseValidationError as exc:
            failure = _refresh_error(
                url,
                "the token endpoint's answer is not a JSON object",
                status=exc.status or 0,
                secrets=secrets,
            )
        else:
            assert isinstance(answer.parsed, dict)  # expect="object"
            return answer.parsed
        raise failure  # outside the ``except``: the replaced error is not kept as context

    return request


def _refused(url: str, exc: APIStatusError, secrets: Iterable[str]) -> AuthenticationError:
    """The token endpoint's error answer (OAuth's ``error``/``error_description``)."""
    code: str | None = exc.code
    description = f"token refresh failed with status {exc.status}"
    body = exc.body
    if isinstance(body, dict):
        raw_code = body.get("error") or body.get("code")
        code = str(raw_code) if raw_code else None
        detail = body.get("error_description") or body.get("description")
        if detail:
            description += f": {detail}"
    return _refresh_error(url, description, status=exc.status, code=code, secrets=secrets)


def aiohttp_token_requester(
    session: aiohttp.ClientSession, *, timeout: float = C.DEFAULT_TOKEN_REFRESH_TIMEOUT
) -> TokenRequester:
    """A :data:`TokenRequester` through ``session`` (which it never closes), on the same
    request path as the client's calls (:func:`transport_token_requester`): a form-encoded POST
    whose whole call is bounded by ``timeout`` seconds."""
    return transport_token_requester(_token_transport(session), timeout=timeout)


def attach_request_path(auth: object, transport: Transport) -> None:
    """Let an :class:`OAuth2Provider` refresh through ``transport`` (the client's request path)
    while it is open, unless the provider was given its own ``session`` or ``request``."""
    if isinstance(auth, OAuth2Provider) and auth._request == auth._one_shot_request:
        auth._via = transport


def _token_transport(session: aiohttp.ClientSession | None) -> Transport:
    """A request path of its own for a provider used without a client (not rate limited)."""
    return Transport(
        base_url=yarl.URL(C.DEFAULT_BASE_URL),
        auth=_NoToken(),
        limiter=NoRateLimiter(),
        retry=RetryPolicy(),
        timeouts=Timeouts(),
        session=session,
    )


class _NoToken:
    """The auth of a request path that only refreshes tokens (it never sends a bearer)."""

    async def token(
        self,
    ) -> str:  # pragma: no cover - every token request passes authenticate=False
        raise RuntimeError("this request path sends no bearer token")

    async def on_unauthorized(self, failed_token: str) -> bool:  # pragma: no cover
        return False


class OAuth2Provider:
    """OAuth 2.0 access tokens, refreshed before they expire and once after a 401.

    Args:
        token: the current token set (from the authorization-code exchange or storage).
        client_id: the client application's id.
        client_secret: for confidential clients (sent as HTTP Basic auth); public clients
            leave it None and send ``client_id`` in the form.
        token_url: the token endpoint; ``https://`` only (plain ``http://`` only to loopback
            hosts), the same rule as the client's ``base_url``: the refresh token and client
            secret must never travel in clear text. A refused URL raises ``ValueError``.
        session: an aiohttp session for the refresh call. Without one, a provider handed to an
            :class:`AworkClient` refreshes through that client's request path (its timeouts,
            retry policy, rate limiter and hooks); used alone, it opens a short-lived session per
            refresh (about once a day).
        request: replaces the HTTP call entirely (tests, other HTTP stacks).
        clock: epoch seconds.
        refresh_margin: refresh this many seconds before ``expires_at``.
        on_token_refreshed: called (sync or async) with every new token: persist
            ``refresh_token`` there, since the old one no longer works.
    """

    def __init__(
        self,
        token: OAuth2Token,
        *,
        client_id: str,
        client_secret: str | None = None,
        token_url: str = C.DEFAULT_TOKEN_URL,
        session: aiohttp.ClientSession | None = None,
        request: TokenRequester | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = C.DEFAULT_TOKEN_REFRESH_MARGIN,
        on_token_refreshed: TokenCallback | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        if not (math.isfinite(refresh_margin) and refresh_margin >= 0):
            raise ValueError("refresh_margin must be a finite number >= 0")
        check_transport_url(token_url, what="token_url")
        self._token = token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        if request is None:
            request = (
                aiohttp_token_requester(session) if session is not None else self._one_shot_request
            )
        self._request = request
        self._clock = clock
        self._refresh_margin = float(refresh_margin)
        self._on_token_refreshed = on_token_refreshed
        self._inflight: asyncio.Task[OAuth2Token] | None = None
        self._via: Transport | None = None

    def __repr__(self) -> str:
        return f"OAuth2Provider(client_id={self._client_id!r}, token_url={self._token_url!r})"

    __str__ = __repr__

    def _secret_values(self) -> tuple[str, ...]:
        """Every secret held (scrubbed from errors built from any answer, see ``_redact``)."""
        token = self._token
        found = (token.access_token, token.refresh_token, self._client_secret)
        return tuple(value for value in found if value)

    @property
    def current(self) -> OAuth2Token:
        """The token set in use (its ``repr`` hides the tokens)."""
        return self._token

    async def token(self) -> str:
        """The access token, refreshed first when it expires within ``refresh_margin``.

        If that early refresh fails while the token has not actually expired yet, the failure
        is logged and the current token is used; once it has expired, the failure is raised.
        """
        current = self._token
        if current.refresh_token is None or not current.expires_within(
            self._refresh_margin, now=self._clock()
        ):
            return current.access_token
        try:
            current = await self._refresh_from(current)
        except AuthenticationError as exc:
            if current.expires_within(0.0, now=self._clock()):
                raise
            log.warning("early OAuth token refresh failed, using the current token: %s", exc)
        return current.access_token

    async def on_unauthorized(self, failed_token: str) -> bool:
        """Refresh once after a 401 with ``failed_token``; concurrent callers share the refresh.

        Returns True when a newer token is available (refreshed here or already by another
        caller), False without a refresh token. A failed refresh raises
        :class:`AuthenticationError`.
        """
        current = self._token
        replaced = current.access_token != failed_token
        del failed_token  # a secret: off this frame's locals, which error reporters show
        if replaced:
            return True
        if current.refresh_token is None:
            return False
        await self._refresh_from(current)
        return True

    async def refresh(self) -> OAuth2Token:
        """Refresh now (joining a refresh already in flight) and return the new token set."""
        return await self._refresh_from(self._token)

    async def _refresh_from(self, stale: OAuth2Token) -> OAuth2Token:
        """Single flight: refresh ``stale`` unless it was replaced already or is being refreshed."""
        if self._token is not stale:
            return self._token
        task = self._inflight
        if task is None:
            task = asyncio.get_running_loop().create_task(self._do_refresh(stale))
            self._inflight = task
            task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task[OAuth2Token]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved: callers that were cancelled meanwhile won't see it

    async def _do_refresh(self, stale: OAuth2Token) -> OAuth2Token:
        # The refresh token, the client secret and the endpoint's answer stay off this frame's
        # locals (error reporters show them, see ``_redact``): the frames holding them return,
        # or forget their locals when an exception (a cancellation) leaves them.
        with forget_callee_locals():
            outcome = await self._exchange(stale)
        if isinstance(outcome, AuthenticationError):
            raise outcome  # outside any ``except``: it chains nothing
        self._token = outcome
        log.info("OAuth access token refreshed (expires at %s)", outcome.expires_at_datetime)
        await self._notify(outcome)
        return outcome

    async def _exchange(self, stale: OAuth2Token) -> OAuth2Token | AuthenticationError:
        """The new token set, or the (scrubbed, unchained) error to raise."""
        refresh_token = stale.refresh_token
        url = self._token_url
        if refresh_token is None:
            return _refresh_error(url, "token refresh failed: no refresh token")
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        headers = {"Accept": "application/json"}
        if self._client_secret is None:
            form["client_id"] = self._client_id
        else:
            headers["Authorization"] = _basic_auth(self._client_id, self._client_secret)
        secrets = [refresh_token, stale.access_token, headers.get("Authorization", "")]
        if self._client_secret:
            secrets.append(self._client_secret)
        # Errors are returned, to be raised outside any ``except`` block: the exception they
        # replace (an aiohttp error's ``request_info`` holds the request headers, Basic auth
        # included) must not stay reachable as ``__context__``.
        answer = await self._send(url, form, headers, secrets)
        if isinstance(answer, AuthenticationError):
            return answer
        try:
            return OAuth2Token.from_response(answer, now=self._clock(), previous=stale)
        except (TypeError, ValueError) as exc:
            problem = f"token refresh failed: {exc}"
        return _refresh_error(url, problem, status=200, secrets=secrets)

    async def _send(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str], secrets: list[str]
    ) -> Mapping[str, object] | AuthenticationError:
        """The token endpoint's answer, or the (scrubbed, unchained) error to raise."""
        try:
            return await self._request(url, form, headers)
        except AuthenticationError as exc:
            return _refresh_error(
                url,
                exc.description or "token refresh failed",
                status=exc.status,
                code=exc.code,
                secrets=secrets,
            )
        except Exception as exc:
            status = getattr(exc, "status", 0)
            return _refresh_error(
                url,
                f"token refresh failed: no usable answer from the token endpoint "
                f"({type(exc).__name__})",
                status=status if isinstance(status, int) else 0,
                secrets=secrets,
            )

    async def _notify(self, new: OAuth2Token) -> None:
        callback = self._on_token_refreshed
        if callback is None:
            return
        try:
            result = callback(new)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception(
                "on_token_refreshed failed: the rotated refresh token may not have been saved"
            )

    async def _one_shot_request(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Mapping[str, object]:
        via = self._via
        if via is not None and not via.closed:
            return await transport_token_requester(via)(url, form, headers)
        transport = _token_transport(None)
        try:
            return await transport_token_requester(
                transport, timeout=C.DEFAULT_TOKEN_REFRESH_TIMEOUT
            )(url, form, headers)
        finally:
            await transport.aclose()
