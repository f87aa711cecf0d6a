"""Keeping secrets and oversized text out of messages, reprs and exception graphs (pure).

One mechanism for the whole package:

* :func:`scrub` / :func:`scrub_json` replace every secret (the bearer token, an OAuth refresh
  token or client secret) with ``***`` in text and decoded JSON built from an answer;
* :func:`shorten` cuts long text such as a URL with a 2 MB ``filterby`` (``…(N chars)``);
* :func:`safe_url` is how a URL is shown: no user info, no query, no fragment, cut;
* :func:`detach_request_info` drops links from an exception to suppressed contexts and to
  aiohttp errors whose ``request_info`` holds the request headers (with the token);
* :func:`forget_callee_locals` clears the local variables of the frames an exception leaves.

Error reporters (Sentry by default, ``traceback.TracebackException(capture_locals=True)``, rich's
``show_locals``, pytest's ``--showlocals``) print the ``repr`` of every local variable of every
frame on an exception's traceback. So the package's frames keep secrets off their locals: a
secret lives in an attribute of an object whose ``repr`` hides it (``_Progress.token``, the
``repr=False`` fields of ``_Call``), or is passed on inline, and a parameter that brings one in is
dropped (``del`` in a ``finally``) once handed on. Frames that cannot do so (aiohttp's, while a
request is in flight, and ours holding its response) run inside :func:`forget_callee_locals`.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

import yarl

__all__ = [
    "MAX_SHOWN",
    "REDACTED",
    "detach_request_info",
    "forget_callee_locals",
    "safe_url",
    "scrub",
    "scrub_json",
    "secrets_of",
    "short_repr",
    "shorten",
]

#: What replaces a secret.
REDACTED: Final = "***"
#: Longest URL (or other unbounded text) shown in a message, before the ellipsis.
MAX_SHOWN: Final = 200


#: Authorization schemes whose credentials (the text after the scheme) are a secret of their own:
#: an answer may quote ``Basic <credentials>`` without the scheme.
_SCHEMES: Final = ("Basic ", "Bearer ")


def _variants(secrets: Iterable[str | None]) -> list[str]:
    """The secrets, stripped (the value sent is the stripped one, and it is part of the
    unstripped one), non-empty, longest first so that a secret containing another is
    replaced whole. An ``Authorization`` value also counts without its scheme."""
    found = {secret.strip() for secret in secrets if isinstance(secret, str)}
    found |= {s[len(p) :].strip() for s in found for p in _SCHEMES if s.startswith(p)}
    return sorted(filter(None, found), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret (stripped: ``" tok "`` is sent, and
    shown, as ``tok``) replaced by ``***``."""
    for secret in _variants(secrets):
        text = text.replace(secret, REDACTED)
    return text


def scrub_json(value: object, secrets: Iterable[str | None]) -> object:
    """A copy of decoded JSON (dicts, lists, strings, numbers) with secrets scrubbed from every
    string, keys included."""
    found = _variants(secrets)
    if not found:
        return value
    return _scrub_value(value, found)


def _scrub_value(value: object, found: list[str]) -> object:
    if isinstance(value, str):
        return scrub(value, found)
    if isinstance(value, dict):
        return {
            _scrub_value(k, found) if isinstance(k, str) else k: _scrub_value(v, found)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_value(v, found) for v in value]
    return value


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` if it has at most ``limit`` characters, else its start, ``…`` and its length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text)} chars)"


def short_repr(text: str) -> str:
    """``repr`` of :func:`shorten`'s result: for attrs fields holding a URL (``repr=``)."""
    return repr(shorten(text))


def safe_url(url: str | yarl.URL) -> str:
    """How a URL is shown in a message: without user, password, query or fragment, cut.

    Text that does not parse as a URL is shown only by its length.
    """
    try:
        parsed = url if isinstance(url, yarl.URL) else yarl.URL(url)
        if parsed.user is not None or parsed.password is not None:
            parsed = parsed.with_user(None)
        shown = str(parsed.with_query(None).with_fragment(None))
    except (TypeError, ValueError):
        return f"<a URL of {len(str(url))} chars>"
    return shorten(shown)


def secrets_of(auth: object, token: str) -> tuple[str, ...]:
    """The secrets to scrub from an answer to a request sent with ``token``: the token, and
    what ``auth`` holds besides it (an :class:`OAuth2Provider`'s refresh token and client
    secret)."""
    extra = getattr(auth, "_secret_values", None)
    values = extra() if callable(extra) else ()
    return (token, *(v for v in values if isinstance(v, str) and v))


def detach_request_info(exc: BaseException) -> BaseException:
    """Cut ``exc``'s chain where it would keep request headers (and the token) reachable.

    A context hidden with ``raise … from None`` is dropped (it is never shown, but it stays
    reachable as ``__context__``), and so is every link to an exception carrying aiohttp's
    ``request_info`` (``ClientResponseError``: its ``repr`` includes the request headers).
    Returns ``exc``, changed in place.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None and _carries_request(current.__cause__):
            current.__cause__ = None
            current.__suppress_context__ = True
        context = current.__context__
        if context is not None and (current.__suppress_context__ or _carries_request(context)):
            current.__context__ = None
        current = current.__cause__ or current.__context__
    return exc


def _carries_request(exc: BaseException) -> bool:
    return getattr(exc, "request_info", None) is not None


@contextmanager
def forget_callee_locals() -> Iterator[None]:
    """When an exception leaves the ``with`` block, clear the local variables of the frames it
    left: those of the functions the block called (which have returned by raising), never the
    block's own frame or its callers' (still running).

    For frames the package cannot keep free of secrets: aiohttp's while a request is in flight
    (its ``ClientSession._request`` holds the request headers and body) and ours that hold its
    response (whose headers and body may echo the token).
    """
    try:
        yield
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)  # running frames are skipped
        raise
