"""References shared by the tests and the decode benchmark (``benchmarks/bench_decode.py``).

* :func:`straightforward_converter`: the plain cattrs converter our fast decoder must equal (the
  issue's baseline).
* :func:`realistic_entries`: time entries from the sandbox's generator, with the nested objects
  repeating as they do in real pages.
* :data:`RESPONSE_SCHEMAS`: each spec response schema and the model it decodes into.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from awork_async import models
from awork_async._naming import to_camel
from awork_async._timeutil import WALL_CLOCK, parse_date, parse_local_datetime, parse_utc_datetime
from awork_async.sandbox._generate import generate_workspace

RESPONSE_SCHEMAS: dict[str, type[Any]] = {
    "TimeTracking": models.TimeEntry,
    "SimplifiedTimeTracking": models.SimplifiedTimeEntry,
    "TimeBooking": models.TimeBooking,
    "GetTimeBookingForUsersResult": models.UserTimeBookings,
    "MultiStatusResult": models.MultiStatusResult,
    "TypeOfWork": models.TypeOfWork,
    "TimeReport": models.TimeReport,
    "TimeTrackingSetting": models.TimeTrackingSetting,
    "UserAndWorkspace": models.UserAndWorkspace,
    "WebhookConfig": models.WebhookConfig,
    "WebhookLog": models.WebhookLog,
}


def realistic_entries(count: int, *, seed: int, days: int = 365) -> list[dict[str, Any]]:
    """``count`` API-shaped time entries sharing 25 users, 40 projects, 400 tasks, 10 types."""
    ws, _ = generate_workspace(
        seed=seed,
        entries=count,
        users=25,
        projects=40,
        tasks=400,
        types_of_work=10,
        time_bookings=0,
        anchor=date(2025, 6, 30),
        days=days,
    )
    return list(ws.entries.values())


def straightforward_converter() -> cattrs.Converter:
    """A plain cattrs converter for our models: renames and the usual scalar hooks, nothing more."""
    conv = cattrs.Converter()
    conv.register_structure_hook(UUID, lambda v, _: UUID(v))
    conv.register_structure_hook(datetime, lambda v, _: parse_utc_datetime(v))
    conv.register_structure_hook(date, lambda v, _: parse_date(v))

    def wall_clock(value: Any, _: Any) -> datetime | None:
        return None if value is None else parse_local_datetime(value)

    def factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        overrides: dict[str, Any] = {}
        for field in attrs.fields(cls):
            hook = wall_clock if field.metadata.get(WALL_CLOCK) else None
            overrides[field.name] = override(rename=to_camel(field.name), struct_hook=hook)
        return make_dict_structure_fn(cls, conv, **overrides)

    conv.register_structure_hook_factory(attrs.has, factory)
    return conv
