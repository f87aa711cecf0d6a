"""Models: the published examples, computed properties, and the validated request forms."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
import pytest
from _spec import SpecValidationError, load_json, validate_body

from awork_async._converter import structure, structure_list, unstructure
from awork_async.models import (
    BATCH_OPERATIONS,
    ArchivedForm,
    Break,
    DeleteTypeOfWorkForm,
    IdsForm,
    MultiStatusResult,
    SetTypeOfWorkForm,
    StatusResult,
    TimeBooking,
    TimeBookingForm,
    TimeEntry,
    TimeEntryBatchForm,
    TimeEntryCreate,
    TimeEntryUpdate,
    TimerStart,
    TypeOfWorkForm,
    UserAndWorkspace,
    UserTimeBookings,
)

UID = "123e4567-e89b-12d3-a456-426614174000"
UID2 = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
UID3 = "9c858901-8a57-4791-81fe-4c455b099bc9"
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


# --- published examples (tests/data, copied from the seeds; see tests/data/README.md) ---------
# time_entry.json / time_entries.json: only the fields API notes §10 D12 calls inconsistent were
# fixed (endDateUtc/endDateLocal time parts reset to midnight, duration 8635 -> 8640).


def test_seed_time_entry_structures() -> None:
    entry = structure(load_json("time_entry.json"), TimeEntry)
    assert entry.timezone == "Europe/Berlin"
    assert entry.type_of_work_id == UUID(UID)
    assert entry.start == datetime(2022, 3, 1, 9, 21, tzinfo=UTC)
    assert entry.end == datetime(2022, 3, 1, 11, 45, tzinfo=UTC)
    assert entry.end is not None
    assert entry.start is not None
    assert entry.end - entry.start == entry.duration_timedelta == timedelta(seconds=8640)
    assert entry.start_date_local == datetime(2022, 3, 1)
    assert entry.resource_version == 637825154598057900
    assert entry.task is not None
    assert entry.task.project is not None
    assert entry.task.project.company is not None
    assert entry.task.project.company.description == "One of our customers"
    assert entry.task.task_status is not None
    assert entry.task.task_status.order == 1.0
    assert entry.breaks is not None
    assert entry.breaks[0].duration == 3600
    assert not entry.is_running
    assert not entry.is_paused
    assert not entry.is_date_only
    # the local wall clock agrees with the UTC instant in the entry's zone
    local_start = entry.start.astimezone(ZoneInfo(entry.timezone))
    assert local_start.strftime("%H:%M:%S") == entry.start_time_local


@pytest.mark.parametrize(
    ("file", "cls"),
    [
        ("time_entry.json", TimeEntry),
        ("time_booking.json", TimeBooking),
        ("batch_result.json", MultiStatusResult),
    ],
)
def test_seed_round_trip(file: str, cls: type[Any]) -> None:
    raw = load_json(file)
    model = structure(raw, cls)
    again = unstructure(model)
    assert structure(again, cls) == model
    assert again == raw  # the examples use canonical forms, so even the JSON is identical


@pytest.mark.parametrize(
    ("file", "cls"),
    [("time_entries.json", TimeEntry), ("user_time_bookings.json", UserTimeBookings)],
)
def test_seed_lists_round_trip(file: str, cls: type[Any]) -> None:
    raw = load_json(file)
    models = structure_list(raw, cls)
    assert [unstructure(m) for m in models] == raw


def test_seed_time_bookings() -> None:
    (result,) = structure_list(load_json("user_time_bookings.json"), UserTimeBookings)
    assert result.user_id == UUID(UID)
    assert result.time_bookings is not None
    (booking,) = result.time_bookings
    assert booking.start_date == date(2024, 5, 15)
    assert booking.end_date == date(2024, 5, 18)
    assert booking.created_on == datetime(2022, 3, 11, 15, 33, 47, 100000, UTC)
    assert booking.is_anonymized is True


def test_seed_batch_result() -> None:
    result = structure(load_json("batch_result.json"), MultiStatusResult)
    assert result.ok_ids == (UUID(UID2), UUID("3fa85f64-5717-4562-b3fc-2c963f66afa6"))
    assert result.not_found_ids == (UUID("11111111-2222-3333-4444-555555555555"),)
    assert result.unauthorized_ids == (UUID(UID3),)
    assert result.bad_request_ids == ()
    assert not result.all_ok


def test_user_and_workspace_minimal() -> None:
    me = structure(
        {
            "id": UID,
            "firstName": "Carla",
            "lastName": "Creative",
            "status": {"isActive": True},
            "tags": [],
            "workspace": {"id": UID2, "name": "Acme", "url": "acme"},
        },
        UserAndWorkspace,
    )
    assert me.first_name == "Carla"
    assert me.workspace is not None
    assert me.workspace.id == UUID(UID2)
    assert me.workspace.url == "acme"


# --- TimeEntry properties ------------------------------------------------------------------


def _entry(**fields: Any) -> TimeEntry:
    """A time entry answer with the given fields (and the ones every answer carries)."""
    return structure({"id": UID3, "timezone": "UTC", "typeOfWorkId": UID, **fields}, TimeEntry)


def test_start_end_across_midnight_with_long_fraction() -> None:
    entry = _entry(
        startDateUtc="2024-05-14T00:00:00Z",
        startTimeUtc="23:30:00.1234567",
        endDateUtc="2024-05-15T00:00:00Z",
        endTimeUtc="00:15:00",
    )
    assert entry.start == datetime(2024, 5, 14, 23, 30, 0, 123456, UTC)
    assert entry.end == datetime(2024, 5, 15, 0, 15, tzinfo=UTC)


def test_start_uses_the_utc_date_of_an_offset_value() -> None:
    entry = _entry(startDateUtc="2024-05-15T01:00:00+02:00", startTimeUtc="23:00:00")
    assert entry.start == datetime(2024, 5, 14, 23, tzinfo=UTC)


def test_date_only_entry() -> None:
    entry = _entry(startDateUtc="2024-05-14T00:00:00Z", duration=3600, timezone="Europe/Berlin")
    assert entry.start is None
    assert entry.end is None
    assert entry.is_date_only
    assert not entry.is_running
    assert entry.duration_timedelta == timedelta(hours=1)


def test_missing_fields_give_none_properties() -> None:
    entry = TimeEntry()
    assert entry.start is None
    assert entry.end is None
    assert entry.duration_timedelta is None
    assert entry.break_duration_timedelta is None
    assert entry.open_break is None
    assert not entry.is_date_only
    assert not entry.is_running
    assert not entry.is_paused


def test_bad_time_of_day_raises_only_on_access() -> None:
    entry = _entry(startDateUtc="2024-05-14T00:00:00Z", startTimeUtc="half past nine")
    with pytest.raises(ValueError, match="time of day"):
        _ = entry.start


def test_running_paused_finished() -> None:
    start = {"startDateUtc": "2024-05-14T00:00:00Z", "startTimeUtc": "08:00:00", "duration": 0}
    running = _entry(**start, breaks=[])
    assert running.is_running
    assert not running.is_paused
    assert running.open_break is None

    paused = _entry(
        **start,
        breaks=[
            {
                "startDate": "2024-05-14T09:00:00Z",
                "endDate": "2024-05-14T09:10:00Z",
                "duration": 600,
            },
            {"startDate": "2024-05-14T10:00:00Z"},
        ],
        breakDuration=600,
    )
    assert paused.is_paused
    assert not paused.is_running
    assert paused.open_break == Break(start_date=datetime(2024, 5, 14, 10, tzinfo=UTC))
    assert paused.break_duration_timedelta == timedelta(minutes=10)

    resumed = _entry(
        **start,
        breaks=[{"startDate": "2024-05-14T09:00:00Z", "endDate": "2024-05-14T09:10:00Z"}],
    )
    assert resumed.is_running
    assert not resumed.is_paused

    finished = _entry(**start, endDateUtc="2024-05-14T00:00:00Z", endTimeUtc="09:00:00")
    assert not finished.is_running
    assert finished.has_end


def test_models_are_frozen_and_keyword_only() -> None:
    entry = TimeEntry(note="x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        entry.note = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        TimeEntry("x")  # type: ignore[call-arg, arg-type]


# --- MultiStatusResult ---------------------------------------------------------------------


def test_multi_status_nulls_and_merge() -> None:
    first = structure(
        {"ok": {"ids": [UID]}, "notFound": {"ids": None}, "unauthorized": {}}, MultiStatusResult
    )
    assert first.ok_ids == (UUID(UID),)
    assert first.not_found_ids == ()
    assert first.unauthorized_ids == ()
    assert first.bad_request_ids == ()
    assert first.all_ok

    second = structure({"ok": {"ids": [UID2]}, "badRequest": {"ids": [UID3]}}, MultiStatusResult)
    merged = first.merge(second)
    assert merged.ok_ids == (UUID(UID), UUID(UID2))
    assert merged.bad_request_ids == (UUID(UID3),)
    assert merged.not_found == StatusResult(ids=())
    assert not merged.all_ok
    assert MultiStatusResult().merge(MultiStatusResult()) == MultiStatusResult()
    # merging the same chunk twice does not duplicate ids
    assert first.merge(first).ok_ids == (UUID(UID),)


# --- forms: bodies valid for the spec's request schemas --------------------------------------


def _valid_forms() -> list[Any]:
    start = datetime(2024, 5, 14, 10, 0, tzinfo=BERLIN)
    return [
        TimeEntryCreate.from_span(
            start=start,
            end=start + timedelta(hours=2),
            timezone="Europe/Berlin",
            type_of_work_id=UID,
            user_id=UUID(UID2),
            note="Sitemap",
            is_billable=True,
            project_id=UID3,
        ),
        TimeEntryCreate(
            timezone="Europe/Berlin",
            type_of_work_id=UID,
            user_id=UID2,
            start_date_local=datetime(2024, 5, 14),
            start_time_local="10:00",
            duration=timedelta(hours=1),
        ),
        TimeEntryUpdate.from_span(
            start=start, duration=3600, timezone="Europe/Berlin", type_of_work_id=UID
        ),
        TimerStart(type_of_work_id=UID, timezone="Europe/London", task_id=UID2, is_billed=False),
        TimeEntryBatchForm(
            time_entry_ids=[UID, UID2], new_type_of_work_id=UID3, require_all_time_entries=True
        ),
        TimeBookingForm(
            user_id=UID,
            project_id=UID2,
            start_date=date(2024, 5, 15),
            end_date=date(2024, 5, 18),
            duration=7200,
            description="Blocker for a new project",
            lane_order=1,
        ),
        TypeOfWorkForm(name="Website Design", description="Creative work", icon="attach_money"),
        ArchivedForm(is_archived=True),
        DeleteTypeOfWorkForm(type_of_work_id=UID),
        DeleteTypeOfWorkForm(),
        IdsForm(ids=(UID, UID2)),
        SetTypeOfWorkForm(ids=[UUID(UID)], type_of_work_id=UID2),
    ]


@pytest.mark.parametrize("form", _valid_forms(), ids=lambda f: type(f).__name__)
def test_form_bodies_validate_against_spec(form: Any) -> None:
    body = unstructure(form)
    validate_body(form.SPEC_SCHEMA, body)
    assert None not in body.values()


@pytest.mark.parametrize("schema_name", ["SetTimeEntryBillableForm", "SetTimeEntryBilledForm"])
def test_ids_form_fits_every_legacy_schema(schema_name: str) -> None:
    validate_body(schema_name, unstructure(IdsForm(ids=[UID])))


def test_spec_validation_catches_a_bad_body() -> None:
    # the validator itself is strict: unknown keys and malformed formats are refused
    with pytest.raises(SpecValidationError):
        validate_body("StartTimeTrackingForm", {"typeOfWorkId": UID, "timezone": "UTC", "x": 1})
    with pytest.raises(SpecValidationError):
        validate_body("StartTimeTrackingForm", {"typeOfWorkId": "nope", "timezone": "UTC"})
    with pytest.raises(SpecValidationError):
        validate_body("TimeEntryPostForm", {"typeOfWorkId": UID, "timezone": "UTC"})


def test_timer_start_body_matches_the_docs_example() -> None:
    # seed 004's request example
    body = unstructure(TimerStart(type_of_work_id=UID, timezone="Europe/London"))
    assert body == {"typeOfWorkId": UID, "timezone": "Europe/London"}


def test_batch_body_matches_the_docs_example() -> None:
    # seed 003's request example
    ids = [UID2, UID3, "3fa85f64-5717-4562-b3fc-2c963f66afa6"]
    assert unstructure(TimeEntryBatchForm(time_entry_ids=ids)) == {"timeEntryIds": ids}


# --- forms: every bad input raises on construction ----------------------------------------


def _create(**overrides: Any) -> TimeEntryCreate:
    fields: dict[str, Any] = {"timezone": "Europe/Berlin", "type_of_work_id": UID, "user_id": UID2}
    fields.update(overrides)
    return TimeEntryCreate(**fields)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"type_of_work_id": "not-a-uuid"}, ValueError, "type_of_work_id"),
        ({"user_id": "123"}, ValueError, "user_id"),
        ({"task_id": 42}, TypeError, "task_id"),
        ({"project_id": "x"}, ValueError, "project_id"),
        ({"timezone": "Mars/Olympus"}, ValueError, "timezone"),
        ({"timezone": ""}, ValueError, "timezone"),
        ({"timezone": "../../etc/passwd"}, ValueError, "timezone"),
        ({"timezone": None}, TypeError, "timezone"),
        ({"start_date_utc": datetime(2024, 5, 14)}, ValueError, "start_date_utc.*aware"),
        ({"end_date_utc": date(2024, 5, 14)}, TypeError, "end_date_utc"),
        ({"start_date_local": datetime(2024, 5, 14, tzinfo=UTC)}, ValueError, "naive"),
        ({"start_time_utc": "9:00"}, ValueError, "start_time_utc"),
        ({"end_time_local": "25:00:00"}, ValueError, "end_time_local"),
        ({"start_time_utc": 900}, TypeError, "start_time_utc"),
        ({"duration": -1}, ValueError, "duration.*>= 0"),
        ({"duration": timedelta(seconds=-5)}, ValueError, "duration"),
        ({"duration": timedelta(seconds=1.5)}, ValueError, "whole number of seconds"),
        ({"duration": 2**31}, ValueError, "duration"),
        ({"duration": True}, TypeError, "duration"),
        ({"duration": "60"}, TypeError, "duration"),
        ({"is_billable": "yes"}, TypeError, "is_billable"),
        ({"note": 5}, TypeError, "note"),
        (
            {"start_date_utc": datetime(2024, 5, 14, tzinfo=UTC), "start_time_local": "10:00"},
            ValueError,
            "do not mix",
        ),
    ],
)
def test_time_entry_form_rejects(
    overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _create(**overrides)


def test_required_fields_are_required() -> None:
    with pytest.raises(TypeError):
        TimeEntryCreate(timezone="UTC", type_of_work_id=UID)  # type: ignore[call-arg]
    # user_id is optional on the PUT form
    assert TimeEntryUpdate(timezone="UTC", type_of_work_id=UID).user_id is None


def test_uuid_inputs_are_converted() -> None:
    form = _create(task_id=UID3.upper())
    assert form.type_of_work_id == UUID(UID)
    assert form.task_id == UUID(UID3)


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: TimerStart(type_of_work_id=UID, timezone="Nowhere/City"), ValueError, "timezone"),
        (lambda: TimerStart(type_of_work_id="", timezone="UTC"), ValueError, "type_of_work_id"),
        (lambda: TimeEntryBatchForm(time_entry_ids=[]), ValueError, "at least one"),
        (lambda: TimeEntryBatchForm(time_entry_ids=UID), TypeError, "time_entry_ids"),
        (lambda: TimeEntryBatchForm(time_entry_ids=[UID, "bad"]), ValueError, "time_entry_ids"),
        (
            lambda: TimeEntryBatchForm(time_entry_ids=[UID], is_billed="no"),  # type: ignore[arg-type]
            TypeError,
            "is_billed",
        ),
        (lambda: IdsForm(ids=[]), ValueError, "ids"),
        (lambda: SetTypeOfWorkForm(ids=[UID], type_of_work_id="x"), ValueError, "type_of_work_id"),
        (lambda: TypeOfWorkForm(name=""), ValueError, "name"),
        (lambda: ArchivedForm(is_archived=None), TypeError, "is_archived"),  # type: ignore[arg-type]
        (lambda: DeleteTypeOfWorkForm(type_of_work_id="x"), ValueError, "type_of_work_id"),
        (lambda: TimeBookingForm(duration=-60), ValueError, "duration"),
        (
            lambda: TimeBookingForm(start_date=datetime(2024, 5, 15)),
            TypeError,
            "start_date",
        ),
        (
            lambda: TimeBookingForm(start_date=date(2024, 5, 18), end_date=date(2024, 5, 15)),
            ValueError,
            "before",
        ),
        (lambda: TimeBookingForm(lane_order=1.5), TypeError, "lane_order"),  # type: ignore[arg-type]
    ],
)
def test_other_forms_reject(factory: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        factory()


def test_batch_operation_check() -> None:
    form = TimeEntryBatchForm(time_entry_ids=[UID], is_billable=False)
    form.check_operation("setIsBillable")
    form.check_operation("delete")
    with pytest.raises(ValueError, match="needs new_user_id"):
        form.check_operation("setUser")
    with pytest.raises(ValueError, match="unknown batch operation"):
        form.check_operation("explode")
    for field in BATCH_OPERATIONS.values():
        assert field is None or field in attrs.fields_dict(TimeEntryBatchForm)


# --- from_span -----------------------------------------------------------------------------


def test_from_span_across_utc_midnight() -> None:
    # 01:30 Berlin (CEST, UTC+2) on the 15th is 23:30 UTC on the 14th
    start = datetime(2024, 5, 15, 1, 30, tzinfo=BERLIN)
    form = TimeEntryCreate.from_span(
        start=start,
        end=datetime(2024, 5, 15, 2, 45, 30, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        type_of_work_id=UID,
        user_id=UID2,
    )
    body = unstructure(form)
    assert body["startDateUtc"] == "2024-05-14T00:00:00Z"
    assert body["startTimeUtc"] == "23:30:00"
    assert body["endDateUtc"] == "2024-05-15T00:00:00Z"
    assert body["endTimeUtc"] == "00:45:30"
    assert "duration" not in body
    assert not any(key.endswith("Local") for key in body)
    validate_body("TimeEntryPostForm", body)
    # the structured response view gives back the same instants
    entry = structure({"id": UID3, **body}, TimeEntry)
    assert entry.start == start
    assert entry.end == datetime(2024, 5, 15, 0, 45, 30, tzinfo=UTC)


def test_from_span_across_dst_change() -> None:
    # 2024-03-31 in Berlin: 02:00 CET jumps to 03:00 CEST, so 01:30 -> 03:30 is one hour
    start = datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN)
    end = datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN)
    form = TimeEntryUpdate.from_span(
        start=start, end=end, duration=3600, timezone="Europe/Berlin", type_of_work_id=UID
    )
    assert form.start_time_utc == "00:30:00"
    assert form.end_time_utc == "01:30:00"
    assert form.start_date_utc == datetime(2024, 3, 31, tzinfo=UTC)
    assert form.duration == 3600
    # autumn: 02:30 happens twice; fold=1 is the second one (CET, UTC+1)
    autumn = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    form = TimeEntryUpdate.from_span(start=autumn, timezone="Europe/Berlin", type_of_work_id=UID)
    assert form.start_time_utc == "01:30:00"
    assert form.end_time_utc is None


def test_from_span_duration_forms() -> None:
    start = datetime(2024, 5, 14, 8, 0, 59, 999999, tzinfo=UTC)  # sub-seconds are truncated
    form = TimeEntryCreate.from_span(
        start=start,
        duration=timedelta(minutes=90),
        timezone="UTC",
        type_of_work_id=UID,
        user_id=UID2,
    )
    assert form.start_time_utc == "08:00:59"
    assert form.duration == 5400
    assert form.end_date_utc is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": datetime(2024, 5, 14, 8)}, "start.*aware"),
        ({"start": datetime(2024, 5, 14, 8, tzinfo=UTC), "end": datetime(2024, 5, 14, 9)}, "end"),
        (
            {
                "start": datetime(2024, 5, 14, 8, tzinfo=UTC),
                "end": datetime(2024, 5, 14, 7, tzinfo=UTC),
            },
            "before start",
        ),
        (
            {
                "start": datetime(2024, 5, 14, 8, tzinfo=UTC),
                "end": datetime(2024, 5, 14, 9, tzinfo=UTC),
                "duration": 3601,
            },
            "longer than the span",
        ),
        ({"start": datetime(2024, 5, 14, 8, tzinfo=UTC), "duration": -5}, "duration"),
        ({"start": datetime(2024, 5, 14, 8, tzinfo=UTC), "timezone": "Atlantis"}, "timezone"),
    ],
)
def test_from_span_rejects(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"timezone": "UTC", "type_of_work_id": UID, "user_id": UID2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TimeEntryCreate.from_span(**args)
