"""A local server that imitates awork's v1 time-tracking API, for tests, demos and users.

::

    from awork_async.sandbox import Sandbox, FaultConfig, RateLimitConfig

    async with Sandbox(entries=1000, seed=1) as sb:
        sb.base_url   # "http://127.0.0.1:PORT/api/v1"
        sb.token      # bearer token
        sb.store      # the in-memory data
        sb.stats      # request counters
        sb.faults     # mutable fault knobs
        sb.webhooks   # registered webhooks; delivery with Sandbox(webhooks=True)

Run it from a shell with ``python -m awork_async.sandbox --port 8080 --entries 100000``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import build_app
    from .config import (
        FaultConfig,
        FaultKind,
        RateLimitConfig,
        SandboxConfig,
        WebhookDeliveryConfig,
    )
    from .errors import SandboxError
    from .filtering import FilterContext, FilterSyntaxError, compile_filter, parse_filter
    from .ordering import parse_orderby, sort_rows
    from .ratelimit import FixedWindowRateLimiter, RateDecision
    from .server import Sandbox, run_sandbox
    from .stats import SandboxStats
    from .store import Position, Store

# Loaded on first use, so that importing the pytest plugin (a submodule) stays cheap.
_LAZY = {
    "FaultConfig": ".config",
    "FaultKind": ".config",
    "RateLimitConfig": ".config",
    "SandboxConfig": ".config",
    "WebhookDeliveryConfig": ".config",
    "build_app": ".app",
    "SandboxError": ".errors",
    "FilterContext": ".filtering",
    "FilterSyntaxError": ".filtering",
    "compile_filter": ".filtering",
    "parse_filter": ".filtering",
    "parse_orderby": ".ordering",
    "sort_rows": ".ordering",
    "FixedWindowRateLimiter": ".ratelimit",
    "RateDecision": ".ratelimit",
    "Sandbox": ".server",
    "run_sandbox": ".server",
    "SandboxStats": ".stats",
    "Position": ".store",
    "Store": ".store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "FaultConfig",
    "FaultKind",
    "FilterContext",
    "FilterSyntaxError",
    "FixedWindowRateLimiter",
    "Position",
    "RateDecision",
    "RateLimitConfig",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxStats",
    "Store",
    "WebhookDeliveryConfig",
    "build_app",
    "compile_filter",
    "parse_filter",
    "parse_orderby",
    "run_sandbox",
    "sort_rows",
]
