"""The straightforward cattrs converter: the reference our fast decoder must equal.

Shared by the tests (``tests/test_fastdecode.py``) and the decode benchmark
(``benchmarks/bench_decode.py``, the issue's baseline).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from awork_async._naming import to_camel
from awork_async._timeutil import WALL_CLOCK, parse_date, parse_local_datetime, parse_utc_datetime


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
