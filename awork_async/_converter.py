"""The one converter module of the package: JSON-ready dicts <-> attrs models.

* Keys: camelCase on the wire, snake_case on the models. The renames are generated once per class
  using :func:`awork_async._naming.to_camel`, never written per field.
* Structuring (decoding answers): unknown keys are ignored and missing keys become the field's
  default (``None`` on response models), except the fields a model lists in ``REQUIRED`` (its
  ``id``, the spec's ``required``), which must be present and not ``null``. A value of the wrong
  JSON type raises, nested ones included: a string or list where an object belongs (``"user":
  "bob"``), an object where an array belongs (``"breaks": {"a": 1}``), a string where a number
  belongs. The errors name the failing path (``$[3].user``). UUIDs come from strings, date-times are
  parsed tolerantly (``Z``, offsets, 0-7+ fractional digits, no offset = UTC; see
  :mod:`awork_async._timeutil`), dates from ``YYYY-MM-DD``. Fields marked with ``WALL_CLOCK``
  metadata (``*_date_local``) stay naive.
* Unstructuring (encoding forms): camelCase keys, ``None`` fields omitted, UUID -> ``str``, aware
  datetime -> ISO in UTC with ``Z``, naive datetime -> ISO without offset, date -> ``YYYY-MM-DD``,
  tuples -> lists. The result can be handed straight to ``orjson.dumps``. A form whose wire shape
  is not its fields (``WebhookConfigForm``: a list of events sent as one comma-separated string)
  finishes the generated dict in its ``_wire_body(generated)`` method.

Two structuring paths, one set of rules:

* :data:`converter` (cattrs) is the reference. It builds one function per class on first use, and
  it alone is used for request forms (whose constructors convert and validate) and for every value
  the fast path refuses. Its errors (``cattrs.BaseValidationError`` with the failing path as notes)
  are the ones callers see.
* The fast path, used by :func:`structure`, :func:`structure_list` and
  :func:`structure_json_list` for response models (frozen, every field ``X | None``), has two
  parts per class, made once. A msgspec "shadow" struct (camelCase names, every field optional,
  frozen) checks the JSON types in C: msgspec reads a page's entry bytes straight into it (no
  dict is built; :func:`structure_json_list`) or converts an already parsed dict
  (:func:`structure`, :func:`structure_list`). A generated builder then makes the model: objects
  are built with ``object.__new__`` and the slots' setters (what the attrs ``__init__`` does,
  minus its per-call overhead); UUIDs, date-times and dates are read as strings by the
  reference's own tolerant parsers, each string parsed once per decode; equal nested objects
  (the same user, project, task or type of work repeated across a page) are built once and
  shared, found by their shadow's value (its fields are typed: ``1`` and ``true`` never meet in
  one field). Each decode (one page, one object) has its own bounded caches. Whatever the fast
  path does not accept exactly as the reference would (msgspec's exact types refuse an integral
  float for an int, a date-time object, a braced UUID), it hands to the reference for that item,
  so its result is always equal to ``converter.structure(data, cls)``. Every such fallback is
  logged (``DEBUG``); one the fast path did not mean (anything but a ``TypeError``/``ValueError``
  refusal, msgspec's included: a bug) is logged as a ``WARNING`` once per class, so a broken fast
  path shows in the logs, not only as slowness. Nothing here touches process-wide state (no
  garbage-collector toggling, no caches shared between clients). msgspec does the type checks
  because no library builds attrs models from camelCase JSON with these rules (cattrs is the
  reference; msgspec decodes attrs classes only under their attribute names); the builder is
  the part written by hand.
"""

from __future__ import annotations

import logging
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias, TypeVar, Union, cast
from uuid import UUID, SafeUUID

import attrs
import cattrs
import msgspec
import orjson
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from awork_async._constants import LOGGER_NAME
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
    "describe_structure_error",
    "structure",
    "structure_json_list",
    "structure_list",
    "unstructure",
]

log = logging.getLogger(LOGGER_NAME)

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


_new = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown


def _fast_uuid(value: str) -> UUID:
    """``UUID(value)``, about twice as fast for the plain 36-character form.

    Exactly the stdlib's rules: it removes every ``-`` and parses the 32 hex digits left with
    ``int(..., 16)``; anything else (braces, ``urn:uuid:``, wrong length) goes to ``UUID()``.
    """
    digits = value.replace("-", "")
    if len(digits) == 32:
        try:
            number = int(digits, 16)
        except ValueError:
            pass
        else:
            result: UUID = _new(UUID)
            _set(result, "int", number)
            _set(result, "is_safe", _UNKNOWN_SAFETY)
            return result
    return UUID(value)


def _fast_uuid_works() -> bool:
    """Whether :func:`_fast_uuid` builds the same objects as ``UUID()`` on this Python."""
    sample = "85efef4b-4ca3-459a-9ed9-ce24fbb11cc4"
    try:
        fast, slow = _fast_uuid(sample), UUID(sample)
    except (AttributeError, TypeError):  # pragma: no cover - a future UUID without these slots
        return False
    return bool(fast == slow and fast.is_safe is slow.is_safe and str(fast) == sample)


#: ``UUID(text)``, by the fast route where this Python's ``UUID`` allows it.
uuid_from_str: Callable[[str], UUID] = _fast_uuid if _fast_uuid_works() else UUID


def _structure_uuid(value: object, _: object) -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return uuid_from_str(value)


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


def _required(cls: type[Any]) -> tuple[tuple[str, str, Any], ...]:
    """``(attribute, JSON key, type)`` of the fields ``cls`` lists in ``REQUIRED``."""
    names = getattr(cls, "REQUIRED", ())
    return tuple((f.name, to_camel(f.name), f.type) for f in attrs.fields(cls) if f.name in names)


def _missing_required(
    cls: type[Any], value: Mapping[str, Any], required: tuple[tuple[str, str, Any], ...]
) -> ClassValidationError | None:
    """The error for required fields that are missing or ``null`` (cattrs-shaped, with paths)."""
    errors: list[Exception] = []
    for _attribute, key, tp in required:
        if value.get(key) is None:
            error = KeyError(key)  # reported as "required field missing @ $.key"
            error.__notes__ = [  # type: ignore[attr-defined]
                AttributeValidationNote(f"Structuring class {cls.__name__} @ {key}", key, tp)
            ]
            errors.append(error)
    if not errors:
        return None
    return ClassValidationError(f"While structuring {cls.__name__}", errors, cls)


def _wire_paths(error: ClassValidationError, wire_names: Mapping[str, str]) -> None:
    """Rename the attribute notes of ``error`` from model attributes to the answer's keys."""
    for exc in error.exceptions:
        notes = getattr(exc, "__notes__", None)
        if not notes:
            continue
        # BaseException: the same type whether or not the exceptiongroup backport is installed
        # (Python 3.10 has it, and mypy then sees a union here).
        target: BaseException = exc
        target.__notes__ = [  # type: ignore[attr-defined]
            AttributeValidationNote(str(note), wire_names.get(note.name, note.name), note.type)
            if isinstance(note, AttributeValidationNote)
            else note
            for note in notes
        ]


def _is_homogeneous_tuple(tp: object) -> bool:
    """``tuple[X, ...]``."""
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


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
        structure_fields = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=False, **overrides
        )
        required = _required(cls)
        name = cls.__name__
        wire_names = {field.name: to_camel(field.name) for field in attrs.fields(cls)}

        def structure_object(value: Any, tp: Any) -> Any:
            # cattrs would read any container with ``in``/``[]``: ``"bob"`` became an all-None
            # user. Only a JSON object is an object.
            if not isinstance(value, Mapping):
                raise TypeError(f"expected a JSON object for {name}, got {type(value).__name__}")
            if required:
                missing = _missing_required(cls, value, required)
                if missing is not None:
                    raise missing
            try:
                return structure_fields(value, tp)
            except ClassValidationError as exc:
                _wire_paths(exc, wire_names)  # paths name the JSON keys (``$.typeOfWorkId``)
                raise

        return structure_object

    def tuple_factory(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs would iterate any iterable: ``{"a": 1}`` became one empty ``Break``.
        item_type = typing.get_args(tp)[0]
        item_hook = conv.get_structure_hook(item_type)

        def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"expected a JSON array, got {type(value).__name__}")
            items: list[Any] = []
            errors: list[Exception] = []
            for index, item in enumerate(value):
                try:
                    items.append(item_hook(item, item_type))
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {tp!r} @ index {index}", index, item_type
                    )
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return tuple(items)

        return structure_tuple

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        overrides: dict[str, Any] = {
            field.name: override(rename=to_camel(field.name)) for field in attrs.fields(cls)
        }
        generated = make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)
        wire = getattr(cls, "_wire_body", None)
        if wire is None:
            return generated

        def unstructure_wire(obj: Any) -> dict[str, Any]:
            result: dict[str, Any] = wire(obj, generated(obj))
            return result

        return unstructure_wire

    def optional_factory(tp: Any) -> Callable[[Any, Any], Any]:
        # Resolve the inner hook once (cattrs' generic Optional handler dispatches per value).
        inner = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        inner_hook = conv.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner_hook(value, inner)

        return structure_optional

    conv.register_structure_hook_factory(_is_optional, optional_factory)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, tuple_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


#: The converter used for every (un)structuring in the package.
converter: cattrs.Converter = _make_converter()


# ---------------------------------------------------------------------------------------------
# The fast path: a msgspec "shadow" struct and a generated builder per response model
# ---------------------------------------------------------------------------------------------


class _Page:
    """The caches of one decode (a page repeats users, projects, tasks, dates).

    Keys are the JSON strings (UUID, date-time and date caches) or the shadow struct of a nested
    object (object caches, one per class: equal shadows, equal models). Only plain ``str`` keys
    are stored in the string caches. Each cache is emptied when it reaches :data:`CACHE_LIMIT`
    entries, so memory stays bounded. A new one is made for every :func:`structure`,
    :func:`structure_list` and :func:`structure_json_list` call: nothing outlives the decode or
    is shared between clients.
    """

    __slots__ = ("dates", "local", "objects", "utc", "uuids")

    def __init__(self) -> None:
        self.uuids: dict[object, UUID] = {}
        self.utc: dict[object, datetime] = {}
        self.local: dict[object, datetime] = {}
        self.dates: dict[object, date] = {}
        self.objects: dict[type[Any], dict[object, object]] = {}

    def clear(self) -> None:
        """Forget everything."""
        for cache in (self.uuids, self.utc, self.local, self.dates, self.objects):
            cache.clear()


#: Entries each decoding cache may hold before it is emptied.
CACHE_LIMIT = 20_000


def clear_caches() -> None:
    """Nothing to empty: every decode has its own caches (kept for the benchmarks' callers)."""


#: Classes whose fast decoder failed in a way it did not mean (warned about once each).
_warned: set[type[Any]] = set()


def _fell_back(cls: type[Any], error: Exception) -> None:
    """Log that the fast path handed an object of ``cls`` to the reference (never the value)."""
    if isinstance(error, (TypeError, ValueError, _MissingRequired)):  # msgspec's errors too
        log.debug(
            "fast decoder of %s refused an object (%s); decoded by the reference converter",
            cls.__name__,
            type(error).__name__,
        )
        return
    level = logging.DEBUG if cls in _warned else logging.WARNING
    _warned.add(cls)
    log.log(
        level,
        "fast decoder of %s failed unexpectedly (%s); decoded by the slower reference "
        "converter instead: please report this",
        cls.__name__,
        type(error).__name__,
    )


#: A fast decoder: one JSON object (a ``dict``, or the ``bytes`` of its JSON for the decoders
#: of :func:`_json_decoder`) and the page's caches -> a model instance.
_Decoder: TypeAlias = Callable[[Any, _Page], Any]
#: A generated builder: a shadow struct and the page's caches -> a model instance.
_Builder: TypeAlias = Callable[[Any, _Page], Any]


_R = TypeVar("_R")


def _remember(cache: dict[object, _R], value: object, result: _R) -> _R:
    """Keep a parsed string's result (bounded: a full cache starts over) and return it."""
    if value.__class__ is str:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[value] = result
    return result


def _uuid_miss(value: object, cache: dict[object, UUID]) -> UUID:
    result = uuid_from_str(value) if value.__class__ is str else _structure_uuid(value, None)
    return _remember(cache, value, result)


def _utc_miss(value: object, cache: dict[object, datetime]) -> datetime:
    result = (
        parse_utc_datetime(value) if value.__class__ is str else _structure_datetime(value, None)
    )
    return _remember(cache, value, result)


def _local_miss(value: object, cache: dict[object, datetime]) -> datetime:
    result = _structure_wall_clock(value, None)
    if result is None:  # pragma: no cover - the caller only passes values that are not None
        raise TypeError("expected a date-time, got None")
    return _remember(cache, value, result)


def _date_miss(value: object, cache: dict[object, date]) -> date:
    result = _structure_date(value, None)
    return _remember(cache, value, result)


def _shared(cls: type[Any], build: _Builder) -> _Builder:
    """Wrap the builder of a nested class so that equal objects of one page are built once.

    The key is the shadow struct itself (frozen, hashed by value): equal shadows build equal
    models. Its fields are typed, so ``1`` and ``true`` never meet in one field, and JSON has
    no ``NaN`` (a ``NaN`` given in a dict is unequal to everything: never shared).
    """

    def build_shared(shadow: Any, page: _Page) -> Any:
        cache = page.objects.get(cls)
        if cache is None:
            cache = page.objects[cls] = {}
        hit = cache.get(shadow)
        if hit is not None:
            return hit
        result = build(shadow, page)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[shadow] = result
        return result

    return build_shared


def _optional_inner(tp: object) -> object | None:
    """``X`` of ``X | None``, else ``None``."""
    if not _is_optional(tp):
        return None
    inner: object = next(arg for arg in typing.get_args(tp) if arg is not type(None))
    return inner


#: Field types msgspec checks exactly as the reference hooks do (a bool is not an int, an int
#: is taken for a float): kept as they are.
_NATIVE: tuple[object, ...] = (str, bool, int, float)
#: Field types read as strings and parsed by the reference's own (tolerant) parsers, cached per
#: page: ``(cache attribute, miss function)``.
#: UUIDs too: msgspec would build them itself, but nested objects are shared by their shadow's
#: hash, and ``UUID.__hash__`` is Python code (a string's hash is cached).
_PARSED: dict[tuple[object, bool], tuple[str, Callable[..., object]]] = {
    (UUID, False): ("uuids", _uuid_miss),
    (UUID, True): ("uuids", _uuid_miss),
    (datetime, False): ("utc", _utc_miss),
    (datetime, True): ("local", _local_miss),
    (date, False): ("dates", _date_miss),
    (date, True): ("dates", _date_miss),
}


class _Codegen:
    """Writes one class's shadow struct field types and builder source; ``names`` collects what
    the source refers to."""

    def __init__(self, names: dict[str, object]) -> None:
        self.names = names
        self.lines: list[str] = []
        #: The ``_Page`` caches the lines use (bound to locals at the top of the function).
        self.caches: set[str] = set()

    def ref(self, prefix: str, obj: object) -> str:
        """A global name for ``obj`` in the generated module."""
        name = f"{prefix}_{len(self.names)}"
        self.names[name] = obj
        return name

    def scalar(self, var: str, tp: object, wall_clock: bool, indent: str) -> object | None:
        """The shadow type for a scalar ``tp`` and the lines turning the non-``None`` shadow
        value in ``var`` into ``tp``; ``None`` if unsupported."""
        if tp in _NATIVE:
            return tp
        parsed = _PARSED.get((tp, wall_clock))
        if parsed is None:
            return None
        attr, miss = parsed
        self.caches.add(attr)
        self.lines.append(
            f"{indent}{var} = {attr}_get({var}) or {self.ref('miss', miss)}({var}, {attr})"
        )
        return str

    def value(self, var: str, tp: object, wall_clock: bool, indent: str) -> object | None:
        """The shadow type and the lines for any supported field type (scalars, models, tuples
        of them); ``None`` if unsupported."""
        scalar = self.scalar(var, tp, wall_clock, indent)
        if scalar is not None:
            return scalar
        add = self.lines.append
        if isinstance(tp, type) and attrs.has(tp):
            fast = _fast(tp)
            if fast is None:
                return None
            add(f"{indent}{var} = {self.ref('shared', _shared(tp, fast.build))}({var}, page)")
            return fast.shadow
        if _is_homogeneous_tuple(tp):
            item = typing.get_args(tp)[0]
            if isinstance(item, type) and attrs.has(item):
                fast = _fast(item)
                if fast is None:
                    return None
                name = self.ref("build", fast.build)
                add(f"{indent}{var} = tuple([{name}(e, page) for e in {var}])")
                return tuple[fast.shadow, ...]  # type: ignore[name-defined]
            start = len(self.lines)
            shadow = self.scalar("e", item, wall_clock, indent + "    ")
            if shadow is None:
                return None
            if len(self.lines) > start:  # parsed items: convert each
                self.lines[start:start] = [f"{indent}items = []", f"{indent}for e in {var}:"]
                add(f"{indent}    items.append(e)")
                add(f"{indent}{var} = tuple(items)")
            return tuple[shadow, ...]  # type: ignore[valid-type]
        return None


class _MissingRequired(Exception):
    """Internal: a required field is missing; the fast path hands the item to the reference."""


def _fast_eligible(cls: type[Any]) -> bool:
    """Response models only: frozen and slotted, no ``__attrs_post_init__``, every field a plain
    ``X | None = None`` without converter or validator."""
    if (
        not (attrs.has(cls) and "__slots__" in cls.__dict__)
        or cls.__setattr__ is object.__setattr__
    ):
        return False
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return False
    return all(
        f.init
        and f.default is None
        and f.converter is None
        and f.validator is None
        and not f.alias.startswith("_")
        and f.alias == f.name
        for f in attrs.fields(cls)
    )


@attrs.frozen
class _Fast:
    """A response model's fast path: its shadow struct, its builder, and its two decoders (of a
    parsed dict: msgspec converts it; of JSON bytes: msgspec reads them; the builder builds)."""

    shadow: type[msgspec.Struct]
    build: _Builder
    from_dict: _Decoder
    from_json: _Decoder

    @classmethod
    def of(cls, shadow: type[msgspec.Struct], build: _Builder) -> _Fast:
        convert, read = msgspec.convert, msgspec.json.Decoder(shadow).decode

        def from_dict(data: Any, page: _Page) -> Any:
            return build(convert(data, shadow), page)

        def from_json(data: Any, page: _Page) -> Any:
            return build(read(data), page)

        return cls(shadow, build, from_dict, from_json)


def _generate(cls: type[Any]) -> _Fast | None:
    names: dict[str, object] = {"__builtins__": __builtins__, "_new": _new, "cls": cls}
    gen = _Codegen(names)
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, object, None]] = []
    setters: list[str] = []
    body = gen.lines
    body.append("def build(s, page):")
    required = {name for name, _key, _tp in _required(cls)}
    for number, field in enumerate(attrs.fields(cls)):
        inner = _optional_inner(hints[field.name])
        if inner is None:
            return None
        var = f"v{number}"
        body.append(f"    {var} = s.{field.name}")
        if field.name in required:  # the reference reports it, with the path
            body.append(f"    if {var} is None:")
            body.append(f"        raise {gen.ref('missing', _MissingRequired)}")
        start = len(body)
        body.append(f"    if {var} is not None:")
        shadow = gen.value(var, inner, bool(field.metadata.get(WALL_CLOCK)), "        ")
        if shadow is None:
            return None
        if len(body) == start + 1:  # kept as msgspec checked it
            del body[start:]
        fields.append((field.name, shadow | None, None))  # type: ignore[operator]
        slot = next((k.__dict__[field.name] for k in cls.__mro__ if field.name in k.__dict__), None)
        if slot is None or not hasattr(slot, "__set__"):
            return None
        setters.append(f"    {gen.ref('set', slot.__set__)}(o, {var})")
    body.append("    o = _new(cls)")
    body.extend(setters)
    body.append("    return o")
    prologue = [
        f"    {attr} = page.{attr}\n    {attr}_get = {attr}.get" for attr in sorted(gen.caches)
    ]
    body[1:1] = prologue
    source = "\n".join(body) + "\n"
    code = compile(source, f"<awork_async fast builder {cls.__qualname__}>", "exec")
    exec(code, names)
    build = cast(_Builder, names["build"])
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    # Frozen: hashable by value (nested objects are shared by it). No cycles: gc=False.
    shadow_type = msgspec.defstruct(
        f"Shadow{cls.__name__}",
        fields,
        rename={field.name: to_camel(field.name) for field in attrs.fields(cls)},
        frozen=True,
        gc=False,
    )
    return _Fast.of(shadow_type, build)


_fasts: dict[type[Any], _Fast | None] = {}
#: The fast decoders of dicts, per class (tests replace one to watch or break it).
_decoders: dict[type[Any], _Decoder | None] = {}
_decoders_lock = threading.RLock()


def _fast(cls: type[Any]) -> _Fast | None:
    """The fast path of ``cls`` (built on first use), or ``None`` if it has none."""
    try:
        return _fasts[cls]
    except KeyError:
        pass
    with _decoders_lock:
        if cls not in _fasts:
            _fasts[cls] = None  # a class nested in itself gets the reference path
            _fasts[cls] = _generate(cls) if _fast_eligible(cls) else None
        return _fasts[cls]


def _fast_decoder(cls: type[Any]) -> _Decoder | None:
    """The fast decoder of ``cls``'s dicts, or ``None`` if it has none."""
    if cls not in _decoders:
        fast = _fast(cls)
        _decoders.setdefault(cls, None if fast is None else fast.from_dict)
    return _decoders[cls]


def _json_decoder(cls: type[Any]) -> _Decoder | None:
    """The fast decoder of ``cls``'s JSON bytes, or ``None`` if it has none."""
    fast = _fast(cls)
    return None if fast is None else fast.from_json


def structure(data: object, cls: type[T]) -> T:
    """Decode one JSON object (already parsed, e.g. by ``orjson.loads``) into ``cls``.

    Raises one of :data:`STRUCTURE_ERRORS` when the data does not fit.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    if data.__class__ is dict:
        decoder = _fast_decoder(cls)
        if decoder is not None:
            try:
                return cast(T, decoder(data, _Page()))
            except Exception as exc:
                _fell_back(cls, exc)
    return converter.structure(data, cls)


def structure_list(data: Iterable[object], cls: type[T]) -> list[T]:
    """Decode a JSON array of objects (one page) into a list of ``cls``.

    Items share the decoding caches (see the module docstring); the result equals
    ``[converter.structure(item, cls) for item in data]``. That the answer is an array was
    checked once, where it was deciphered (``expect="array"``); an item that is not an object
    raises :class:`TypeError`.
    """
    return _structure_page(data, cls, _fast_decoder(cls), None)


def structure_json_list(entries: Iterable[bytes], cls: type[T]) -> list[T]:
    """Decode a page given as its entries' JSON (one ``bytes`` object each) into ``cls``.

    The same result and errors as ``structure_list([orjson.loads(e) for e in entries], cls)``,
    without building the dicts: msgspec reads each entry straight into the shadow struct.
    """
    return _structure_page(entries, cls, _json_decoder(cls), orjson.loads)


def _structure_page(
    data: Iterable[Any],
    cls: type[T],
    decoder: _Decoder | None,
    parse: Callable[[Any], object] | None,
) -> list[T]:
    """Decode a page's items by ``decoder`` (for JSON bytes: ``parse``), the reference for
    what it refuses."""
    hook = converter.get_structure_hook(cls)
    page = _Page()
    items: list[T] = []
    append = items.append
    for index, item in enumerate(data):
        if decoder is not None and (parse is not None or item.__class__ is dict):
            try:
                append(decoder(item, page))
                continue
            except Exception as exc:
                _fell_back(cls, exc)
        value = item if parse is None else parse(item)
        if not isinstance(value, Mapping):
            raise TypeError(
                f"item {index}: expected a JSON object for {cls.__name__}, "
                f"got {type(value).__name__}"
            )
        try:
            append(hook(value, cls))
        except Exception as exc:
            note = IterableValidationNote(f"Structuring item @ index {index}", index, cls)
            exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
            raise IterableValidationError(
                f"While structuring a page of {cls.__name__}", [exc], list
            ) from None
    return items


def unstructure(obj: object) -> dict[str, JSONValue]:
    """Encode an attrs model into a JSON-ready dict (camelCase keys, ``None`` fields omitted)."""
    if not attrs.has(type(obj)):
        raise TypeError(f"expected an attrs model instance, got {type(obj).__name__}")
    return cast("dict[str, JSONValue]", converter.unstructure(obj))


def describe_structure_error(exc: BaseException) -> str:
    """Where and why decoding failed (``expected int @ $.duration``), never with a value.

    Decoding errors describe a server's answer, which may echo a secret: the caller raises its
    own error with this text instead of chaining ``exc`` (whose sub-exceptions quote values).
    """
    if not isinstance(exc, Exception):
        return type(exc).__name__
    try:
        problems = cattrs.transform_error(exc, format_exception=_value_free)
    except Exception:  # pragma: no cover - a formatter failure must not hide the real error
        return type(exc).__name__
    text = "; ".join(problems) or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + f"…({len(problems)} problems)"


def structure_error_path(exc: BaseException) -> str | None:
    """The JSON path of the first field that failed to decode (``"$[3].user"``), if known."""
    if not isinstance(exc, Exception):
        return None
    try:
        problems = cattrs.transform_error(exc, format_exception=lambda _e, _t: "")
    except Exception:  # pragma: no cover - a formatter failure must not hide the real error
        return None
    for problem in problems:
        if " @ " in problem:
            return problem.rsplit(" @ ", 1)[1]
    return None


def _value_free(exc: BaseException, expected: object) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if expected is not None:
        name = getattr(expected, "__name__", None) or repr(expected)
        return f"invalid value, expected {name.replace('awork_async.models.', '')}"
    return f"invalid value ({type(exc).__name__})"
