"""The fast structuring path: equal to the reference on generated and spec data, exact sharing.

The reference is a straightforward cattrs converter written here (renames and the usual hooks,
nothing else) plus the package's own cattrs converter; the fast path must give EQUAL trees.
"""

from __future__ import annotations

import ast
import gc
import logging
import pathlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import attrs
import cattrs
import orjson
import pytest
from _reference import RESPONSE_SCHEMAS, realistic_entries, straightforward_converter
from _spec import SPEC_DATA_SETTINGS, response_strategy
from hypothesis import given, settings
from hypothesis import strategies as st

from awork_async import _converter, models
from awork_async._converter import converter, structure, structure_json_list, structure_list
from awork_async.models import (
    TaskStatus,
    TimeEntry,
    TimeEntryTask,
    TimeEntryUser,
    TypeOfWorkRef,
)

UID = "123e4567-e89b-12d3-a456-426614174000"


PLAIN = straightforward_converter()


@pytest.fixture(autouse=True)
def _cold_caches() -> Iterator[None]:
    _converter.clear_caches()
    yield
    _converter.clear_caches()


def _generated_page(count: int, seed: int = 3) -> list[dict[str, Any]]:
    entries = realistic_entries(count, seed=seed, days=120)
    data: list[dict[str, Any]] = orjson.loads(orjson.dumps(entries))
    return data


def _fast(cls: type[Any]) -> Callable[[Any, Any], Any]:
    decoder = _converter._fast_decoder(cls)
    assert decoder is not None, cls
    return decoder


# --- equality with the references ---------------------------------------------------------


def test_generated_page_equals_both_references() -> None:
    page = _generated_page(400)
    ours = structure_list(page, TimeEntry)
    assert ours == [PLAIN.structure(item, TimeEntry) for item in page]
    assert ours == [converter.structure(item, TimeEntry) for item in page]
    assert sum(e.task is not None for e in ours) > 200  # nested objects were really exercised
    assert any(e.breaks for e in ours)


def test_fast_path_is_taken_for_valid_data() -> None:
    # the generated decoder itself (not the fallback) accepts every generated entry
    page = _generated_page(200, seed=5)
    decode = _fast(TimeEntry)
    cache = _converter._Page()
    assert [decode(item, cache) for item in page] == [PLAIN.structure(i, TimeEntry) for i in page]


def test_json_page_equals_the_dict_page_and_shares_alike() -> None:
    page = _generated_page(300, seed=7)
    encoded = [orjson.dumps(item) for item in page]
    ours = structure_json_list(encoded, TimeEntry)
    assert ours == structure_list(page, TimeEntry)
    assert ours == [PLAIN.structure(item, TimeEntry) for item in page]
    tasks = [e.task for e in ours if e.task is not None]
    assert len({id(task) for task in tasks}) < len(tasks)  # repeated tasks are one object


def test_json_page_takes_the_msgspec_path_without_any_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = _generated_page(200, seed=9)
    expected = [PLAIN.structure(item, TimeEntry) for item in page]

    def refuse(*_args: object) -> Any:
        raise AssertionError("a fallback was used")

    monkeypatch.setattr(_converter, "_fell_back", refuse)
    monkeypatch.setattr(_converter.orjson, "loads", refuse)  # no dict is built
    assert structure_json_list([orjson.dumps(i) for i in page], TimeEntry) == expected


def test_json_page_errors_are_the_dict_page_errors() -> None:
    page = _generated_page(100)
    page[70]["user"]["id"] = "not-a-uuid"
    with pytest.raises(cattrs.BaseValidationError) as info:
        structure_json_list([orjson.dumps(item) for item in page], TimeEntry)
    assert _converter.structure_error_path(info.value) == "$[70].user.id"
    page[70]["user"]["id"] = UID
    del page[40]["id"]  # required
    with pytest.raises(cattrs.BaseValidationError) as info:
        structure_json_list([orjson.dumps(item) for item in page], TimeEntry)
    assert _converter.structure_error_path(info.value) == "$[40].id"
    with pytest.raises(TypeError, match="item 1: expected a JSON object for TimeEntry, got list"):
        structure_json_list([orjson.dumps(page[0]), b"[1]"], TimeEntry)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # refused by msgspec's exact types, decided by the reference (same result both ways)
        ({"duration": 60.0}, {"duration": 60}),  # an integral float for an int
        ({"createdOn": "2024-01-02T03:04:05.1234567"}, {}),  # 7 digits, no offset: UTC
        ({"id": "{" + UID + "}"}, {}),  # a UUID form msgspec does not read
        ({"note": None, "isBillable": None}, {}),
    ],
)
def test_json_entries_msgspec_refuses_decode_like_the_reference(
    changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    data = _e(**changes)
    result = structure_json_list([orjson.dumps(data)], TimeEntry)
    assert result == [converter.structure(data, TimeEntry)]
    for key, value in expected.items():
        assert getattr(result[0], key) == value


def test_single_structure_equals_reference() -> None:
    for item in _generated_page(50, seed=11):
        assert structure(item, TimeEntry) == PLAIN.structure(item, TimeEntry)


@pytest.mark.parametrize("schema_name", sorted(RESPONSE_SCHEMAS))
def test_spec_data_equal_to_reference(schema_name: str) -> None:
    cls = RESPONSE_SCHEMAS[schema_name]
    decode = _fast(cls)

    @SPEC_DATA_SETTINGS
    @given(st.lists(response_strategy(schema_name, allow_extra=True), max_size=3))
    def check(items: list[dict[str, Any]]) -> None:
        expected = [converter.structure(item, cls) for item in items]
        assert [decode(item, _converter._Page()) for item in items] == expected
        assert structure_list(items, cls) == expected
        assert structure_list(items, cls) == expected  # warm caches: still equal
        try:
            encoded = [orjson.dumps(item) for item in items]
        except TypeError:  # an int beyond 64 bits: not JSON orjson writes
            return
        assert structure_json_list(encoded, cls) == expected
        assert [PLAIN.structure(item, cls) for item in items] == expected

    check()


# --- sharing is exact ----------------------------------------------------------------------


def test_equal_nested_objects_are_shared() -> None:
    page = _generated_page(300)
    entries = structure_list(page, TimeEntry)
    by_task: dict[UUID, TimeEntryTask] = {}
    shared = 0
    for entry in entries:
        if entry.task is None or entry.task.id is None:
            continue
        first = by_task.setdefault(entry.task.id, entry.task)
        shared += first is entry.task
        assert first == entry.task
    assert shared > len(by_task)  # repeated tasks are one object
    users = {id(e.user) for e in entries}
    assert len(users) <= 25


#: The fields a time entry answer must carry (``TimeEntry.REQUIRED``).
REQ: dict[str, Any] = {"id": UID, "timezone": "UTC", "typeOfWorkId": UID}


def _e(**fields: Any) -> dict[str, Any]:
    """A time entry answer: the required fields and ``fields``."""
    return {**REQ, **fields}


def _user(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"id": UID, "firstName": "Ann", "hasImage": True}
    base.update(changes)
    return base


def test_unequal_dicts_never_share() -> None:
    first, second = structure_list([_e(user=_user()), _e(user=_user(firstName="Bob"))], TimeEntry)
    assert first.user is not None and second.user is not None
    assert first.user.first_name == "Ann"
    assert second.user.first_name == "Bob"


def test_bool_and_int_are_not_confused() -> None:
    # {"hasImage": 1} == {"hasImage": True} in Python, but 1 is not a JSON boolean
    structure_list([_e(user=_user())], TimeEntry)
    with pytest.raises(cattrs.BaseValidationError):
        structure_list([_e(user=_user()), _e(user=_user(hasImage=1))], TimeEntry)
    with pytest.raises(cattrs.BaseValidationError):
        structure(_e(user=_user(hasImage=1)), TimeEntry)


def test_nan_and_null_are_not_confused() -> None:
    # orjson encodes NaN as null: the == check keeps them apart
    status: dict[str, object] = {"id": UID, "order": None}
    nan_status = dict(status, order=float("nan"))
    with_none, with_nan = structure_list(
        [
            _e(task={"id": UID, "taskStatus": status}),
            _e(task={"id": UID, "taskStatus": nan_status}),
        ],
        TimeEntry,
    )
    assert with_none.task is not None and with_none.task.task_status is not None
    assert with_nan.task is not None and with_nan.task.task_status is not None
    assert with_none.task.task_status.order is None
    order = with_nan.task.task_status.order
    assert order is not None and order != order


def test_int_and_float_numbers_decode_alike() -> None:
    one, one_float = structure_list(
        [{"id": UID, "order": 1}, {"id": UID, "order": 1.0}], TaskStatus
    )
    assert one == one_float == TaskStatus(id=UUID(UID), order=1.0)


def test_mutated_source_dict_is_not_served_stale() -> None:
    user = _user()
    first = structure(_e(user=user), TimeEntry)
    user["firstName"] = "Changed"  # the cache holds this dict; its content no longer matches
    again = structure(_e(user=_user()), TimeEntry)
    assert again == first
    assert again.user is not None and again.user.first_name == "Ann"


def test_objects_given_instead_of_json_are_kept() -> None:
    # values already decoded (not JSON) are accepted like the reference does, never cached as str
    uid = UUID(UID)
    moment = datetime(2024, 1, 2, 3, tzinfo=timezone.utc)
    entry = structure_list([_e(id=uid, createdOn=moment), _e(id=UID)], TimeEntry)
    assert entry[0].id is uid
    assert entry[0].created_on is moment
    assert entry[1].id == uid
    assert entry[1].id is not uid


def test_cache_limit_bounds_memory_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_converter, "CACHE_LIMIT", 16)
    made: list[_converter._Page] = []

    class Recorded(_converter._Page):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(_converter, "_Page", Recorded)
    page = _generated_page(200)
    assert structure_list(page, TimeEntry) == [PLAIN.structure(i, TimeEntry) for i in page]
    [cache] = made  # one set of caches for the page
    assert len(cache.uuids) <= 16
    assert len(cache.utc) <= 16
    assert all(len(objects) <= 16 for objects in cache.objects.values())


# --- fallback, forms, odd inputs ---------------------------------------------------------


def test_invalid_item_raises_the_reference_error() -> None:
    page = _generated_page(100)
    page[70]["user"]["id"] = "not-a-uuid"
    with pytest.raises(cattrs.BaseValidationError) as info:
        structure_list(page, TimeEntry)
    assert "@ $[70].user.id" in _converter.describe_structure_error(info.value)
    assert _converter.structure_error_path(info.value) == "$[70].user.id"


def test_oddities_the_fast_path_refuses_still_decode_like_the_reference() -> None:
    # a tuple where a list is expected: not JSON, accepted by both paths alike
    odd: dict[str, Any] = {"id": UID, "availableColumns": ("a", "b")}
    expected = converter.structure(odd, models.TimeReport)
    assert expected.available_columns == ("a", "b")
    assert structure(odd, models.TimeReport) == expected
    assert structure_list([odd], models.TimeReport) == [expected]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"availableColumns": "ab"}, "$.availableColumns"),  # a string is not an array
        ({"user": "x"}, "$.user"),
        ({"user": ["x"]}, "$.user"),
        ({"user": {"firstName": "Ann"}}, "$.user.id"),  # a nested entity without its id
        ({"id": None}, "$.id"),
    ],
)
def test_wrong_types_raise_on_both_paths(changes: dict[str, Any], path: str) -> None:
    data: dict[str, Any] = {"id": UID, **changes}
    for decode in (
        lambda: converter.structure(data, models.TimeReport),
        lambda: structure(data, models.TimeReport),
        lambda: structure_list([data], models.TimeReport),
    ):
        with pytest.raises(cattrs.BaseValidationError) as info:
            decode()
        assert path.replace("$", "") in _converter.describe_structure_error(info.value)


def test_forms_use_the_reference() -> None:
    assert _converter._fast_decoder(models.TimeEntryCreate) is None
    form = structure(
        {"timezone": "UTC", "typeOfWorkId": UID, "userId": UID, "duration": 60},
        models.TimeEntryCreate,
    )
    assert form.user_id == UUID(UID)


class _Dict(dict[str, Any]):
    pass


def test_dict_subclasses_and_mappings_take_the_reference_path() -> None:
    data = _Dict(id=UID, timezone="UTC", typeOfWorkId=UID, isBillable=True)
    expected = TimeEntry(id=UUID(UID), timezone="UTC", type_of_work_id=UUID(UID), is_billable=True)
    assert structure(data, TimeEntry) == expected
    assert structure_list([data], TimeEntry) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        UID,
        UID.upper(),
        UID.replace("-", ""),
        "{" + UID + "}",
        "urn:uuid:" + UID,
        "12-3e4567e89b12d3a456426614174000",
        "+23e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_fast_uuid_matches_stdlib(text: str) -> None:
    result = _converter.uuid_from_str(text)
    expected = UUID(text)
    assert result == expected
    assert result.is_safe is expected.is_safe
    assert str(result) == str(expected)


@pytest.mark.parametrize("text", ["", "xyz", UID + "0", UID[:-1] + "g", "urn:uuid:" + UID[:-1]])
def test_fast_uuid_rejects_like_stdlib(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the stdlib's own message
        UUID(text)
    with pytest.raises(ValueError):  # noqa: PT011
        _converter.uuid_from_str(text)


@settings(max_examples=100, deadline=None)
@given(st.uuids())
def test_fast_uuid_round_trip(value: UUID) -> None:
    assert _converter.uuid_from_str(str(value)) == value


# --- the garbage collector -----------------------------------------------------------------


def test_gc_state_is_restored() -> None:
    page = _generated_page(100)
    assert gc.isenabled()
    structure_list(page, TimeEntry)
    assert gc.isenabled()
    gc.disable()
    try:
        structure_list(page, TimeEntry)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_state_is_restored_after_an_error() -> None:
    page: list[Any] = [*_generated_page(100), "not an object"]
    with pytest.raises(TypeError, match="item 100"):
        structure_list(page, TimeEntry)
    assert gc.isenabled()


def test_gc_is_never_toggled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Library code leaves the process-wide collector alone (the benchmark did not need it)."""
    seen: list[bool] = []
    real = _converter._fast_decoder(TimeEntryUser)
    assert real is not None

    def spy(value: Any, page: Any) -> Any:
        seen.append(gc.isenabled())
        return real(value, page)

    monkeypatch.setitem(_converter._decoders, TimeEntryUser, spy)
    structure_list([{"id": UID, "firstName": "A"}] * 100, TimeEntryUser)
    assert seen == [True] * 100


# --- caches per decode, visible fallbacks ---------------------------------------------------


def test_caches_live_for_one_decode() -> None:
    user = {"id": UID, "firstName": "A"}
    first = structure_list(
        [{"id": UID, "user": user}, {"id": UID, "user": dict(user)}], models.TimeReport
    )
    again = structure_list([{"id": UID, "user": user}], models.TimeReport)
    assert first[0].user is first[1].user  # shared within the page
    assert again[0].user == first[0].user
    assert again[0].user is not first[0].user  # nothing kept between decodes


def test_a_refusal_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    wrong: dict[str, Any] = {"id": UID, "user": "x"}
    with (
        caplog.at_level(logging.DEBUG, logger="awork_async"),
        pytest.raises(cattrs.BaseValidationError),
    ):
        structure_list([wrong], models.TimeReport)  # the reference reports it
    [record] = [r for r in caplog.records if "fast decoder" in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert "TimeReport refused an object (ValidationError)" in record.getMessage()


def test_an_unexpected_fast_path_failure_is_a_warning_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(value: Any, page: Any) -> Any:
        raise AttributeError("a bug in generated code")

    monkeypatch.setitem(_converter._decoders, TimeEntryUser, broken)
    monkeypatch.setattr(_converter, "_warned", set())
    item = {"id": UID, "firstName": "A"}
    with caplog.at_level(logging.DEBUG, logger="awork_async"):
        assert (
            structure_list([item, item], TimeEntryUser)
            == [converter.structure(item, TimeEntryUser)] * 2
        )
        assert structure(item, TimeEntryUser) == converter.structure(item, TimeEntryUser)
    levels = [r.levelno for r in caplog.records if "fast decoder" in r.getMessage()]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "failed unexpectedly (AttributeError)" in caplog.records[0].getMessage()


def _decoded_by_resources() -> set[type[Any]]:
    """The model classes the resources decode answers into (``_call*(…, Model)``,
    ``_paginate(path, Model)``), read from their source."""
    found: set[type[Any]] = set()
    folder = pathlib.Path(_converter.__file__).parent / "resources"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("_call", "_call_optional", "_call_list", "_paginate"):
                continue
            for arg in node.args:
                model = getattr(models, arg.id, None) if isinstance(arg, ast.Name) else None
                if isinstance(model, type) and attrs.has(model):
                    found.add(model)
    return found


def test_the_fast_path_is_taken_for_every_response_model() -> None:
    decoded = _decoded_by_resources()
    assert TimeEntry in decoded and len(decoded) >= 10
    for cls in decoded:
        assert _converter._fast_decoder(cls) is not None, cls
    # test_spec_data_equal_to_reference calls each one's generated decoder (not the fallback)
    # on data generated from the spec's schema
    assert decoded <= set(RESPONSE_SCHEMAS.values())


# --- the fast path is taken (its speed is measured in benchmarks/bench_decode.py) ----------


def test_a_page_is_decoded_by_the_generated_code_without_any_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = _generated_page(200)
    expected = [PLAIN.structure(item, TimeEntry) for item in page]

    def refuse(*_args: object) -> Any:
        raise AssertionError("the cattrs fallback was used")

    class NoCattrs:  # the reference converter, unusable: only the generated code can decode
        structure = staticmethod(refuse)

        @staticmethod
        def get_structure_hook(_cls: type[Any]) -> Callable[..., Any]:
            return refuse  # looked up ahead for a fallback; calling it fails the test

    monkeypatch.setattr(_converter, "_fell_back", refuse)
    monkeypatch.setattr(_converter, "converter", NoCattrs())
    assert structure_list(page, TimeEntry) == expected
    assert [structure(item, TimeEntry) for item in page[:20]] == expected[:20]


def test_small_nested_classes_round_trip() -> None:
    data = {"id": UID, "name": "Design", "icon": "brush", "isArchived": False}
    assert structure(data, TypeOfWorkRef) == TypeOfWorkRef(
        id=UUID(UID), name="Design", icon="brush", is_archived=False
    )
