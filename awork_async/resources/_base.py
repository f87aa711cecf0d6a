"""What every resource shares: the request path, decoding into models, and list calls."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from .. import _constants as C
from .._converter import (
    describe_structure_error,
    structure,
    structure_error_path,
    structure_list,
    unstructure,
)
from .._exceptions import APIResponseValidationError
from .._paginator import AsyncPaginator, validate_page_size
from .._response import APIResponse, RawResponse
from .._sansio import QueryValue
from .._validation import FilterLike, OrderLike, ensure_uuid, filter_string, order_string

if TYPE_CHECKING:
    from .._requester import Requester

from .._decipher import Expect
from .._timeouts import Timeouts

__all__ = ["APIResource", "ListOptions", "recording_copy"]

T = TypeVar("T")


class ListOptions(TypedDict, total=False):
    """Keyword arguments every list method accepts (see :class:`AsyncPaginator`).

    Attributes:
        filterby: a filter string or :mod:`awork_async.filters` expression.
        orderby: e.g. ``"startDateUtc desc"`` (several keys: ``"createdOn,id"``).
        page_size: items per request, 1..1000 (default 1000; always sent).
        start_page: the first page to fetch (resume a walk).
        max_items: stop after this many items.
        prefetch: pages fetched concurrently once the total is known (0 = sequential).
        timeout: per-request timeouts (a float is the deadline of each page call).
    """

    filterby: FilterLike
    orderby: OrderLike
    page_size: int
    start_page: int
    max_items: int | None
    prefetch: int
    timeout: float | Timeouts | None


R = TypeVar("R", bound="APIResource")


class _Recorder:
    """A :class:`~awork_async._requester.Requester` that sends through ``inner`` and appends the
    record of every request to ``records``."""

    def __init__(self, inner: Requester, records: list[APIResponse[object]]) -> None:
        self._inner = inner
        self._records = records

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object = None,
        timeout: float | Timeouts | None = None,
        idempotent: bool | None = None,
        expect: Expect = None,
        secrets: Sequence[str] = (),
    ) -> APIResponse[object]:
        try:
            record = await self._inner.request(
                method,
                path,
                params=params,
                json=json,
                timeout=timeout,
                idempotent=idempotent,
                expect=expect,
                secrets=secrets,
            )
        finally:
            del json, secrets  # may carry a webhook secret: off the traceback's locals
        self._records.append(record)
        return record


class APIResource:
    """Base of the resources under ``client.<name>``: sends through a :class:`Requester`
    (the client's request path), never through the client itself."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: object = None,
        timeout: float | Timeouts | None = None,
        idempotent: bool | None = None,
        expect: Expect = None,
    ) -> APIResponse[object]:
        # The JSON body and the secrets go inline, never into this frame's locals (which error
        # reporters show; see ``_redact``): a form's ``repr`` hides its secret, its JSON does not.
        return await self._requester.request(
            method,
            path,
            params=params,
            json=None if body is None else unstructure(body),
            timeout=timeout,
            idempotent=idempotent,
            expect=expect,
            secrets=_secrets_of(body),
        )

    async def _call(
        self,
        method: str,
        path: str,
        cls: type[T],
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: object = None,
        timeout: float | Timeouts | None = None,
    ) -> T:
        """Send a call whose answer is one object of ``cls``."""
        answer = await self._send(
            method, path, params=params, body=body, timeout=timeout, expect="object"
        )
        return _decode_one(answer.parsed, cls, answer.raw)

    async def _call_optional(
        self,
        method: str,
        path: str,
        cls: type[T],
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: object = None,
        timeout: float | Timeouts | None = None,
        idempotent: bool | None = None,
    ) -> T | None:
        """Like :meth:`_call`, but 204/empty gives ``None`` and a list gives its first item.

        The ``last``/timer routes answered with an array in one spec version and with a single
        object in the newest one (API notes §10 D1): both shapes are accepted.
        """
        answer = await self._send(
            method, path, params=params, body=body, timeout=timeout, idempotent=idempotent
        )
        data = answer.parsed
        if data is None:
            return None
        if isinstance(data, list):
            if not data:
                return None
            data = data[0]
        return _decode_one(data, cls, answer.raw)

    async def _call_list(
        self,
        method: str,
        path: str,
        cls: type[T],
        *,
        params: Mapping[str, QueryValue] | None = None,
        timeout: float | Timeouts | None = None,
    ) -> list[T]:
        """Send a call whose answer is a (not paginated) JSON array of ``cls``."""
        answer = await self._send(method, path, params=params, timeout=timeout, expect="array")
        return _decode_list(_items(answer), cls, answer.raw)

    async def _call_none(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: object = None,
        timeout: float | Timeouts | None = None,
    ) -> None:
        """Send a call whose answer carries nothing (204)."""
        await self._send(method, path, params=params, body=body, timeout=timeout)

    def _paginate(
        self,
        path: str,
        cls: type[T],
        *,
        params: Mapping[str, QueryValue] | None = None,
        filterby: FilterLike = None,
        orderby: OrderLike = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        max_items: int | None = None,
        prefetch: int = 0,
        timeout: float | Timeouts | None = None,
    ) -> AsyncPaginator[T]:
        """A paginator over ``GET path`` (nothing is sent until it is iterated)."""
        validate_page_size(page_size)
        base: dict[str, QueryValue] = dict(params or {})
        base["filterby"] = filter_string(filterby)
        base["orderby"] = order_string(orderby)

        async def fetch_raw(page: int, size: int) -> APIResponse[Sequence[dict[str, Any]]]:
            query = dict(base)
            query["page"] = page
            query["pageSize"] = size
            answer = await self._send("GET", path, params=query, timeout=timeout, expect="array")
            return APIResponse(_items(answer), answer.raw, answer.responses)

        async def fetch(page: int, size: int) -> APIResponse[Sequence[T]]:
            answer = await fetch_raw(page, size)
            items = _decode_list(answer.parsed, cls, answer.raw)
            return APIResponse(items, answer.raw, answer.responses)

        return AsyncPaginator(
            fetch,
            page_size=page_size,
            start_page=start_page,
            max_items=max_items,
            prefetch=prefetch,
            fetch_raw=fetch_raw,
        )


def path_id(value: uuid.UUID | str, name: str) -> str:
    """Validate an id for use in a path (``ValueError`` before any request when malformed)."""
    return str(ensure_uuid(value, name))


def _items(answer: APIResponse[object]) -> list[Any]:
    """The items of a JSON array answer (its shape was checked where it was deciphered; a 204
    has none)."""
    return [] if answer.parsed is None else cast("list[Any]", answer.parsed)


def _expect(data: object, kind: type[dict[str, Any]] | type[list[Any]], raw: RawResponse) -> None:
    if not isinstance(data, kind):
        shape = "object" if kind is dict else "array"
        raise _invalid(raw, f"expected a JSON {shape}, got {type(data).__name__}")


# Decoding errors are raised outside the ``except`` blocks and name fields, never values: the
# converter's exception quotes the answer, which may echo a secret (the bearer token).


def _secrets_of(body: object) -> tuple[str, ...]:
    """What a form holds that error answers must not show (a webhook's header value), scrubbed
    from them like the token."""
    secret_values = getattr(body, "_secret_values", None)
    return tuple(secret_values()) if callable(secret_values) else ()


def _decode_one(data: object, cls: type[T], raw: RawResponse) -> T:
    _expect(data, dict, raw)
    try:
        return structure(data, cls)
    except Exception as exc:
        problem, path = describe_structure_error(exc), structure_error_path(exc)
    raise _invalid(raw, f"cannot decode the answer into {cls.__name__}: {problem}", path)


def _decode_list(data: Sequence[Any], cls: type[T], raw: RawResponse) -> list[T]:
    """Decode a JSON array (its shape was checked once, where it was received)."""
    try:
        return structure_list(data, cls)
    except Exception as exc:
        problem, path = describe_structure_error(exc), structure_error_path(exc)
    raise _invalid(raw, f"cannot decode the answer into {cls.__name__}: {problem}", path)


def _invalid(raw: RawResponse, problem: str, path: str | None = None) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"{raw.method} {raw.url}: {problem}",
        status=raw.status,
        method=raw.method,
        url=raw.url,
        path=path,
    )


def recording_copy(resource: R) -> tuple[R, list[APIResponse[object]]]:
    """A copy of ``resource`` that sends through the same request path and appends each
    request's record to the returned list (how ``client.with_raw_response`` reads them)."""
    records: list[APIResponse[object]] = []
    return type(resource)(_Recorder(resource._requester, records)), records
