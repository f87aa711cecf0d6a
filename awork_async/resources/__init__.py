"""One module per API area; each resource is reached as ``client.<name>``."""

from .time_bookings import ProjectTimeBookingsResource, TimeBookingsResource
from .time_entries import TimeEntriesResource
from .time_reports import TimeReportsResource
from .timer import TimerResource, TimerState, TimerStatus
from .types_of_work import TypesOfWorkResource
from .webhooks import WebhooksResource

__all__ = [
    "ProjectTimeBookingsResource",
    "TimeBookingsResource",
    "TimeEntriesResource",
    "TimeReportsResource",
    "TimerResource",
    "TimerState",
    "TimerStatus",
    "TypesOfWorkResource",
    "WebhooksResource",
]
