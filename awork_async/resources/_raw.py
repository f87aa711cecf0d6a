"""``client.with_raw_response``: the resources, typed, with each call's raw responses.

Modelled on openai-python's ``*WithRawResponse`` classes: one class per resource whose coroutine
methods have the resource method's signature and return an :class:`~awork_async.APIResponse`
(the typed result, the raw response of the final answer and ``responses``, every answer the call
received: all chunks of a chunked ``time_entries.batch``, a 401 before a token refresh).

How: each call runs the resource method on a fresh copy of its resource whose requester is a
recorder in front of the client's request path (``_base.recording_copy``), which keeps the
:class:`~awork_async.APIResponse` record of every request the method sends. The records come
from the request path itself (no context variable, no second channel), and concurrent raw calls
never see each other's answers.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from typing_extensions import ParamSpec

from .._response import APIResponse, RawResponse
from ._account import AccountResource
from ._base import APIResource, recording_copy
from .time_bookings import ProjectTimeBookingsResource, TimeBookingsResource
from .time_entries import TimeEntriesResource
from .time_reports import TimeReportsResource
from .timer import TimerResource
from .types_of_work import TypesOfWorkResource
from .webhooks import WebhooksResource

if TYPE_CHECKING:
    from .._client import AworkClient
    from ..models import UserAndWorkspace

__all__ = [
    "AworkClientWithRawResponse",
    "ProjectTimeBookingsResourceWithRawResponse",
    "TimeBookingsResourceWithRawResponse",
    "TimeEntriesResourceWithRawResponse",
    "TimeReportsResourceWithRawResponse",
    "TimerResourceWithRawResponse",
    "TypesOfWorkResourceWithRawResponse",
    "WebhooksResourceWithRawResponse",
    "to_raw_response_wrapper",
]

P = ParamSpec("P")
R = TypeVar("R")


def to_raw_response_wrapper(
    method: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[APIResponse[R]]]:
    """``method`` (a bound coroutine method of a resource), returning an :class:`APIResponse`
    (the typed result and every answer of the requests it sent) instead."""
    resource = getattr(method, "__self__", None)
    if not isinstance(resource, APIResource):
        raise TypeError(f"{method!r} is not a method of a resource")
    name = method.__name__

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        copy, records = recording_copy(resource)
        recorded: Callable[P, Awaitable[R]] = getattr(copy, name)
        parsed = await recorded(*args, **kwargs)
        responses: tuple[RawResponse, ...] = tuple(
            answer for record in records for answer in record.responses
        )
        if not responses:  # pragma: no cover - every coroutine method makes a request
            raise RuntimeError(f"{getattr(method, '__qualname__', method)} made no request")
        return APIResponse(parsed=parsed, raw=responses[-1], responses=responses)

    return wrapped


class TimeEntriesResourceWithRawResponse:
    """``client.with_raw_response.time_entries``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: TimeEntriesResource) -> None:
        self.batch = to_raw_response_wrapper(resource.batch)
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.delete_many = to_raw_response_wrapper(resource.delete_many)
        self.get = to_raw_response_wrapper(resource.get)
        self.last = to_raw_response_wrapper(resource.last)
        self.legacy_bulk = to_raw_response_wrapper(resource.legacy_bulk)
        self.list = resource.list
        self.list_for_project = resource.list_for_project
        self.list_for_task = resource.list_for_task
        self.list_simplified = resource.list_simplified
        self.remove_breaks = to_raw_response_wrapper(resource.remove_breaks)
        self.set_billable = to_raw_response_wrapper(resource.set_billable)
        self.set_billed = to_raw_response_wrapper(resource.set_billed)
        self.set_project = to_raw_response_wrapper(resource.set_project)
        self.set_task = to_raw_response_wrapper(resource.set_task)
        self.set_type_of_work = to_raw_response_wrapper(resource.set_type_of_work)
        self.set_user = to_raw_response_wrapper(resource.set_user)
        self.update = to_raw_response_wrapper(resource.update)


class TimerResourceWithRawResponse:
    """``client.with_raw_response.timer``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: TimerResource) -> None:
        self.pause = to_raw_response_wrapper(resource.pause)
        self.resume = to_raw_response_wrapper(resource.resume)
        self.settings = to_raw_response_wrapper(resource.settings)
        self.start = to_raw_response_wrapper(resource.start)
        self.status = to_raw_response_wrapper(resource.status)
        self.stop = to_raw_response_wrapper(resource.stop)


class TimeBookingsResourceWithRawResponse:
    """``client.with_raw_response.time_bookings``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: TimeBookingsResource) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.for_users = to_raw_response_wrapper(resource.for_users)
        self.list = resource.list
        self.update = to_raw_response_wrapper(resource.update)


class ProjectTimeBookingsResourceWithRawResponse:
    """``client.with_raw_response.project_time_bookings``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: ProjectTimeBookingsResource) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.for_users = to_raw_response_wrapper(resource.for_users)
        self.list = resource.list
        self.update = to_raw_response_wrapper(resource.update)


class TypesOfWorkResourceWithRawResponse:
    """``client.with_raw_response.types_of_work``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: TypesOfWorkResource) -> None:
        self.change_for_tasks = to_raw_response_wrapper(resource.change_for_tasks)
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.get = to_raw_response_wrapper(resource.get)
        self.icons = to_raw_response_wrapper(resource.icons)
        self.list = resource.list
        self.list_for_project = to_raw_response_wrapper(resource.list_for_project)
        self.set_archived = to_raw_response_wrapper(resource.set_archived)
        self.update = to_raw_response_wrapper(resource.update)


class TimeReportsResourceWithRawResponse:
    """``client.with_raw_response.time_reports``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: TimeReportsResource) -> None:
        self.list = to_raw_response_wrapper(resource.list)


class WebhooksResourceWithRawResponse:
    """``client.with_raw_response.webhooks``: each coroutine method returns an
    :class:`APIResponse` (list methods return their paginator, whose pages carry theirs)."""

    def __init__(self, resource: WebhooksResource) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.event_types = to_raw_response_wrapper(resource.event_types)
        self.get = to_raw_response_wrapper(resource.get)
        self.list = resource.list
        self.logs = resource.logs
        self.update = to_raw_response_wrapper(resource.update)


class AworkClientWithRawResponse:
    """``client.with_raw_response``: the client's resources whose calls return an
    :class:`APIResponse` (typed result + status, headers, trace id, rate-limit state)."""

    def __init__(self, client: AworkClient, account: AccountResource) -> None:
        self._client = client
        self.me: Callable[[], Awaitable[APIResponse[UserAndWorkspace]]] = to_raw_response_wrapper(
            account.me
        )

    def __repr__(self) -> str:
        return f"AworkClientWithRawResponse({self._client!r})"

    @functools.cached_property
    def time_entries(self) -> TimeEntriesResourceWithRawResponse:
        return TimeEntriesResourceWithRawResponse(self._client.time_entries)

    @functools.cached_property
    def timer(self) -> TimerResourceWithRawResponse:
        return TimerResourceWithRawResponse(self._client.timer)

    @functools.cached_property
    def time_bookings(self) -> TimeBookingsResourceWithRawResponse:
        return TimeBookingsResourceWithRawResponse(self._client.time_bookings)

    @functools.cached_property
    def project_time_bookings(self) -> ProjectTimeBookingsResourceWithRawResponse:
        return ProjectTimeBookingsResourceWithRawResponse(self._client.project_time_bookings)

    @functools.cached_property
    def types_of_work(self) -> TypesOfWorkResourceWithRawResponse:
        return TypesOfWorkResourceWithRawResponse(self._client.types_of_work)

    @functools.cached_property
    def time_reports(self) -> TimeReportsResourceWithRawResponse:
        return TimeReportsResourceWithRawResponse(self._client.time_reports)

    @functools.cached_property
    def webhooks(self) -> WebhooksResourceWithRawResponse:
        return WebhooksResourceWithRawResponse(self._client.webhooks)
