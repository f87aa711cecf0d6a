"""Name conversion between the API's camelCase and the models' snake_case (pure, cached)."""

from __future__ import annotations

import functools
import re

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=4096)
def to_camel(name: str) -> str:
    """``start_date_utc`` -> ``startDateUtc``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.lru_cache(maxsize=4096)
def to_snake(name: str) -> str:
    """``startDateUtc`` -> ``start_date_utc``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()
