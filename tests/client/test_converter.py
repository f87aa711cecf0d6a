"""The converter and the time helpers: renames, tolerant parsing, JSON-ready output."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
import cattrs
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from awork_async import _timeutil
from awork_async._converter import (
    STRUCTURE_ERRORS,
    converter,
    structure,
    structure_list,
    unstructure,
)
from awork_async.models import (
    Break,
    MultiStatusResult,
    SimplifiedTimeEntry,
    TaskStatus,
    TimeBooking,
    TimeEntry,
    TimeEntryBatchForm,
    TimeReport,
)

UID = "123e4567-e89b-12d3-a456-426614174000"
UID2 = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
#: The fields a time entry answer must carry (``TimeEntry.REQUIRED``).
REQ = {"id": UID, "timezone": "UTC", "typeOfWorkId": UID2}


# --- _timeutil -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-03-01T00:00:00Z", datetime(2022, 3, 1, tzinfo=timezone.utc)),
        ("2022-03-11T15:33:47.100Z", datetime(2022, 3, 11, 15, 33, 47, 100000, timezone.utc)),
        (
            "2022-03-11T15:33:47.5966465+00:00",
            datetime(2022, 3, 11, 15, 33, 47, 596646, timezone.utc),
        ),
        ("2022-03-11T15:33:47.1Z", datetime(2022, 3, 11, 15, 33, 47, 100000, timezone.utc)),
        ("2022-03-11t15:33:47z", datetime(2022, 3, 11, 15, 33, 47, tzinfo=timezone.utc)),
        (
            "2022-03-11T15:33:47+05:30",
            datetime(2022, 3, 11, 15, 33, 47, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        (
            "2022-03-11T15:33:47-0100",
            datetime(2022, 3, 11, 15, 33, 47, tzinfo=timezone(timedelta(hours=-1))),
        ),
        ("2022-03-11T15:33:47", datetime(2022, 3, 11, 15, 33, 47)),
        ("2022-03-11 15:33", datetime(2022, 3, 11, 15, 33)),
        ("2022-03-11", datetime(2022, 3, 11)),
        # a leap second becomes the first instant of the next minute
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_parse_datetime_tolerant(text: str, expected: datetime) -> None:
    parsed = _timeutil.parse_datetime(text)
    assert parsed == expected
    assert (parsed.tzinfo is None) == (expected.tzinfo is None)


def test_regex_fallback_matches_fromisoformat() -> None:
    # The regex path (used on Python 3.10 for ``Z`` and odd fractions) gives the same values.
    for text in ["2022-03-01T09:21:00.1234567Z", "2022-03-01T09:21:00+01:00", "2022-03-01T09:21"]:
        assert _timeutil._parse_with_regex(text) == _timeutil.parse_datetime(text)


@pytest.mark.parametrize("text", ["", "yesterday", "2022-13-01T00:00:00Z", "2022-03-01T25:00Z"])
def test_parse_datetime_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        _timeutil.parse_datetime(text)


def test_utc_and_local_variants() -> None:
    assert _timeutil.parse_utc_datetime("2022-03-01T10:00:00") == datetime(
        2022, 3, 1, 10, tzinfo=timezone.utc
    )
    assert _timeutil.parse_local_datetime("2022-03-01T10:00:00+02:00") == datetime(2022, 3, 1, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:21", time(9, 21)),
        ("09:21:05", time(9, 21, 5)),
        ("07:09:28.3515950", time(7, 9, 28, 351595)),
        ("07:09:28.3", time(7, 9, 28, 300000)),
        ("23:59:59.9999999", time(23, 59, 59, 999999)),
    ],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert _timeutil.parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00:00", "9:21", "09:60", "09:21:00Z", "noon"])
def test_parse_time_of_day_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        _timeutil.parse_time_of_day(text)


def test_format_datetime() -> None:
    berlin = timezone(timedelta(hours=2))
    assert _timeutil.format_datetime(datetime(2024, 5, 14, 12, 0, tzinfo=berlin)) == (
        "2024-05-14T10:00:00Z"
    )
    assert _timeutil.format_datetime(datetime(2024, 5, 14, 12, 0, 0, 500)) == (
        "2024-05-14T12:00:00.000500"
    )
    # too close to datetime.min to move to UTC: keeps its own offset and stays parseable
    edge = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=3)))
    assert _timeutil.parse_datetime(_timeutil.format_datetime(edge)) == edge


@settings(max_examples=60, deadline=None)
@given(st.datetimes(timezones=st.timezones() | st.just(timezone.utc)))
# Inside a repeated DST hour (both folds): `==` across zones is always False there (PEP 495).
@example(datetime(2000, 10, 29, 3, 0, tzinfo=ZoneInfo("Europe/Simferopol")))
@example(datetime(2000, 10, 29, 3, 0, tzinfo=ZoneInfo("Europe/Simferopol"), fold=1))
def test_format_parse_round_trip(value: datetime) -> None:
    parsed = _timeutil.parse_datetime(_timeutil.format_datetime(value))
    # The same instant (compared by difference: inter-zone `==` is False inside a repeated hour
    # and `astimezone` overflows next to datetime.min/max).
    assert parsed.tzinfo is not None
    assert parsed - value == timedelta(0)


def test_hypothesis_keeps_no_example_database() -> None:
    # tests/conftest.py's profiles: nothing is stored in or replayed from `.hypothesis/`.
    assert settings.default.database is None


def test_parse_date() -> None:
    assert _timeutil.parse_date("2024-05-15") == date(2024, 5, 15)
    assert _timeutil.parse_date("2024-05-15T00:00:00Z") == date(2024, 5, 15)
    with pytest.raises(ValueError, match=r"."):
        _timeutil.parse_date("15.05.2024")


# --- structuring ---------------------------------------------------------------------------


def test_camel_keys_map_to_snake_fields() -> None:
    entry = structure(
        {**REQ, "startDateUtc": "2022-03-01T00:00:00Z", "typeOfWorkId": UID, "isBillable": True},
        TimeEntry,
    )
    assert entry.start_date_utc == datetime(2022, 3, 1, tzinfo=timezone.utc)
    assert entry.type_of_work_id == UUID(UID)
    assert entry.is_billable is True


def test_unknown_keys_ignored_and_missing_are_none() -> None:
    entry = structure({**REQ, "someFutureField": {"x": 1}, "tags": [1, 2]}, TimeEntry)
    assert entry.id == UUID(UID)
    assert all(
        getattr(entry, f.name) is None
        for f in attrs.fields(TimeEntry)
        if f.name not in TimeEntry.REQUIRED
    )


def test_snake_case_keys_are_not_read() -> None:
    # The wire format is camelCase only: a snake_case key is an unknown key.
    assert structure({**REQ, "type_of_work_id": UID}, TimeEntry).type_of_work_id == UUID(UID2)


def test_nulls_become_none() -> None:
    entry = structure({**REQ, "taskId": None, "breaks": None, "task": None}, TimeEntry)
    assert entry.task_id is None
    assert entry.breaks is None
    assert entry.task is None


def test_utc_fields_aware_local_fields_naive() -> None:
    entry = structure(
        {
            **REQ,
            "startDateUtc": "2022-03-01T00:00:00",  # naive from the server: taken as UTC
            "startDateLocal": "2022-03-01T00:00:00",
            "endDateLocal": "2022-03-01T00:00:00Z",  # offset on a local field: wall clock kept
            "createdOn": "2024-01-15T09:30:00.5966465+00:00",
        },
        TimeEntry,
    )
    assert entry.start_date_utc == datetime(2022, 3, 1, tzinfo=timezone.utc)
    assert entry.start_date_utc is not None
    assert entry.start_date_utc.tzinfo is not None
    assert entry.start_date_local == datetime(2022, 3, 1)
    assert entry.start_date_local is not None
    assert entry.start_date_local.tzinfo is None
    assert entry.end_date_local == datetime(2022, 3, 1)
    assert entry.created_on == datetime(2024, 1, 15, 9, 30, 0, 596646, timezone.utc)

    simplified = structure(
        {"id": UID, "startDateLocal": "2022-03-01T00:00:00"}, SimplifiedTimeEntry
    )
    assert simplified.start_date_local is not None
    assert simplified.start_date_local.tzinfo is None


def test_nested_lists_are_tuples() -> None:
    entry = structure(
        {**REQ, "breaks": [{"startDate": "2022-01-01T12:00:00Z", "duration": 60}]}, TimeEntry
    )
    assert entry.breaks == (
        Break(start_date=datetime(2022, 1, 1, 12, tzinfo=timezone.utc), duration=60),
    )
    report = structure(
        {"id": UID, "usersFilter": [UID], "availableColumns": ["duration"]}, TimeReport
    )
    assert report.users_filter == (UUID(UID),)
    assert report.available_columns == ("duration",)
    hash(report)  # frozen and made of tuples: hashable


def test_resource_version_big_int_exact() -> None:
    raw = b'{"resourceVersion": 637825154598057900}'
    entry = structure({**REQ, **orjson.loads(raw)}, TimeEntry)
    assert entry.resource_version == 637825154598057900
    assert b'"resourceVersion":637825154598057900' in orjson.dumps(unstructure(entry))


def test_number_field_accepts_int() -> None:
    assert structure({"id": UID, "order": 1}, TaskStatus).order == 1.0


def test_date_fields() -> None:
    booking = structure(
        {"id": UID, "startDate": "2024-05-15", "endDate": "2024-05-18"}, TimeBooking
    )
    assert booking.start_date == date(2024, 5, 15)
    assert booking.end_date == date(2024, 5, 18)


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "not-a-uuid"},
        {"id": 12},
        {"isBillable": "false"},  # would be truthy with a naive bool()
        {"duration": "3600"},
        {"duration": 1.5},
        {"createdOn": "last tuesday"},
        {"note": 5},
        {"breaks": [{"startDate": 17}]},
    ],
)
def test_bad_values_raise(payload: dict[str, object]) -> None:
    with pytest.raises(STRUCTURE_ERRORS):
        structure({**REQ, **payload}, TimeEntry)


def test_structure_rejects_non_objects() -> None:
    with pytest.raises(TypeError, match="JSON object"):
        structure([], TimeEntry)
    with pytest.raises(TypeError, match="item 0: expected a JSON object"):
        structure_list(["x"], TimeEntry)
    with pytest.raises(TypeError, match="item 1"):
        structure_list([REQ, "x"], TimeEntry)


def test_structure_list() -> None:
    entries = structure_list([REQ, {**REQ, "id": UID2}], TimeEntry)
    assert [e.id for e in entries] == [UUID(UID), UUID(UID2)]
    assert structure_list([], TimeEntry) == []


# --- unstructuring -------------------------------------------------------------------------


def test_unstructure_is_json_ready_and_omits_none() -> None:
    entry = TimeEntry(
        id=UUID(UID),
        start_date_utc=datetime(2022, 3, 1, tzinfo=timezone.utc),
        start_date_local=datetime(2022, 3, 1),
        breaks=(Break(start_date=datetime(2022, 3, 1, 10, tzinfo=timezone.utc)),),
        duration=0,
        is_billable=False,
    )
    body = unstructure(entry)
    assert body == {
        "id": UID,
        "startDateUtc": "2022-03-01T00:00:00Z",
        "startDateLocal": "2022-03-01T00:00:00",
        "breaks": [{"startDate": "2022-03-01T10:00:00Z"}],
        "duration": 0,  # falsy values are kept; only None is omitted
        "isBillable": False,
    }
    assert orjson.loads(orjson.dumps(body)) == body


def test_unstructure_tuples_become_lists() -> None:
    body = unstructure(TimeEntryBatchForm(time_entry_ids=[UID, UID2], is_billable=True))
    assert body == {"timeEntryIds": [UID, UID2], "isBillable": True}
    result = MultiStatusResult.merge(MultiStatusResult(), MultiStatusResult())
    assert unstructure(result) == {}


def test_unstructure_rejects_non_models() -> None:
    with pytest.raises(TypeError, match="attrs model"):
        unstructure({"id": UID})


def test_converter_is_a_cattrs_converter() -> None:
    assert isinstance(converter, cattrs.Converter)
    # the generated hook is reused, not rebuilt per call
    assert converter.get_structure_hook(TimeEntry) is converter.get_structure_hook(TimeEntry)


def test_parse_utc_datetime_fast_path_and_fallbacks() -> None:
    assert _timeutil.parse_utc_datetime("2024-05-12T05:47:29Z") == datetime(
        2024, 5, 12, 5, 47, 29, tzinfo=timezone.utc
    )
    # refused by fromisoformat on every Python: the regex path takes over
    assert _timeutil.parse_utc_datetime("2016-12-31T23:59:60Z") == datetime(
        2017, 1, 1, tzinfo=timezone.utc
    )

    class Text(str):
        pass

    assert _timeutil.parse_utc_datetime(Text("2024-05-12T00:00:00")) == datetime(
        2024, 5, 12, tzinfo=timezone.utc
    )
    with pytest.raises(TypeError, match="date-time string"):
        _timeutil.parse_utc_datetime(17)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO 8601"):
        _timeutil.parse_utc_datetime("yesterday")
