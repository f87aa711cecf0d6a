"""Former home of :mod:`awork_async.sandbox.config` (kept so that old imports keep working)."""

from __future__ import annotations

from .config import (
    FaultConfig,
    FaultKind,
    RateLimitConfig,
    SandboxConfig,
    WebhookDeliveryConfig,
    utc_now,
)

__all__ = [
    "FaultConfig",
    "FaultKind",
    "RateLimitConfig",
    "SandboxConfig",
    "WebhookDeliveryConfig",
    "utc_now",
]
