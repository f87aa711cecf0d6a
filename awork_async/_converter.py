"""The one cattrs converter of the package: JSON-ready dicts <-> attrs models.

* Keys: camelCase on the wire, snake_case on the models. The renames are generated once per class by
  a hook factory using :func:`awork_async._naming.to_camel`, never written per field.
* Structuring (decoding answers): unknown keys are ignored and missing keys become the field's
  default (``None`` on response models). UUIDs come from strings, date-times are parsed tolerantly
  (``Z``, offsets, 0-7+ fractional digits, no offset = UTC; see :mod:`awork_async._timeutil`), dates
  from ``YYYY-MM-DD``. Fields marked with ``WALL_CLOCK`` metadata (``*_date_local``) stay naive.
* Unstructuring (encoding forms): camelCase keys, ``None`` fields omitted, UUID -> ``str``, aware
  datetime -> ISO in UTC with ``Z``, naive datetime -> ISO without offset, date -> ``YYYY-MM-DD``,
  tuples -> lists. The result can be handed straight to ``orjson.dumps``.

cattrs generates one structuring and one unstructuring function per class on first use and caches
it, so the per-value work is only the field hooks themselves.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias, TypeVar, Union, cast
from uuid import UUID

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from awork_async._naming import to_camel
from awork_async._timeutil import (
    WALL_CLOCK,
    format_date,
    format_datetime,
    parse_date,
    parse_local_datetime,
    parse_utc_datetime,
)

__all__ = [
    "STRUCTURE_ERRORS",
    "JSONValue",
    "converter",
    "structure",
    "structure_list",
    "unstructure",
]

#: A JSON value as produced by ``orjson.loads`` / accepted by ``orjson.dumps``.
JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

T = TypeVar("T")

#: What :func:`structure` / :func:`structure_list` raise for data that does not fit the model.
#: ``cattrs.BaseValidationError`` is an ``ExceptionGroup`` carrying the failing path as notes.
STRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    cattrs.BaseValidationError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
)


def _structure_uuid(value: object, _: object) -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return UUID(value)


def _structure_datetime(value: object, _: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_utc_datetime(cast(str, value))


def _structure_wall_clock(value: object, _: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return parse_local_datetime(cast(str, value))


def _structure_date(value: object, _: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_date(cast(str, value))


def _structure_bool(value: object, _: object) -> bool:
    # cattrs' default is ``bool(value)``, which would turn the string "false" into True.
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a JSON boolean, got {type(value).__name__} {value!r}")


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a JSON string, got {type(value).__name__} {value!r}")


def _structure_int(value: object, _: object) -> int:
    # Exact ints only (``resourceVersion`` exceeds 2**53); a float with an integral value is
    # accepted, a bool or a fractional float is not.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected a JSON integer, got {type(value).__name__} {value!r}")


def _structure_float(value: object, _: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a JSON number, got {type(value).__name__} {value!r}")


def _is_optional(tp: object) -> bool:
    """``X | None`` (exactly one non-None member)."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return False
    args = typing.get_args(tp)
    return len(args) == 2 and type(None) in args


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(unstruct_collection_overrides={Sequence: list, tuple: list})

    conv.register_structure_hook(UUID, _structure_uuid)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)

    conv.register_unstructure_hook(UUID, str)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(date, format_date)

    def structure_factory(cls: type[Any]) -> Callable[[Mapping[str, Any], type[Any]], Any]:
        # ``Any`` values: cattrs' keyword overrides share ``**kwargs`` with its bool options.
        overrides: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.metadata.get(WALL_CLOCK):
                overrides[field.name] = override(
                    rename=to_camel(field.name), struct_hook=_structure_wall_clock
                )
            else:
                overrides[field.name] = override(rename=to_camel(field.name))
        return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=False, **overrides)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        overrides: dict[str, Any] = {
            field.name: override(rename=to_camel(field.name)) for field in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)

    def optional_factory(tp: Any) -> Callable[[Any, Any], Any]:
        # Resolve the inner hook once (cattrs' generic Optional handler dispatches per value).
        inner = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        inner_hook = conv.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner_hook(value, inner)

        return structure_optional

    conv.register_structure_hook_factory(_is_optional, optional_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


#: The converter used for every (un)structuring in the package.
converter: cattrs.Converter = _make_converter()


def structure(data: object, cls: type[T]) -> T:
    """Decode one JSON object (already parsed, e.g. by ``orjson.loads``) into ``cls``.

    Raises one of :data:`STRUCTURE_ERRORS` when the data does not fit.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    return converter.structure(data, cls)


def structure_list(data: object, cls: type[T]) -> list[T]:
    """Decode a JSON array of objects into a list of ``cls``."""
    if not isinstance(data, list):
        raise TypeError(f"expected a JSON array of {cls.__name__}, got {type(data).__name__}")
    hook = converter.get_structure_hook(cls)
    items: list[T] = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise TypeError(
                f"item {index}: expected a JSON object for {cls.__name__}, "
                f"got {type(item).__name__}"
            )
        items.append(hook(item, cls))
    return items


def unstructure(obj: object) -> dict[str, JSONValue]:
    """Encode an attrs model into a JSON-ready dict (camelCase keys, ``None`` fields omitted)."""
    if not attrs.has(type(obj)):
        raise TypeError(f"expected an attrs model instance, got {type(obj).__name__}")
    return cast("dict[str, JSONValue]", converter.unstructure(obj))
