"""One module per API area; each resource is reached as ``client.<name>``."""

from .time_bookings import ProjectTimeBookingsResource, TimeBookingsResource
from .time_entries import TimeEntriesResource
from .time_reports import TimeReportsResource
from .timer import TimerResource, TimerState, TimerStatus
from .types_of_work import TypesOfWorkResource
from .webhooks import WebhooksResource

from ._raw import (  # isort: skip  (the wrappers of the resources above)
    AworkClientWithRawResponse,
    ProjectTimeBookingsResourceWithRawResponse,
    TimeBookingsResourceWithRawResponse,
    TimeEntriesResourceWithRawResponse,
    TimeReportsResourceWithRawResponse,
    TimerResourceWithRawResponse,
    TypesOfWorkResourceWithRawResponse,
    WebhooksResourceWithRawResponse,
)

__all__ = [
    "AworkClientWithRawResponse",
    "ProjectTimeBookingsResource",
    "ProjectTimeBookingsResourceWithRawResponse",
    "TimeBookingsResource",
    "TimeBookingsResourceWithRawResponse",
    "TimeEntriesResource",
    "TimeEntriesResourceWithRawResponse",
    "TimeReportsResource",
    "TimeReportsResourceWithRawResponse",
    "TimerResource",
    "TimerResourceWithRawResponse",
    "TimerState",
    "TimerStatus",
    "TypesOfWorkResource",
    "TypesOfWorkResourceWithRawResponse",
    "WebhooksResource",
    "WebhooksResourceWithRawResponse",
]
