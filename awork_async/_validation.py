"""Checks of caller input, run before any request is sent (pure, no I/O).

Each raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a malformed one,
with a message that names the argument.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from .filters import Expr, OrderKey

__all__ = [
    "FilterLike",
    "IdLike",
    "OrderLike",
    "ensure_aware",
    "ensure_instance",
    "ensure_int",
    "ensure_non_negative",
    "ensure_timezone",
    "ensure_uuid",
    "filter_string",
    "local_timezone_name",
    "order_string",
]

#: An id argument: a ``uuid.UUID`` or its string form (checked by :func:`ensure_uuid`).
IdLike = uuid.UUID | str
#: A ``filterby`` value: a raw string or an expression from :mod:`awork_async.filters`.
FilterLike = Union[str, "Expr", None]
#: An ``orderby`` value: a raw string, or what :func:`awork_async.filters.order_by` builds.
OrderLike = Union[str, "OrderKey", None]


T = TypeVar("T")


def ensure_instance(value: object, cls: type[T], name: str) -> T:
    """Accept an instance of ``cls`` (a form, a flag): ``TypeError`` naming both otherwise."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value


def ensure_int(value: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Accept an ``int`` (not a ``bool``) from ``minimum`` to ``maximum`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if maximum is not None and not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {value}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def ensure_uuid(value: object, name: str) -> uuid.UUID:
    """Accept a ``uuid.UUID`` or its string form."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a UUID or a UUID string, got {type(value).__name__}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{name} is not a valid UUID: {value!r}") from None


def ensure_aware(value: object, name: str) -> dt.datetime:
    """Accept only timezone-aware datetimes (a naive one is ambiguous)."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)), "
            f"got the naive {value.isoformat()}"
        )
    return value


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def ensure_timezone(value: object, name: str = "timezone") -> str:
    """Accept a known IANA time zone name such as ``"Europe/Berlin"``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an IANA time zone name (str), got {type(value).__name__}")
    if not value or value != value.strip():
        raise ValueError(f"{name} must be an IANA time zone name, got {value!r}")
    try:
        _zone(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name} is not a known IANA time zone: {value!r}") from None
    return value


def ensure_non_negative(value: object, name: str) -> int:
    """Accept a number of seconds >= 0 (an ``int`` or a ``timedelta``)."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise ValueError(f"{name} must be whole seconds, got {value}")
        value = int(seconds)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of seconds, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def filter_string(value: FilterLike) -> str | None:
    """Render a ``filterby`` argument with the one renderer, :func:`~.filters.to_filter_string`.

    A raw ``str`` passes through unchanged; an empty or blank one means no filter (``None``).
    """
    from .filters import to_filter_string

    return to_filter_string(value)


def order_string(value: OrderLike) -> str | None:
    """Render an ``orderby`` argument with the one renderer, :func:`~.filters.to_order_string`.

    A raw ``str`` passes through unchanged; an empty or blank one means no order (``None``).
    """
    from .filters import to_order_string

    return to_order_string(value)


def local_timezone_name() -> str:
    """The IANA name of this machine's time zone (``TZ``, ``/etc/localtime``), else ``"UTC"``."""
    candidates: list[str] = []
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        candidates.append(env)
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
    except OSError:  # pragma: no cover - unreadable /etc
        target = ""
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        try:
            return ensure_timezone(name)
        except (TypeError, ValueError):
            continue
    return "UTC"
