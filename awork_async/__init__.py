"""awork-async: an asyncio client for the awork REST API's time tracking.

::

    from awork_async import AworkClient

    async with AworkClient(token="…") as awork:
        async for entry in awork.time_entries.list(filterby="isBillable eq true"):
            print(entry.id, entry.start, entry.end, entry.duration)

The public surface is re-exported here; modules starting with ``_`` are private. Names load on
first use, so importing the package (or its pytest plugin) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers see; at run time names load on first use
    from ._auth import AuthProvider, OAuth2Provider, OAuth2Token, StaticToken
    from ._client import AworkClient
    from ._exceptions import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        AworkError,
        BadRequestError,
        ClientClosedError,
        ConflictError,
        InvalidFilterError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        RateLimitError,
        RateLimiterUnavailableError,
        ResponseTooLargeError,
        ServerError,
        UnexpectedRedirectError,
        ValidationError,
        ValidationFailedError,
    )
    from ._hooks import Hooks
    from ._paginator import AsyncPaginator, Page
    from ._ratelimit import (
        AiolimiterAdapter,
        LimiterRequest,
        LocalRateLimiter,
        NoRateLimiter,
        RateLimiter,
        RateLimits,
    )
    from ._ratelimit_headers import RateLimitInfo
    from ._redis_ratelimit import RedisRateLimiter
    from ._response import APIResponse, RawResponse, capture_responses
    from ._retry import RetryEvent, RetryPolicy
    from ._timeouts import Timeouts
    from .models import (
        Break,
        MultiStatusResult,
        SimplifiedTimeEntry,
        TimeBooking,
        TimeBookingForm,
        TimeEntry,
        TimeEntryBatchForm,
        TimeEntryCreate,
        TimeEntryUpdate,
        TimeReport,
        TimerStart,
        TimeTrackingSetting,
        TypeOfWork,
        TypeOfWorkForm,
        UserTimeBookings,
        WebhookConfig,
        WebhookConfigForm,
        WebhookLog,
    )
    from .resources import TimerState, TimerStatus
    from .sandbox import Sandbox
    from .sweep import find_deleted

__all__ = [
    "APIConnectionError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AiolimiterAdapter",
    "AsyncPaginator",
    "AuthProvider",
    "AuthenticationError",
    "AworkClient",
    "AworkError",
    "BadRequestError",
    "Break",
    "ClientClosedError",
    "ConflictError",
    "Hooks",
    "InvalidFilterError",
    "LimiterRequest",
    "LocalRateLimiter",
    "MultiStatusResult",
    "NoRateLimiter",
    "NotFoundError",
    "OAuth2Provider",
    "OAuth2Token",
    "OutcomeUnknownError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimiter",
    "RateLimiterUnavailableError",
    "RateLimits",
    "RawResponse",
    "RedisRateLimiter",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "Sandbox",
    "ServerError",
    "SimplifiedTimeEntry",
    "StaticToken",
    "TimeBooking",
    "TimeBookingForm",
    "TimeEntry",
    "TimeEntryBatchForm",
    "TimeEntryCreate",
    "TimeEntryUpdate",
    "TimeReport",
    "TimeTrackingSetting",
    "Timeouts",
    "TimerStart",
    "TimerState",
    "TimerStatus",
    "TypeOfWork",
    "TypeOfWorkForm",
    "UnexpectedRedirectError",
    "UserTimeBookings",
    "ValidationError",
    "ValidationFailedError",
    "WebhookConfig",
    "WebhookConfigForm",
    "WebhookLog",
    "__version__",
    "capture_responses",
    "find_deleted",
]

_LAZY = {
    "APIConnectionError": "._exceptions",
    "APIResponse": "._response",
    "APIResponseValidationError": "._exceptions",
    "APIStatusError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "AiolimiterAdapter": "._ratelimit",
    "AsyncPaginator": "._paginator",
    "AuthProvider": "._auth",
    "AuthenticationError": "._exceptions",
    "AworkClient": "._client",
    "AworkError": "._exceptions",
    "BadRequestError": "._exceptions",
    "Break": ".models",
    "ClientClosedError": "._exceptions",
    "ConflictError": "._exceptions",
    "Hooks": "._hooks",
    "InvalidFilterError": "._exceptions",
    "LimiterRequest": "._ratelimit",
    "LocalRateLimiter": "._ratelimit",
    "MultiStatusResult": ".models",
    "NoRateLimiter": "._ratelimit",
    "NotFoundError": "._exceptions",
    "OAuth2Provider": "._auth",
    "OAuth2Token": "._auth",
    "OutcomeUnknownError": "._exceptions",
    "Page": "._paginator",
    "PermissionDeniedError": "._exceptions",
    "RateLimitError": "._exceptions",
    "RateLimiterUnavailableError": "._exceptions",
    "RateLimitInfo": "._ratelimit_headers",
    "RateLimiter": "._ratelimit",
    "RateLimits": "._ratelimit",
    "RawResponse": "._response",
    "RedisRateLimiter": "._redis_ratelimit",
    "ResponseTooLargeError": "._exceptions",
    "RetryEvent": "._retry",
    "RetryPolicy": "._retry",
    "Sandbox": ".sandbox",
    "ServerError": "._exceptions",
    "SimplifiedTimeEntry": ".models",
    "StaticToken": "._auth",
    "TimeBooking": ".models",
    "TimeBookingForm": ".models",
    "TimeEntry": ".models",
    "TimeEntryBatchForm": ".models",
    "TimeEntryCreate": ".models",
    "TimeEntryUpdate": ".models",
    "TimeReport": ".models",
    "TimeTrackingSetting": ".models",
    "Timeouts": "._timeouts",
    "TimerStart": ".models",
    "TimerState": ".resources",
    "TimerStatus": ".resources",
    "TypeOfWork": ".models",
    "TypeOfWorkForm": ".models",
    "UnexpectedRedirectError": "._exceptions",
    "UserTimeBookings": ".models",
    "ValidationError": "._exceptions",
    "ValidationFailedError": "._exceptions",
    "WebhookConfig": ".models",
    "WebhookConfigForm": ".models",
    "WebhookLog": ".models",
    "capture_responses": "._response",
    "find_deleted": ".sweep",
}


def __getattr__(name: str) -> Any:
    """Load public names on first use, keeping ``import awork_async`` light (PEP 562)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'awork_async' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value
