"""What the server answered: one record per call, kept next to the typed result.

Every answer is deciphered once (:func:`~awork_async._decipher.decipher_response`) into a
:class:`RawResponse`. A call's outcome on the request path is one :class:`APIResponse`: the
decoded data (``parsed``), the final answer (``raw``) and every answer the call received
(``responses``: a 429 before its retry, a 401 before a token refresh). Resources decode
``parsed`` into models, page fetchers hand it to the paginator, and ``with_raw_response``
returns the answers of the calls a method made (every chunk of a chunked batch): everything
reads that record, nothing re-reads headers.

:func:`capture_responses` sees the calls made inside its block. Why a
:class:`~contextvars.ContextVar`: the function takes no client (it spans every client used in
the block) and must see only the calls awaited *in this task* (and in tasks it starts) while
the block is open, which is exactly a context variable's scope. The variable holds only that
scope, the open sinks; what reaches them is each finished call's record, handed over by the
transport in one place (:func:`report_call`), the same record the call returns.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from ._exceptions import APIResponseValidationError
from ._ratelimit_headers import RateLimitInfo
from ._redact import short_repr
from ._sansio import PageInfo, checked_total_items, trace_id_of

if TYPE_CHECKING:
    from ._decipher import Deciphered

__all__ = ["APIResponse", "RawResponse", "capture_responses"]

T = TypeVar("T")


@attrs.frozen
class RawResponse:
    """Status, headers and metadata of one HTTP answer (the body is decoded elsewhere).

    Attributes:
        method, url: the request (the URL never contains the token).
        status: the HTTP status.
        headers: the response headers (case-insensitive mapping).
        elapsed: seconds from sending the request to reading the whole body.
        attempt: which attempt of the call produced this answer (1 = the first).

    A response made by the client carries what :func:`~awork_async._decipher.decipher_response`
    read from the answer (``trace_id``, ``page_info``, ``rate_limit``), so they are not parsed
    again on every access; one built by hand reads them from ``headers``.
    """

    method: str
    url: str = attrs.field(repr=short_repr)
    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    elapsed: float = 0.0
    attempt: int = 1
    _deciphered: Deciphered | None = attrs.field(
        default=None, repr=False, eq=False, alias="deciphered"
    )

    @classmethod
    def of(
        cls, answer: Deciphered, *, method: str, url: str, elapsed: float = 0.0, attempt: int = 1
    ) -> RawResponse:
        """The raw response of a deciphered answer (keeps what it read, not its data)."""
        return cls(
            method=method,
            url=url,
            status=answer.status,
            headers=answer.headers,
            elapsed=elapsed,
            attempt=attempt,
            deciphered=attrs.evolve(answer, data=None) if answer.data is not None else answer,
        )

    @property
    def trace_id(self) -> str | None:
        """awork's trace id (``trace-id`` or ``traceparent`` header): quote it to support."""
        if self._deciphered is not None:
            return self._deciphered.trace_id
        return trace_id_of(self.headers)

    @property
    def page_info(self) -> PageInfo:
        """The ``aw-*`` pagination headers."""
        if self._deciphered is not None:
            return self._deciphered.page_info
        return PageInfo.from_headers(self.headers)

    def checked_total_items(self, *, page: int, page_size: int, received: int) -> int | None:
        """``aw-totalitems`` checked against this list page (``None`` when not sent).

        Raises :class:`APIResponseValidationError` when the total is impossible (not a
        non-negative integer, or fewer than the items this page proves exist): the end of a list
        is never concluded from a broken header. See :func:`_sansio.checked_total_items`.
        """
        try:
            return checked_total_items(
                self.headers, page=page, page_size=page_size, received=received
            )
        except ValueError as exc:
            raise APIResponseValidationError(
                f"{self.method} {self.url}: {exc} (a protocol error, not the end of the list)",
                status=self.status,
                method=self.method,
                url=self.url,
            ) from None

    @property
    def rate_limit(self) -> RateLimitInfo:
        """The rate-limit state the server reported with this answer."""
        if self._deciphered is not None:
            return self._deciphered.rate_limit
        return RateLimitInfo.from_headers(self.headers)


@attrs.frozen
class APIResponse(Generic[T]):
    """A typed result together with the raw response that carried it.

    ``raw`` is the final answer's; ``responses`` holds every answer the call received, in order
    (each chunk of a chunked ``time_entries.batch``, a 429 before its retry), ``raw`` last.
    The request path returns one for every call, with the decoded JSON as ``parsed``.
    """

    parsed: T
    raw: RawResponse
    responses: tuple[RawResponse, ...] = attrs.field()

    @responses.default
    def _just_raw(self) -> tuple[RawResponse, ...]:
        return (self.raw,)

    @property
    def status(self) -> int:
        return self.raw.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self.raw.headers

    @property
    def trace_id(self) -> str | None:
        return self.raw.trace_id

    @property
    def rate_limit(self) -> RateLimitInfo:
        return self.raw.rate_limit


#: The sinks of the :func:`capture_responses` blocks open in this context (innermost last).
_captured: contextvars.ContextVar[tuple[list[RawResponse], ...]] = contextvars.ContextVar(
    "awork_async_captured_responses", default=()
)


def report_call(responses: Sequence[RawResponse]) -> None:
    """Hand a finished call's answers (its record's ``responses``, or those received before it
    failed) to every open :func:`capture_responses` block; nothing when none is open."""
    for sink in _captured.get():
        sink.extend(responses)


@contextlib.asynccontextmanager
async def capture_responses() -> AsyncIterator[list[RawResponse]]:
    """Collect the raw responses of the calls made inside the block (in this task and the
    tasks it starts), in the order the calls finished; a failed call's answers too.

    ::

        async with capture_responses() as responses:
            entry = await awork.time_entries.get(entry_id)
        print(responses[-1].trace_id, responses[-1].rate_limit.remaining)

    Blocks nest: each open block sees every call. (Implemented on the calls' one record; see
    the module docstring for why the scope is a context variable.)
    """
    sink: list[RawResponse] = []
    token = _captured.set((*_captured.get(), sink))
    try:
        yield sink
    finally:
        _captured.reset(token)
