"""Keep a database exactly in step with awork's time entries: ``await mirror(client, url)``.

::

    from awork_async import AworkClient
    from awork_async.mirror import mirror

    async with AworkClient() as awork:                     # token from AWORK_TOKEN
        await mirror(awork, "sqlite:///awork.db", once=True)  # one pass, then return

Built only from the package's public pieces: :func:`~awork_async.sync.changes_since` (the
consistent walk over ``updatedOn``) for inserts and updates, :class:`SyncCheckpoint` as the
watermark, :class:`~awork_async.webhooks.WebhookReceiver` for deletions as they happen and
:func:`~awork_async.sweep.find_deleted` for the periodic sweep, and the client's rate limiter
(a :class:`~awork_async.RedisRateLimiter` shares it between workers).

Choices
-------
* **Library**: SQLAlchemy 2 Core (async) over ``aiosqlite`` for SQLite and ``asyncpg`` for
  PostgreSQL. SQLAlchemy and aiosqlite are runtime dependencies, so a plain
  ``pip install awork-async`` runs ``awork-async mirror --db sqlite:///awork.db``; asyncpg comes
  with the ``awork-async[postgres]`` extra. ``sqlite:///x.db`` and ``postgresql://…`` (or
  ``postgres://…``) are mapped to the async drivers; URLs that already name one are kept. The
  only dialect-specific SQL is what SQLAlchemy offers per dialect: ``INSERT … ON CONFLICT DO
  UPDATE`` (``sqlalchemy.dialects.{sqlite,postgresql}.insert``) and PostgreSQL's advisory locks.
* **Schema** (version :data:`SCHEMA_VERSION`, created and migrated by the tool; a database of a
  newer version is refused): ``time_entries`` (one row per entry: the entry as JSON in ``data``,
  plus typed, indexed columns), ``time_entry_tombstones`` (ids known deleted: ids never come
  back, so a late upsert cannot resurrect a deleted entry), ``mirror_state`` (the
  :class:`~awork_async.sync.SyncCheckpoint` and the time of the last sweep, one row per mirror
  ``name``) and ``mirror_schema`` (the schema version). Times are stored in UTC.
* **Exactly-once effect**: the entries of a pass are written in batches; each batch's upserts and
  the checkpoint reached after it commit in one transaction. An upsert only replaces a row whose
  ``resource_version`` is lower (``WHERE excluded.resource_version >
  time_entries.resource_version``; awork's ``resourceVersion`` grows with every write, API notes
  §9.4; when one side lacks it, ``updated_on`` decides). A crash at any point leaves the
  previous checkpoint with the batches it covers; the rerun reads from there again and its
  upserts of unchanged entries are no-ops: no duplicate (rows are keyed by id), no gap (the
  checkpoint never passes an uncommitted entry), never an older version.
* **Deletions**: with a receiver (``receiver=``, the CLI's ``--webhooks-port``),
  ``timetracking_deleted`` events delete rows at once (other ``timetracking_*`` events upsert
  their entry under the same version rule). The sweep (``sweep_every``, default daily) runs in
  any case, as the safety net for events lost while no receiver ran; ``sweep_every=None``
  disables it.
* **Several workers** (PostgreSQL): every worker may receive webhooks; one *leader* per mirror
  ``name`` runs the passes and sweeps. Leadership is a session-level
  ``pg_try_advisory_lock`` held on a dedicated connection: when the leader dies its connection
  closes and the lock is free; standby workers try again every ``standby_poll`` seconds and
  take over, starting from the committed checkpoint. Every write transaction first takes
  ``pg_advisory_xact_lock`` on a write key, so webhook deletions and upserts are serialised;
  a pass's batches take it shared and commit one at a time under a commit key, after the
  leadership check (see :meth:`MirrorDatabase._commit_json`: a worker that lost the
  leadership cannot commit a batch after its successor's).
  SQLite serves one process: an exclusive ``flock`` on ``FILE.lock`` beside the database (a
  second process is refused; a dead one's lock is released by the OS).
* **Speed**: a pass walks ``changes_since(...).raw_pages()`` and hands batches of each
  entry's JSON text, as awork sent it, to the commit; no Python code runs per entry. The
  commit checks the whole batch with a few C calls (one msgspec decode of the typed fields,
  with the checks of :meth:`MirrorRow.from_json`; regular expressions over the ids and
  instants) and sends the database two values: a small JSON array of each entry's column
  values and the entries' texts one after another. One ``INSERT … SELECT … ON CONFLICT DO
  UPDATE … WHERE`` newer makes the rows with the database's JSON functions and stores each
  text as ``data`` (:func:`_json_upsert`). An entry outside the common shape (upper-case
  UUID, an offset, seven decimals, ``HH:MM``…) sends its batch through
  :meth:`MirrorRow.from_bytes` per entry, which normalises it (or raises
  :class:`~awork_async.APIResponseValidationError`): the columns are the same either way.
  Two batches may wait to commit while the walk reads the next one; they commit one after
  another, in order, and one after a failed commit does not commit. On PostgreSQL three may
  wait, and a batch's ``INSERT`` already runs, on its own connection, while the ones before
  it commit (:class:`_Turn`): the server (the larger part of the CPU per entry) no longer
  idles while the client prepares or sends a batch or a COMMIT travels; only its checkpoint
  and COMMIT wait (a batch sharing an id with an uncommitted one waits whole; rows are
  written in id order). Measured (200,000 entries, 2 cores, load average 0.7-1.0): 0.68 of
  the rate ceiling before, 0.98 after; once fed, the database takes ~20,000 entries/s.
  SQLite: the commit runs in one worker thread through the standard library's sqlite3,
  where SQLite's JSON functions run without the GIL; WAL mode with ``synchronous=NORMAL`` (a
  power loss may undo the last transactions, never corrupt the file; a checkpoint commits
  with its rows, so the rerun reads them again); a new file gets 16 KB pages
  (:data:`SQLITE_PAGE_SIZE`: a 2.6 KB row no longer takes a 4 KB page alone).
  PostgreSQL: the server makes the rows (``jsonb_array_elements``); rows built in Python
  (decoded entries, webhooks) go by binary ``COPY`` (asyncpg's ``copy_records_to_table`` on
  the transaction's own connection) into a temporary table, then one ``INSERT … SELECT … ON
  CONFLICT`` applies them. The ``data`` JSON (TOASTed: about 2 KB per entry) is compressed
  with lz4 when the server offers it (``SET LOCAL default_toast_compression``), about a
  third of the server's CPU per entry.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import itertools
import logging
import operator
import os
import re
import sys
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from datetime import time as dt_time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Optional, TypeAlias
from uuid import UUID

import attrs
import msgspec
import orjson
import sqlalchemy as sa

from . import _constants as C
from ._converter import unstructure, uuid_from_str
from ._exceptions import APIResponseValidationError
from ._naming import to_camel
from ._timeutil import parse_time_of_day, parse_utc_datetime
from .models import TimeEntry
from .sync import DEFAULT_SYNC_OVERLAP, SyncCheckpoint, changes_since

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from ._client import AworkClient
    from ._hooks import Hooks, ResponseEvent
    from .webhooks import WebhookEvent, WebhookReceiver

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_POLL_EVERY",
    "DEFAULT_SWEEP_EVERY",
    "SCHEMA_VERSION",
    "SQLITE_PAGE_SIZE",
    "MirrorCounters",
    "MirrorDatabase",
    "MirrorLeadershipLostError",
    "MirrorLockedError",
    "MirrorRow",
    "PassReport",
    "async_database_url",
    "mirror",
]

log = logging.getLogger("awork_async.mirror")

#: The schema this version creates and expects.
SCHEMA_VERSION: Final = 1
#: Entries per transaction (each with its checkpoint).
DEFAULT_BATCH_SIZE: Final = 2000
#: Seconds between passes.
DEFAULT_POLL_EVERY: Final = 60.0
#: Seconds between deletion sweeps (a day).
DEFAULT_SWEEP_EVERY: Final = 86400.0
#: Seconds a standby worker waits before trying to become the leader again.
DEFAULT_STANDBY_POLL: Final = 10.0
_UTC: Final = timezone.utc

# -- schema -----------------------------------------------------------------------------------

metadata = sa.MetaData()


def _json_type() -> sa.types.TypeEngine[Any]:
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


_ID = sa.String(36)
_TS = sa.DateTime(timezone=True)

time_entries = sa.Table(
    "time_entries",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("user_id", _ID, index=True),
    sa.Column("project_id", _ID, index=True),
    sa.Column("task_id", _ID, index=True),
    sa.Column("type_of_work_id", _ID, index=True),
    sa.Column("start_utc", _TS, index=True),
    sa.Column("end_utc", _TS, index=True),
    sa.Column("duration", sa.Integer),
    sa.Column("is_billable", sa.Boolean, index=True),
    sa.Column("is_billed", sa.Boolean, index=True),
    sa.Column("note", sa.Text),
    sa.Column("created_on", _TS),
    sa.Column("updated_on", _TS, index=True),
    sa.Column("resource_version", sa.BigInteger),
    sa.Column("data", _json_type(), nullable=False),
    sa.Column("mirrored_on", _TS, nullable=False),
)

tombstones = sa.Table(
    "time_entry_tombstones",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("deleted_on", _TS, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)

mirror_state = sa.Table(
    "mirror_state",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("checkpoint", sa.Text),
    sa.Column("last_sweep_on", _TS),
    sa.Column("updated_on", _TS, nullable=False),
)

schema_table = sa.Table(
    "mirror_schema",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("migrated_on", _TS, nullable=False),
)


def _create_v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[time_entries, tombstones, mirror_state])


def _create_indexes(conn: sa.Connection) -> None:
    """Create the indexes of ``time_entries`` that are missing (a first load drops them)."""
    for index in sorted(time_entries.indexes, key=lambda i: str(i.name)):
        index.create(conn, checkfirst=True)


def _drop_indexes(conn: sa.Connection) -> None:
    for index in sorted(time_entries.indexes, key=lambda i: str(i.name)):
        index.drop(conn, checkfirst=True)


#: ``version -> step`` bringing a database from ``version - 1`` to ``version``.
MIGRATIONS: Final[dict[int, Callable[[sa.Connection], None]]] = {1: _create_v1}


class MirrorLockedError(RuntimeError):
    """Another process mirrors into this SQLite database."""


class MirrorLeadershipLostError(RuntimeError):
    """This worker no longer holds the leadership (PostgreSQL): its leader connection broke or
    was closed, so the lock may be another worker's now. The write that found it out was rolled
    back; :func:`mirror` stands by and tries to lead again."""


def async_database_url(url: str) -> sa.URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite``, ``postgresql://`` -> ``postgresql+asyncpg``.

    ``ValueError`` for anything else (before any request).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("database URL must be a non-empty string such as sqlite:///awork.db")
    try:
        parsed = sa.make_url(url.strip())
    except sa.exc.ArgumentError:
        raise ValueError(
            "database URL must look like sqlite:///awork.db or postgresql://user@host/db"
        ) from None
    backend = parsed.get_backend_name()
    # Only a driver named in the URL counts (the default one depends on the SQLAlchemy version).
    driver = parsed.drivername.partition("+")[2] or None
    if backend == "postgres":  # Heroku-style scheme
        backend = "postgresql"
    if backend == "sqlite":
        if driver not in (None, "pysqlite", "aiosqlite"):
            raise ValueError(f"SQLite is used through aiosqlite, not {driver}")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        if driver not in (None, "asyncpg"):
            raise ValueError(f"PostgreSQL is used through asyncpg, not {driver}")
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _lock_key(name: str, role: str) -> int:
    """A signed 64-bit advisory-lock key for the mirror ``name`` and a ``role`` (the leader's
    session lock and the writers' transaction lock must differ: they would block each other)."""
    digest = hashlib.blake2b(f"awork-async-mirror:{role}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(_UTC)


def _instant(entry: TimeEntry, which: str) -> datetime | None:
    try:
        return _utc(entry.start if which == "start" else entry.end)
    except ValueError:  # a malformed time of day: the JSON keeps what was sent
        return None


def _json_kind(hint: Any) -> tuple[type, ...]:
    """The JSON types (besides null) a field of a model takes: str, int, bool, object, array."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    target = typing.get_origin(args[0]) or args[0]
    if target in (str, UUID, datetime):
        return (str,)
    if target is bool:
        return (bool,)
    if target is int:
        return (int,)
    if target is tuple:
        return (list,)
    return (dict,)


#: ``camelCase name -> JSON types`` of every field of ``TimeEntry`` (from the model).
_ENTRY_FIELDS: Final = {
    to_camel(field.name): _json_kind(hint)
    for field in attrs.fields(TimeEntry)
    for hint in [typing.get_type_hints(TimeEntry)[field.name]]
}


_JSON_NAMES: Final = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


class _Invalid(Exception):
    """A field of a raw entry has the wrong type or form (``where`` is its JSON path)."""

    def __init__(self, expected: str, where: str) -> None:
        super().__init__(f"expected {expected} @ $.{where}")


def _raw_uuid(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if value.__class__ is not str:
        raise _Invalid("a UUID string", key)
    try:
        return str(uuid_from_str(value))
    except ValueError:
        raise _Invalid("a UUID string", key) from None


def _raw_datetime(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    if value.__class__ is not str:
        raise _Invalid("a date-time string", key)
    try:
        return parse_utc_datetime(value).astimezone(_UTC)
    except (ValueError, OverflowError):
        raise _Invalid("a date-time string", key) from None


def _raw_instant(day: datetime | None, time_of_day: object, key: str) -> datetime | None:
    """``TimeEntry.start``/``end`` of a raw entry (``None`` for a malformed time of day, as
    :func:`entry_row`: the JSON keeps what was sent)."""
    if time_of_day is not None and time_of_day.__class__ is not str:
        raise _Invalid("a string", key)
    if day is None or time_of_day is None:
        return None
    try:
        return datetime.combine(day.date(), parse_time_of_day(time_of_day), tzinfo=_UTC)
    except ValueError:
        return None


@attrs.frozen
class MirrorRow:
    """A ``time_entries`` row ready to upsert (without ``mirrored_on``, set at the commit).

    Build it with :meth:`from_bytes` (the JSON text awork sent, stored as ``data`` as is),
    :meth:`from_json` (the JSON object awork sent) or :meth:`from_entry` (a decoded
    :class:`~awork_async.models.TimeEntry`). ``json``: the JSON text of ``data`` (UTF-8) when
    the row was built from it (:meth:`from_bytes`), else ``None``.
    """

    id: UUID
    updated_on: datetime | None
    resource_version: int | None
    values: dict[str, Any]
    json: bytes | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def from_entry(cls, entry: TimeEntry) -> MirrorRow:
        """The row of a decoded entry (``data`` is the entry encoded again)."""
        if entry.id is None:
            raise ValueError("a time entry without an id cannot be mirrored")
        return cls(entry.id, _utc(entry.updated_on), entry.resource_version, _entry_values(entry))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> MirrorRow:
        """The row of a time entry as awork sent it, validated without decoding it whole.

        Every top-level field must have its model type's JSON type (string, integer,
        boolean, object or array, or null); the columns' ids must be UUIDs and their
        date-times parse. Anything else raises
        :class:`~awork_async.APIResponseValidationError` naming the entry and the field's path
        (no value: the answer may echo a secret).
        """
        raw_id = raw.get("id")
        try:
            entry_id = uuid_from_str(raw_id) if raw_id.__class__ is str else None
        except ValueError:
            entry_id = None
        try:
            if entry_id is None:
                raise _Invalid("a UUID string", "id")
            for key, value in raw.items():
                kinds = _ENTRY_FIELDS.get(key)  # True is not an int here: its class is bool
                if value is not None and kinds is not None and value.__class__ not in kinds:
                    raise _Invalid(_JSON_NAMES[kinds[0]], key)
            version = raw.get("resourceVersion")
            start_day = _raw_datetime(raw, "startDateUtc")
            end_day = _raw_datetime(raw, "endDateUtc")
            updated_on = _raw_datetime(raw, "updatedOn")
            values = {
                "id": str(entry_id),
                "user_id": _raw_uuid(raw, "userId"),
                "project_id": _raw_uuid(raw, "projectId"),
                "task_id": _raw_uuid(raw, "taskId"),
                "type_of_work_id": _raw_uuid(raw, "typeOfWorkId"),
                "start_utc": _raw_instant(start_day, raw.get("startTimeUtc"), "startTimeUtc"),
                "end_utc": _raw_instant(end_day, raw.get("endTimeUtc"), "endTimeUtc"),
                "duration": raw.get("duration"),
                "is_billable": raw.get("isBillable"),
                "is_billed": raw.get("isBilled"),
                "note": raw.get("note"),
                "created_on": _raw_datetime(raw, "createdOn"),
                "updated_on": updated_on,
                "resource_version": version,
                "data": raw,
            }
        except _Invalid as exc:
            shown = entry_id if entry_id is not None else "without a valid id"
            raise APIResponseValidationError(
                f"cannot decode time entry {shown}: {exc}", status=200
            ) from None
        return cls(entry_id, updated_on, version, values)

    @classmethod
    def from_bytes(cls, data: bytes) -> MirrorRow:
        """The row of one time entry's JSON text as awork sent it (stored as ``data`` as is).

        The same validation and the same row as :meth:`from_json` of the parsed object, without
        building the object: only the typed columns are decoded (``values["data"]`` is an
        ``orjson.Fragment`` of ``data``). An entry outside the common shape (say an upper-case
        UUID or a malformed field) goes through :meth:`from_json`, so it gets the same row or
        the same :class:`~awork_async.APIResponseValidationError`.
        """
        try:
            columns = _decode_columns(data)
            for value in (
                columns.id,
                columns.userId,
                columns.projectId,
                columns.taskId,
                columns.typeOfWorkId,
            ):
                if value is not None and _canonical_uuid(value) is None:
                    raise ValueError("not a lower-case UUID")
            start_day = _utc_or_none(columns.startDateUtc)
            end_day = _utc_or_none(columns.endDateUtc)
            updated_on = _utc_or_none(columns.updatedOn)
            created_on = _utc_or_none(columns.createdOn)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, OverflowError):
            return cls.from_json(orjson.loads(data))
        version = columns.resourceVersion
        values = {
            "id": columns.id,
            "user_id": columns.userId,
            "project_id": columns.projectId,
            "task_id": columns.taskId,
            "type_of_work_id": columns.typeOfWorkId,
            "start_utc": _fast_instant(start_day, columns.startTimeUtc),
            "end_utc": _fast_instant(end_day, columns.endTimeUtc),
            "duration": columns.duration,
            "is_billable": columns.isBillable,
            "is_billed": columns.isBilled,
            "note": columns.note,
            "created_on": created_on,
            "updated_on": updated_on,
            "resource_version": version,
            "data": orjson.Fragment(data),
        }
        return cls(uuid_from_str(columns.id), updated_on, version, values, bytes(data))


#: A lower-case, hyphenated UUID: already in the form the columns store (anything else takes
#: :meth:`MirrorRow.from_json`, which normalises or refuses it). Checked in Python: msgspec's
#: ``Meta(pattern=...)`` costs several times as much.
_canonical_uuid: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
).fullmatch


class _AnyObject(msgspec.Struct, gc=False):
    """Any JSON object (its content skipped): the type check of an object-valued field."""


def _columns_struct() -> type[msgspec.Struct]:
    """A struct of every ``TimeEntry`` field with its JSON type (or null): decoding an entry
    into it checks the same types as :meth:`MirrorRow.from_json` and builds only scalars."""
    kinds: dict[type, Any] = {
        str: str,
        int: int,
        bool: bool,
        dict: _AnyObject,
        list: list[msgspec.Raw],
    }
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, kind in _ENTRY_FIELDS.items():
        hint = kinds[kind[0]]
        fields.append((name, hint) if name == "id" else (name, Optional[hint], None))  # noqa: UP045
    fields.sort(key=lambda field: len(field) == 3)  # the required id first
    return msgspec.defstruct("_EntryColumns", fields, gc=False)


_EntryColumns: Final = _columns_struct()
_decode_columns: Final[Callable[[bytes], Any]] = msgspec.json.Decoder(_EntryColumns).decode


def _utc_or_none(value: str | None) -> datetime | None:
    """:func:`_raw_datetime` of a string: ``…Z`` by the standard library, the rest by
    :func:`parse_utc_datetime`."""
    if value is None:
        return None
    if value[-1:] == "Z" and len(value) <= 27:  # YYYY-MM-DDTHH:MM:SS[.ffffff]Z: UTC already
        try:
            return _fromisoformat(value)
        except ValueError:
            pass
    return parse_utc_datetime(value).astimezone(_UTC)


_fromisoformat: Final = datetime.fromisoformat


def _fast_instant(day: datetime | None, time_of_day: str | None) -> datetime | None:
    """:func:`_raw_instant` of a string time of day (``HH:MM:SS`` parsed by the standard
    library, other forms by :func:`parse_time_of_day`)."""
    if day is None or time_of_day is None:
        return None
    try:
        if len(time_of_day) == 8 and time_of_day[2] == ":" and time_of_day[5] == ":":
            moment = dt_time.fromisoformat(time_of_day)
        else:
            moment = parse_time_of_day(time_of_day)
    except ValueError:
        return None
    return datetime.combine(day.date(), moment, tzinfo=_UTC)


#: An entry to upsert: a decoded entry, a row built from the JSON object awork sent, or that
#: object's JSON text (``bytes``, as :attr:`~awork_async.sync.SyncPage.entries` has it).
MirrorEntry: TypeAlias = "TimeEntry | MirrorRow | bytes"


def _entry_values(entry: TimeEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "user_id": _text(entry.user_id),
        "project_id": _text(entry.project_id),
        "task_id": _text(entry.task_id),
        "type_of_work_id": _text(entry.type_of_work_id),
        "start_utc": _instant(entry, "start"),
        "end_utc": _instant(entry, "end"),
        "duration": entry.duration,
        "is_billable": entry.is_billable,
        "is_billed": entry.is_billed,
        "note": entry.note,
        "created_on": _utc(entry.created_on),
        "updated_on": _utc(entry.updated_on),
        "resource_version": entry.resource_version,
        "data": unstructure(entry),
    }


def entry_row(entry: TimeEntry, now: datetime) -> dict[str, Any]:
    """The ``time_entries`` row of ``entry``."""
    return {**_entry_values(entry), "mirrored_on": now}


def _newest(entries: Iterable[MirrorEntry]) -> list[MirrorRow]:
    """One row per id (the highest version): a pass may meet an entry twice."""
    best: dict[UUID, MirrorRow] = {}
    for item in entries:
        if isinstance(item, (bytes, bytearray, memoryview)):
            item = MirrorRow.from_bytes(bytes(item))
        elif isinstance(item, TimeEntry):
            if item.id is None:
                continue
            item = MirrorRow.from_entry(item)
        old = best.get(item.id)
        if old is None or _order(item) >= _order(old):
            best[item.id] = item
    return list(best.values())


_FLOOR: Final = datetime.min.replace(tzinfo=_UTC)


def _order(row: MirrorRow) -> tuple[int, datetime]:
    return (row.resource_version or 0, row.updated_on or _FLOOR)


# -- batches of JSON texts: the database makes the columns -------------------------------------

#: The columns of a whole batch, decoded at once (the types :meth:`MirrorRow.from_bytes` checks).
_decode_batch: Final[Callable[[bytes], list[Any]]] = msgspec.json.Decoder(
    list[_EntryColumns]  # type: ignore[valid-type]
).decode
_uuid_fields: Final = operator.attrgetter("id", "userId", "projectId", "taskId", "typeOfWorkId")
_instant_fields: Final = operator.attrgetter("startDateUtc", "endDateUtc", "createdOn", "updatedOn")
_time_fields: Final = operator.attrgetter("startTimeUtc", "endTimeUtc")
_entry_id: Final = operator.attrgetter("id")
_not_none: Final = functools.partial(operator.is_not, None)

#: Lower-case, hyphenated UUIDs (the form the columns store), one per line, as
#: :func:`_uuid_lines` sees them: each hex digit made ``x``, any other byte but ``-`` ``?``.
_UUID_SHAPE: Final = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n"
_UUID_TABLE: Final = bytes(
    ord("x") if byte in b"0123456789abcdef" else byte if byte in b"-\n" else ord("?")
    for byte in range(256)
)


def _uuid_lines(values: list[str]) -> bool:
    """Whether every string of ``values`` is a lower-case, hyphenated UUID (one translation of
    the strings joined by newlines, compared with as many UUID shapes)."""
    try:
        text = "\n".join(values).encode("ascii")
    except UnicodeEncodeError:
        return False
    return text.translate(_UUID_TABLE) == (_UUID_SHAPE * len(values))[:-1]


#: Lines of UTC instants ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z``: the SQL of :func:`_json_upsert`
#: turns them into the column values :func:`_utc_or_none` gives.
_INSTANT_LINE: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"
#: Times of day ``HH:MM:SS`` (the form :func:`_fast_instant` reads with the standard library).
_TIME_LINE: Final = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"


def _lines(pattern: str) -> Callable[[list[str]], bool]:
    """Whether every string of a list has the form ``pattern`` (one regular expression over
    the list joined by newlines; a string holding a newline fails the count)."""
    match = re.compile(f"{pattern}(?:\n{pattern})*").fullmatch

    def check(values: list[str]) -> bool:
        if not values:
            return True
        text = "\n".join(values)
        return match(text) is not None and text.count("\n") == len(values) - 1

    return check


_instant_lines: Final = _lines(_INSTANT_LINE)
_time_lines: Final = _lines(_TIME_LINE)


@attrs.frozen
class _JsonBatch:
    """A batch for :func:`_json_upsert`: ``columns``, one JSON array per entry of the values
    the SQL turns into the typed columns (see :data:`_json_fields`) followed by the entry's
    1-based offset and length in ``data``, the entries' JSON texts one after another."""

    columns: bytes
    data: bytes
    #: The batch's ids (PostgreSQL: a batch starts while the one before it is uncommitted
    #: only when they have no id in common; see :class:`_Turn`).
    ids: frozenset[str] = frozenset()


class _PreparedBatch(list):  # type: ignore[type-arg]
    """A pass's batch (its entries' JSON texts) with its :class:`_JsonBatch`, made before its
    turn to commit (``None``: the batch takes the per-entry rows)."""

    prepared: _JsonBatch | None
    #: PostgreSQL, in a pass: this batch's turn, and the one of the batch before it when this
    #: one may start before that one's commit (see :meth:`MirrorDatabase._commit_json`).
    turn: _Turn | None = None
    after: _Turn | None = None

    @classmethod
    def of(cls, entries: Sequence[MirrorEntry]) -> _PreparedBatch:
        batch = cls(entries)
        batch.prepared = _json_batch_of(entries)
        return batch


#: The fields of an entry in a row of :attr:`_JsonBatch.columns` (then offset and length).
_JSON_FIELDS: Final = (
    "id",
    "userId",
    "projectId",
    "taskId",
    "typeOfWorkId",
    "startDateUtc",
    "startTimeUtc",
    "endDateUtc",
    "endTimeUtc",
    "duration",
    "isBillable",
    "isBilled",
    "note",
    "createdOn",
    "updatedOn",
    "resourceVersion",
)
_json_fields: Final = operator.attrgetter(*_JSON_FIELDS)
_encode: Final = msgspec.json.Encoder().encode


def _json_batch(entries: Sequence[bytes]) -> _JsonBatch | None:
    """The batch for :func:`_json_upsert` (the newest entry per id), when every entry is in
    the common shape whose columns that SQL makes into the very values
    :meth:`MirrorRow.from_bytes` gives: the same types (checked by one msgspec decode of the
    whole batch), ids lower-case UUIDs, instants ``…Z`` with at most six decimals and valid,
    times of day ``HH:MM:SS`` and valid, no ``\\u0000``. Else ``None``: the batch takes
    :meth:`MirrorRow.from_bytes` per entry (which normalises an unusual shape or raises
    :class:`~awork_async.APIResponseValidationError`).

    No Python code runs per entry (a handful of C calls per batch: msgspec, ``re``, ``map``),
    so the GIL is held a few µs per entry; the database does the rest in C (SQLite, in the
    commit thread, without the GIL) or in the server (PostgreSQL).
    """
    text = b"[" + b",".join(entries) + b"]"
    if b"\\u0000" in text:  # SQLite's JSON functions end a string at NUL
        return None
    try:
        columns = _decode_batch(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    flat = itertools.chain.from_iterable
    instants = list(filter(_not_none, flat(map(_instant_fields, columns))))
    times = list(filter(_not_none, flat(map(_time_fields, columns))))
    if not (
        _uuid_lines(list(filter(_not_none, flat(map(_uuid_fields, columns)))))
        and _instant_lines(instants)
        and _time_lines(times)
    ):
        return None
    try:
        for _ in map(_valid_instant, instants):
            pass
        for _ in map(_time_fromisoformat, times):
            pass
    except ValueError:
        return None
    ids = list(map(_entry_id, columns))
    unique = frozenset(ids)
    if len(unique) != len(ids):  # an entry met twice (a pass may): keep its newest version
        best: dict[str, int] = {}
        for index, item in enumerate(columns):
            old = best.get(item.id)
            if old is None or _columns_order(item) >= _columns_order(columns[old]):
                best[item.id] = index
        kept = sorted(best.values(), key=ids.__getitem__)
    else:
        kept = sorted(range(len(ids)), key=ids.__getitem__)
    # In id order: two transactions writing rows of the same ids lock them in the same order
    # (PostgreSQL: two workers' batches during a change of leader cannot deadlock that way).
    if kept != list(range(len(ids))):
        entries = [entries[i] for i in kept]
        columns = [columns[i] for i in kept]
        text = b"[" + b",".join(entries) + b"]"
    # Each entry's 1-based offset in the array's text (which is ``data``) and its length.
    lengths = list(map(len, entries))
    starts = itertools.accumulate(map(operator.add, lengths[:-1], itertools.repeat(1)), initial=2)
    spans = zip(starts, lengths, strict=True)
    rows = list(map(operator.add, map(_json_fields, columns), spans))
    return _JsonBatch(_encode(rows), text, unique)


_time_fromisoformat: Final = dt_time.fromisoformat
#: Checks that an instant of the ``…Z`` form is a real one (raises ``ValueError``). Before
#: Python 3.11 ``datetime.fromisoformat`` refuses ``Z`` and fractions of other than 3 or 6
#: digits: there the package's tolerant parser checks (slower, same verdict).
_valid_instant: Final[Callable[[str], object]] = (
    _fromisoformat if sys.version_info >= (3, 11) else parse_utc_datetime
)


def _columns_order(columns: Any) -> tuple[int, datetime]:
    """:func:`_order` of decoded columns."""
    return (columns.resourceVersion or 0, _utc_or_none(columns.updatedOn) or _FLOOR)


# -- the database -----------------------------------------------------------------------------


@attrs.frozen
class MirrorState:
    """The ``mirror_state`` row: the checkpoint and the last sweep."""

    checkpoint: SyncCheckpoint | None
    last_sweep_on: datetime | None


class MirrorDatabase:
    """The mirror's database: schema, batches with their checkpoint, deletions, leadership.

    Args:
        url: ``sqlite:///FILE`` or ``postgresql://…`` (see :func:`async_database_url`).
        name: which mirror's state (several mirrors, e.g. of several workspaces, may share a
            database; their entries share ``time_entries``, so use one database per workspace).
    """

    def __init__(self, url: str, *, name: str = "default") -> None:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ValueError("name must be a non-empty string of at most 200 characters")
        self.url = async_database_url(url)
        self.name = name
        self.dialect = self.url.get_backend_name()
        self._leader_key = _lock_key(name, "leader")
        self._write_key = _lock_key(name, "write")
        self._commit_key = _lock_key(name, "commit")
        self._engine: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()
        self._file_lock: Any = None
        self._leader_conn: AsyncConnection | None = None
        self._leader_pid: int | None = None
        self._lz4 = False  # PostgreSQL can compress TOASTed values with lz4
        self._sync_engine: sa.Engine | None = None  # SQLite: batch commits in a thread

    def __repr__(self) -> str:
        return f"<MirrorDatabase {self.url.render_as_string(hide_password=True)!r} {self.name!r}>"

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not open: use 'async with MirrorDatabase(...)'")
        return self._engine

    async def __aenter__(self) -> MirrorDatabase:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, lock (SQLite), create or migrate the schema, create this mirror's row."""
        from sqlalchemy.ext.asyncio import create_async_engine

        if self.dialect == "sqlite":
            self._lock_sqlite_file()
        options: dict[str, Any] = {
            "json_serializer": lambda obj: orjson.dumps(obj).decode(),
            "json_deserializer": orjson.loads,
        }
        if self.dialect == "postgresql":
            options["pool_pre_ping"] = True
        try:
            engine = create_async_engine(self.url, **options)
        except ImportError as exc:
            self._unlock_sqlite_file()
            raise ImportError(
                "PostgreSQL needs asyncpg: pip install 'awork-async[postgres]'"
            ) from exc
        if self.dialect == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            if self.url.database and self.url.database != ":memory:":
                # Batches are committed by the standard library's sqlite3 in a worker thread,
                # each in one hop (see commit_batch).
                self._sync_engine = sa.create_engine(
                    self.url.set(drivername="sqlite+pysqlite"), **options
                )
                sa.event.listen(self._sync_engine, "connect", _sqlite_pragmas)
        self._engine = engine
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    def _lock_sqlite_file(self) -> None:
        database = self.url.database
        if not database or database == ":memory:":
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, one process by convention
            return
        path = Path(database).with_name(Path(database).name + ".lock")
        handle = path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise MirrorLockedError(
                f"another process is mirroring into {database} (SQLite serves one process; "
                "use PostgreSQL for several workers)"
            ) from None
        self._file_lock = handle

    def _unlock_sqlite_file(self) -> None:
        if self._file_lock is not None:
            self._file_lock.close()  # closing the file releases the flock
            self._file_lock = None

    async def close(self) -> None:
        """Give up leadership, dispose of the connections, release the file lock."""
        await self.resign()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
        self._unlock_sqlite_file()

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction, serialised within the process and (PostgreSQL) between
        workers."""
        async with self._write_lock, self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._write_key)))
            yield conn

    # -- schema ---------------------------------------------------------------------------

    async def migrate(self) -> int:
        """Create or upgrade the schema to :data:`SCHEMA_VERSION`; the version found before."""
        async with self._write() as conn:
            if self.dialect == "postgresql":
                self._lz4 = bool(await conn.scalar(_LZ4_AVAILABLE))
            found = await conn.run_sync(_schema_version)
            if found > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the database has mirror schema version {found}, newer than this version "
                    f"of awork-async understands ({SCHEMA_VERSION}): upgrade awork-async"
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                await conn.run_sync(MIGRATIONS[version])
            await conn.run_sync(_create_indexes)  # dropped by a first load that stopped
            now = datetime.now(_UTC)
            if found != SCHEMA_VERSION:
                await conn.execute(sa.delete(schema_table))
                await conn.execute(
                    sa.insert(schema_table).values(version=SCHEMA_VERSION, migrated_on=now)
                )
            exists = await conn.scalar(
                sa.select(sa.func.count()).where(mirror_state.c.name == self.name)
            )
            if not exists:
                await conn.execute(sa.insert(mirror_state).values(name=self.name, updated_on=now))
            return found

    # -- state ----------------------------------------------------------------------------

    async def state(self) -> MirrorState:
        """The checkpoint and the last sweep of this mirror."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(mirror_state.c.checkpoint, mirror_state.c.last_sweep_on).where(
                        mirror_state.c.name == self.name
                    )
                )
            ).one()
        text, swept = row
        checkpoint = None if text is None else SyncCheckpoint.from_json(text)
        return MirrorState(checkpoint=checkpoint, last_sweep_on=_aware(swept))

    async def commit_batch(
        self, entries: Sequence[MirrorEntry], checkpoint: SyncCheckpoint | None
    ) -> int:
        """Upsert ``entries`` and (unless ``None``) store ``checkpoint``, in one transaction.

        An entry is a :class:`~awork_async.models.TimeEntry`, a :class:`MirrorRow` (built
        from the JSON object awork sent, which is stored as ``data`` as is) or that object's
        JSON text (``bytes``): a batch of texts only is made into rows by the database's JSON
        functions (the same columns as :meth:`MirrorRow.from_bytes`, whose checks apply:
        a wrong-typed entry raises :class:`~awork_async.APIResponseValidationError` and
        nothing of the batch is written).

        Returns the rows inserted or changed (an entry at a version already stored, or older,
        or deleted, changes nothing).

        On PostgreSQL storing a checkpoint is the leader's act: the transaction first checks
        that this process's leader connection (see :meth:`try_lead`) still holds the lock, and
        raises :class:`MirrorLeadershipLostError` (nothing written) when it does not. Every
        write takes the same transaction lock, so a worker that lost the leadership cannot
        write a batch after its successor's.

        On SQLite the whole transaction runs in one worker thread (the standard library's
        sqlite3 through SQLAlchemy): one hop instead of a round trip through the event loop
        per statement, each of which waited behind the walk's work on the loop.
        """
        if self.dialect == "sqlite":
            async with self._write_lock:
                if self._sync_engine is None:  # in memory: the one connection of the pool
                    async with self.engine.begin() as conn:
                        return await conn.run_sync(_commit_sqlite, self.name, entries, checkpoint)
                return await asyncio.to_thread(self._commit_in_thread, entries, checkpoint)
        if not isinstance(entries, _PreparedBatch):
            entries = _PreparedBatch.of(entries)
        if entries.prepared is not None:
            return await self._commit_json(entries, checkpoint)
        async with self._write() as conn:
            if checkpoint is not None:
                await self._check_leader(conn)
            changed = await self._upsert(conn, entries)
            if checkpoint is not None:
                await conn.execute(
                    sa.update(mirror_state)
                    .where(mirror_state.c.name == self.name)
                    .values(checkpoint=checkpoint.to_json(), updated_on=datetime.now(_UTC))
                )
            return changed

    async def _commit_json(self, batch: _PreparedBatch, checkpoint: SyncCheckpoint | None) -> int:
        """PostgreSQL's commit of a batch of JSON texts (see :class:`_Turn`): its rows are
        written while the batch before it (``batch.after``) may still be uncommitted; the
        checkpoint and the COMMIT follow that batch's commit, under the commit lock.

        Locks, all of them transaction-level advisory locks, so every wait is the server's
        (its deadlock detector sees them; a Python wait never holds a row another waits for):

        1. this batch's own key (``batch.turn``): the next batch waits on it for this
           transaction's end. Taken first, at once (nobody else takes it exclusively).
        2. the write key, *shared*: the other writes (webhooks, deletions, the per-entry path)
           take it exclusively for their whole transaction, so none of them runs while a batch
           holds rows it may wait for, and a batch does not start while one is queued.
        3. the rows (the ``INSERT … SELECT``, in id order).
        4. the batch before's key, shared: granted once its transaction ended; then its outcome
           (Python): after a failed one this one rolls back (``_Skipped``).
        5. the commit key, exclusive, held to the COMMIT: the leadership check, the checkpoint
           and the COMMIT of one batch at a time, across workers.

        Fencing (a worker that lost the leadership cannot write a batch after its successor's):
        every commit that stores a checkpoint checks, under a lock it holds until its COMMIT,
        that its worker's leader connection holds the leader lock: the commit key here, the
        write key (exclusive) on the per-entry path, which excludes every batch transaction
        (2.). So two such commits never overlap from check to COMMIT. Once the successor has
        committed a batch (its check passed: it held the leader lock, so the old leader no
        longer did), any later check of the old leader runs after that COMMIT and fails; its
        rows, written before its check, roll back with it.
        """
        turn, after = batch.turn, batch.after
        committed = False
        async with self.engine.connect() as conn:
            try:
                async with conn.begin():
                    if turn is not None:
                        await conn.execute(_PG_XACT_LOCK, {"hi": turn.key[0], "lo": turn.key[1]})
                        turn.locked.set()
                    await conn.execute(
                        sa.select(sa.func.pg_advisory_xact_lock_shared(self._write_key))
                    )
                    changed = await self._upsert(conn, batch)
                    if after is not None:
                        hi, lo = after.key
                        await conn.execute(_PG_XACT_LOCK_SHARED, {"hi": hi, "lo": lo})
                        # Its transaction has ended in the server: its outcome is at hand.
                        if not await asyncio.shield(after.committed):
                            raise _Skipped
                    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._commit_key)))
                    if checkpoint is not None:
                        await self._check_leader(conn)
                        await conn.execute(
                            sa.update(mirror_state)
                            .where(mirror_state.c.name == self.name)
                            .values(checkpoint=checkpoint.to_json(), updated_on=datetime.now(_UTC))
                        )
                committed = True
                return changed
            finally:
                if turn is not None:
                    turn.locked.set()
                    if not turn.committed.done():
                        turn.committed.set_result(committed)

    def _commit_in_thread(
        self, entries: Sequence[MirrorEntry], checkpoint: SyncCheckpoint | None
    ) -> int:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return _commit_sqlite(conn, self.name, entries, checkpoint)

    async def _upsert(self, conn: AsyncConnection, entries: Sequence[MirrorEntry]) -> int:
        """PostgreSQL's upsert (SQLite's: :func:`_commit_sqlite`)."""
        batch = _json_batch_of(entries)
        if batch is not None:
            # Two parameters: the columns as one JSON array and the entries' texts, made into
            # rows by the server.
            if self._lz4:
                await conn.execute(sa.text("SET LOCAL default_toast_compression = 'lz4'"))
            parameters = {"columns": batch.columns, "data": batch.data, "now": datetime.now(_UTC)}
            result = await conn.execute(_json_upsert("postgresql"), parameters)
            return max(int(result.rowcount), 0)
        rows = _newest(entries)
        if not rows:
            return 0
        now = datetime.now(_UTC)
        # Binary COPY (asyncpg's copy_records_to_table, on the transaction's own connection):
        # new ids straight into the table; otherwise into a temporary table (the JSON as UTF-8
        # bytes), then one INSERT … SELECT … ON CONFLICT applies the version rule and skips
        # the tombstones. No per-row statement, no per-row RETURNING; the INSERT's status
        # counts the rows inserted or changed.
        driver: Any = (await conn.get_raw_connection()).driver_connection
        if self._lz4:  # the JSON is TOASTed: lz4 costs the server a fraction of pglz's CPU
            await conn.execute(sa.text("SET LOCAL default_toast_compression = 'lz4'"))
        ids = [row.values["id"] for row in rows]
        if not await conn.scalar(_pg_any_known(), {"ids": ids}):
            # None of these ids is stored or deleted (a first load, new entries): straight
            # into the table (under the write lock, so no other writer adds one meanwhile).
            await driver.copy_records_to_table(
                time_entries.name,
                records=[_pg_record(row, now, text=True) for row in rows],
                columns=_COLUMN_NAMES,
            )
            return len(rows)
        await conn.execute(sa.schema.CreateTable(batch_table, if_not_exists=True))
        await driver.copy_records_to_table(
            batch_table.name,
            records=[_pg_record(row, now) for row in rows],
            columns=_COLUMN_NAMES,
        )
        result = await conn.execute(_pg_upsert_from_batch())
        return max(int(result.rowcount), 0)

    async def drop_indexes(self) -> None:
        """Drop the secondary indexes of ``time_entries`` (a first load fills the table
        without them, then :meth:`create_indexes` builds each at once: half the database's
        work per entry). Opening the database creates any that are missing."""
        async with self._write() as conn:
            await conn.run_sync(_drop_indexes)

    async def create_indexes(self) -> None:
        """Create the secondary indexes of ``time_entries`` that are missing."""
        async with self._write() as conn:
            await conn.run_sync(_create_indexes)

    async def upsert(self, entries: Sequence[MirrorEntry]) -> int:
        """Upsert ``entries`` (the version rule applies), without touching the checkpoint."""
        return await self.commit_batch(entries, None)

    async def delete(self, ids: Iterable[UUID | str], *, source: str) -> int:
        """Delete entries by id and remember them as deleted; the rows removed."""
        keys = sorted({str(UUID(str(i))) for i in ids})
        if not keys:
            return 0
        removed = 0
        now = datetime.now(_UTC)
        for start in range(0, len(keys), DEFAULT_BATCH_SIZE):
            chunk = keys[start : start + DEFAULT_BATCH_SIZE]
            async with self._write() as conn:
                known = set(
                    (
                        await conn.execute(
                            sa.select(tombstones.c.id).where(tombstones.c.id.in_(chunk))
                        )
                    )
                    .scalars()
                    .all()
                )
                fresh = [k for k in chunk if k not in known]
                if fresh:
                    await conn.execute(
                        sa.insert(tombstones),
                        [{"id": k, "deleted_on": now, "source": source} for k in fresh],
                    )
                result = await conn.execute(
                    sa.delete(time_entries).where(time_entries.c.id.in_(chunk))
                )
                removed += max(result.rowcount, 0)
        return removed

    async def ids(self) -> list[UUID]:
        """The ids of every mirrored entry (for the sweep)."""
        async with self.engine.connect() as conn:
            result = await conn.stream_scalars(sa.select(time_entries.c.id))
            return [UUID(value) async for value in result]

    async def mark_swept(self, when: datetime) -> None:
        """Record the start of the last complete sweep."""
        async with self._write() as conn:
            await conn.execute(
                sa.update(mirror_state)
                .where(mirror_state.c.name == self.name)
                .values(last_sweep_on=when, updated_on=datetime.now(_UTC))
            )

    async def entries(self) -> dict[str, tuple[int | None, dict[str, Any]]]:
        """``id -> (resource_version, row)`` of every mirrored entry (tests, small tables)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(time_entries))).mappings().all()
        return {row["id"]: (row["resource_version"], dict(row)) for row in rows}

    # -- leadership -----------------------------------------------------------------------

    async def _check_leader(self, conn: AsyncConnection) -> None:
        """Raise :class:`MirrorLeadershipLostError` unless the leader lock is held by this
        process's leader connection (PostgreSQL; checked in ``pg_locks`` by its backend)."""
        if self.dialect != "postgresql":
            return
        pid = self._leader_pid
        if pid is not None:
            key = self._leader_key & 0xFFFFFFFFFFFFFFFF  # a bigint key: two oids and subid 1
            held = await conn.scalar(
                _HELD_ADVISORY_LOCK, {"pid": pid, "hi": key >> 32, "lo": key & 0xFFFFFFFF}
            )
            if held:
                return
        raise MirrorLeadershipLostError(
            f"mirror {self.name!r}: this worker does not hold the leadership (any more)"
        )

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the leadership (always, for SQLite once opened)."""
        return self.dialect != "postgresql" or self._leader_conn is not None

    async def try_lead(self) -> bool:
        """Become the leader if nobody is (PostgreSQL: ``pg_try_advisory_lock`` held on a
        dedicated connection); whether this process leads now. A leader whose connection broke
        loses leadership here."""
        if self.dialect != "postgresql":
            return True
        if self._leader_conn is not None:
            try:
                await self._leader_conn.execute(sa.select(1))
                await self._leader_conn.commit()  # never left idle in a transaction
                return True
            except Exception:
                log.warning("lost the leader connection; standing by")
                await self.resign()
                return False
        conn = await self.engine.connect()
        try:
            got, pid = (
                await conn.execute(
                    sa.select(
                        sa.func.pg_try_advisory_lock(self._leader_key), sa.func.pg_backend_pid()
                    )
                )
            ).one()
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        if got:
            self._leader_conn, self._leader_pid = conn, pid
            return True
        await conn.close()
        return False

    async def resign(self) -> None:
        """Release the leadership (PostgreSQL); closing the connection releases the lock."""
        conn, self._leader_conn = self._leader_conn, None
        self._leader_pid = None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.execute(sa.select(sa.func.pg_advisory_unlock(self._leader_key)))
            with contextlib.suppress(Exception):
                await conn.close()


#: Whether the server offers lz4 for TOAST compression (PostgreSQL >= 14 built with lz4).
_LZ4_AVAILABLE: Final = sa.text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)

#: A batch's own transaction lock (two int4 keys: never one of the bigint keys above).
_PG_XACT_LOCK: Final = sa.text("SELECT pg_advisory_xact_lock(CAST(:hi AS int), CAST(:lo AS int))")
_PG_XACT_LOCK_SHARED: Final = sa.text(
    "SELECT pg_advisory_xact_lock_shared(CAST(:hi AS int), CAST(:lo AS int))"
)

#: Whether backend ``pid`` holds the session advisory lock on the bigint key ``hi, lo``.
_HELD_ADVISORY_LOCK: Final = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = :pid AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid)"
    " AND objsubid = 1"
)


def _upsert_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (id) DO UPDATE … WHERE`` the new row is newer (the version rule)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(time_entries)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(time_entries)
    new = stmt.excluded
    old = time_entries.c
    newer = sa.or_(
        sa.and_(
            new.resource_version.is_not(None),
            old.resource_version.is_not(None),
            new.resource_version > old.resource_version,
        ),
        sa.and_(
            sa.or_(new.resource_version.is_(None), old.resource_version.is_(None)),
            new.updated_on > old.updated_on,
        ),
    )
    columns = [c.name for c in time_entries.columns if c.name != "id"]
    return stmt.on_conflict_do_update(
        index_elements=[old.id],
        set_={name: new[name] for name in columns},
        where=newer,
    )


@functools.cache
def _json_upsert(dialect: str) -> Any:
    """The upsert of a :class:`_JsonBatch` (``:columns`` and ``:data``, from
    :func:`_json_batch`): the database splits the small JSON array of column values and makes
    the typed columns with its own JSON functions (C code; on SQLite in the commit thread
    without the GIL, on PostgreSQL in the server), instead of Python building a row of 16
    values per entry; ``data`` is each entry's text cut from ``:data`` (SQLite: as sent;
    PostgreSQL: made ``jsonb``). The version rule of :func:`_upsert_statement`; tombstoned ids
    are skipped. ``:now`` is ``mirrored_on``."""
    blob = sa.bindparam("data", type_=sa.LargeBinary())  # UTF-8: sent as is, no str built
    array = sa.bindparam("columns", type_=sa.LargeBinary())
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        values = sa.cast(sa.func.convert_from(array, "UTF8", type_=sa.Text()), JSONB)
        elements: Any = sa.func.jsonb_array_elements(values).table_valued(sa.column("value", JSONB))
        value = elements.c.value

        def field(index: int) -> Any:
            return value[index].astext

        def instant(text: Any) -> Any:
            return sa.cast(text, _TS)

        def day_and_time(day: Any, moment: Any) -> Any:
            start = sa.func.substr(day, 1, 10, type_=sa.Text())
            return sa.cast(start.concat(" ").concat(moment).concat("Z"), _TS)

        def typed(text: Any, kind: sa.types.TypeEngine[Any]) -> Any:
            return sa.cast(text, kind)

        def cut(offset: Any, length: Any) -> Any:
            text = sa.func.convert_from(sa.func.substr(blob, offset, length), "UTF8")
            return sa.cast(text, JSONB)

        now: Any = sa.bindparam("now", type_=_TS)
    else:
        # Materialised once: each reference to json_each's value renders the element again.
        rows = (
            sa.select(sa.func.json_each(sa.cast(array, sa.Text())).table_valued("value").c.value)
            .cte("elements")
            .prefix_with("MATERIALIZED")
        )
        value = rows.c.value
        elements = rows

        def field(index: int) -> Any:
            return sa.func.json_extract(value, f"$[{index}]", type_=sa.Text())

        def instant(text: Any) -> Any:
            # YYYY-MM-DDTHH:MM:SS[.f]Z -> SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" (NULL stays)
            fraction = sa.func.rtrim(sa.func.substr(text, 21, type_=sa.Text()), "Z")
            return (
                sa.func.substr(text, 1, 10, type_=sa.Text())
                .concat(" ")
                .concat(sa.func.substr(text, 12, 8, type_=sa.Text()))
                .concat(".")
                .concat(sa.func.substr(fraction.concat("000000"), 1, 6, type_=sa.Text()))
            )

        def day_and_time(day: Any, moment: Any) -> Any:
            start = sa.func.substr(day, 1, 10, type_=sa.Text())
            return start.concat(" ").concat(moment).concat(".000000")

        def typed(text: Any, kind: sa.types.TypeEngine[Any]) -> Any:
            return text  # json_extract gives SQLite's integer (booleans: 0 and 1)

        def cut(offset: Any, length: Any) -> Any:
            return sa.cast(sa.func.substr(blob, offset, length), sa.Text())  # bytes of a BLOB

        now = sa.bindparam("now", type_=sa.String())
    get = {name: field(index) for index, name in enumerate(_JSON_FIELDS)}
    span = len(_JSON_FIELDS)
    columns: dict[str, Any] = {
        "id": get["id"],
        "user_id": get["userId"],
        "project_id": get["projectId"],
        "task_id": get["taskId"],
        "type_of_work_id": get["typeOfWorkId"],
        "start_utc": day_and_time(get["startDateUtc"], get["startTimeUtc"]),
        "end_utc": day_and_time(get["endDateUtc"], get["endTimeUtc"]),
        "duration": typed(get["duration"], sa.Integer()),
        "is_billable": typed(get["isBillable"], sa.Boolean()),
        "is_billed": typed(get["isBilled"], sa.Boolean()),
        "note": get["note"],
        "created_on": instant(get["createdOn"]),
        "updated_on": instant(get["updatedOn"]),
        "resource_version": typed(get["resourceVersion"], sa.BigInteger()),
        "data": cut(typed(field(span), sa.Integer()), typed(field(span + 1), sa.Integer())),
        "mirrored_on": now,
    }
    assert list(columns) == list(_COLUMN_NAMES), list(columns)
    dead = sa.select(tombstones.c.id).where(tombstones.c.id == get["id"]).exists()
    select = sa.select(*columns.values()).select_from(elements).where(~dead)
    return _upsert_statement(dialect).from_select(list(columns), select)


#: The PostgreSQL upsert's staging table: one per connection, emptied at each commit. ``data``
#: is the JSON's UTF-8 text (``bytea``: sent as is), made ``jsonb`` by the INSERT … SELECT.
batch_table = sa.Table(
    "_awork_mirror_batch_v2",
    sa.MetaData(),
    *(
        sa.Column(c.name, c.type if c.name != "data" else sa.LargeBinary())
        for c in time_entries.columns
    ),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)


_COLUMN_NAMES: Final = tuple(c.name for c in time_entries.columns)
assert _COLUMN_NAMES[-2:] == ("data", "mirrored_on"), _COLUMN_NAMES
_plain_values: Final = operator.itemgetter(*_COLUMN_NAMES[:-2])


def _pg_record(row: MirrorRow, now: datetime, *, text: bool = False) -> tuple[Any, ...]:
    """A row for ``copy_records_to_table``: ``data`` as UTF-8 JSON for :data:`batch_table`,
    as ``str`` (``text``) for ``time_entries``' ``jsonb``."""
    data = row.json if row.json is not None else orjson.dumps(row.values["data"])
    return (*_plain_values(row.values), data.decode() if text else data, now)


@functools.cache
def _pg_any_known() -> Any:
    """Whether any of ``:ids`` is in ``time_entries`` or among the tombstones (one array
    parameter, not one per id)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    ids = sa.bindparam("ids", type_=ARRAY(sa.String()))
    return sa.select(
        sa.or_(
            sa.select(time_entries.c.id).where(time_entries.c.id == sa.any_(ids)).exists(),
            sa.select(tombstones.c.id).where(tombstones.c.id == sa.any_(ids)).exists(),
        )
    )


@functools.cache
def _pg_upsert_from_batch() -> Any:
    """``INSERT INTO time_entries SELECT * FROM`` :data:`batch_table` ``ON CONFLICT …`` (the
    version rule of :func:`_upsert_statement`)."""
    from sqlalchemy.dialects.postgresql import JSONB

    stmt = _upsert_statement("postgresql")
    names = [c.name for c in time_entries.columns]
    new = batch_table.c
    columns = [
        new[name] if name != "data" else sa.cast(sa.func.convert_from(new.data, "UTF8"), JSONB)
        for name in names
    ]
    dead = sa.select(tombstones.c.id).where(tombstones.c.id == new.id).exists()
    return stmt.from_select(names, sa.select(*columns).where(~dead))


def _commit_sqlite(
    conn: sa.Connection,
    name: str,
    entries: Sequence[MirrorEntry],
    checkpoint: SyncCheckpoint | None,
) -> int:
    """SQLite's :meth:`MirrorDatabase.commit_batch` inside its transaction: the rows inserted or
    changed."""
    batch = _json_batch_of(entries)
    if batch is not None:
        stamp = _sqlite_datetime(datetime.now(_UTC))
        conn.execute(
            _json_upsert("sqlite"), {"columns": batch.columns, "data": batch.data, "now": stamp}
        )
        # The rows inserted or changed (the driver's rowcount misses it: the SQL starts WITH).
        changed = int(conn.scalar(sa.select(sa.func.changes())) or 0)
        if checkpoint is not None:
            _store_checkpoint(conn, name, checkpoint)
        return changed
    changed = 0
    live = _newest(entries)
    if live and conn.scalar(sa.select(tombstones.c.id).limit(1)) is not None:
        ids = [row.values["id"] for row in live]
        dead = set(
            conn.execute(sa.select(tombstones.c.id).where(tombstones.c.id.in_(ids))).scalars()
        )
        live = [row for row in live if row.values["id"] not in dead]
    if live:
        # The same statement, compiled once by SQLAlchemy, run as the driver's executemany
        # with plain tuples in SQLAlchemy's SQLite storage formats: SQLAlchemy's per-row
        # parameter handling cost twice what SQLite itself does. The changed-row count is the
        # driver's (an upsert whose WHERE is false changes nothing).
        sql, order = _sqlite_upsert()
        stamp = _sqlite_datetime(datetime.now(_UTC))
        params = [_sqlite_params(row.values, order, stamp, row.json) for row in live]
        changed = max(conn.exec_driver_sql(sql, params).rowcount, 0)
    if checkpoint is not None:
        _store_checkpoint(conn, name, checkpoint)
    return changed


def _store_checkpoint(conn: sa.Connection, name: str, checkpoint: SyncCheckpoint) -> None:
    conn.execute(
        sa.update(mirror_state)
        .where(mirror_state.c.name == name)
        .values(checkpoint=checkpoint.to_json(), updated_on=datetime.now(_UTC))
    )


def _json_batch_of(entries: Sequence[MirrorEntry]) -> _JsonBatch | None:
    """:func:`_json_batch` of a batch of JSON texts only (``None`` otherwise)."""
    if isinstance(entries, _PreparedBatch):
        return entries.prepared
    if not entries or not all(entry.__class__ is bytes for entry in entries):
        return None
    return _json_batch(typing.cast("Sequence[bytes]", entries))


@functools.cache
def _sqlite_upsert() -> tuple[str, tuple[str, ...]]:
    """The SQLite upsert's SQL (``?`` parameters) and the columns in parameter order."""
    from sqlalchemy.dialects import sqlite

    compiled = _upsert_statement("sqlite").compile(dialect=sqlite.dialect())
    order = tuple(compiled.positiontup or ())
    assert set(order) == {c.name for c in time_entries.columns}, order
    return str(compiled), order


_SQLITE_DATETIMES: Final = frozenset(
    c.name for c in time_entries.columns if isinstance(c.type, sa.DateTime)
)


def _sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite ``DATETIME`` storage format (``2025-09-01 12:00:00.000000``), of a
    UTC value (read back as naive UTC, as through SQLAlchemy)."""
    if value is None:
        return None
    return value.astimezone(_UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_params(
    values: dict[str, Any], order: tuple[str, ...], stamp: str | None, text: bytes | None = None
) -> tuple[Any, ...]:
    """A row's parameters for the SQLite upsert, in SQLAlchemy's storage formats (``text``:
    the JSON of ``data`` when known)."""
    get, datetimes, data, mirrored_on = _sqlite_layout(order)
    out = list(get(values))
    for index in datetimes:
        value = out[index]
        if value is not None:
            if value.tzinfo is not _UTC:
                value = value.astimezone(_UTC)
            out[index] = value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"
    out[data] = (orjson.dumps(out[data]) if text is None else text).decode()
    out[mirrored_on] = stamp
    return tuple(out)


@functools.cache
def _sqlite_layout(
    order: tuple[str, ...],
) -> tuple[Callable[[dict[str, Any]], tuple[Any, ...]], tuple[int, ...], int, int]:
    """For ``order``: a getter of the values in that order (``mirrored_on`` stands for itself,
    replaced by the stamp), where the datetimes to format, ``data`` and ``mirrored_on`` are."""
    datetimes = _SQLITE_DATETIMES - {"mirrored_on"}
    names = [name if name != "mirrored_on" else "id" for name in order]
    return (
        operator.itemgetter(*names),
        tuple(i for i, name in enumerate(order) if name in datetimes),
        order.index("data"),
        order.index("mirrored_on"),
    )


#: The page size of a new SQLite database. An entry's row is about 2.6 KB (its JSON): with
#: SQLite's default 4 KB pages each row took a page of its own, half of it empty; with 16 KB
#: pages a first load writes about 20 % fewer bytes, its commits cost half as much and the
#: indexes built at its end a half (each scans the table). An existing database keeps its size.
SQLITE_PAGE_SIZE: Final = 16384


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL: a new file's only
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _schema_version(conn: sa.Connection) -> int:
    inspector = sa.inspect(conn)
    if not inspector.has_table(schema_table.name):
        schema_table.create(conn)
        return 0
    value = conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar()
    return int(value or 0)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)


# -- the loop ---------------------------------------------------------------------------------


class MirrorCounters:
    """Requests and 429s seen by a client: pass :meth:`hooks` to the ``AworkClient``."""

    def __init__(self) -> None:
        self.requests = 0
        self.rate_limited = 0

    def on_response(self, event: ResponseEvent) -> None:
        """Count one answer."""
        self.requests += 1
        if event.status == 429:
            self.rate_limited += 1

    def hooks(self) -> Hooks:
        """``Hooks(on_response=[self.on_response])``."""
        from ._hooks import Hooks

        return Hooks(on_response=[self.on_response])


@attrs.frozen
class PassReport:
    """What one pass did.

    Attributes:
        kind: ``"first-load"`` (no checkpoint before), ``"pass"``, ``"standby"`` (another worker
            leads) or ``"sweep"``.
        read: entries read from awork.
        upserted: rows inserted or changed.
        deleted: rows deleted (sweep and webhooks since the previous report).
        requests, rate_limited: answers and 429s (from :class:`MirrorCounters` when given, else
            the pass's list requests and 0).
        lag: seconds from the start of the pass to its last commit: the table reflects awork as
            of at most this long ago (plus the time until the next pass).
        seconds: the pass's duration.
    """

    kind: str
    read: int = 0
    upserted: int = 0
    deleted: int = 0
    requests: int = 0
    rate_limited: int = 0
    lag: float = 0.0
    seconds: float = 0.0

    def to_json(self) -> str:
        """One JSON object (for log shippers)."""
        return orjson.dumps(attrs.asdict(self)).decode()

    def line(self) -> str:
        """One human-readable line."""
        return (
            f"{self.kind}: {self.read} read, {self.upserted} upserted, {self.deleted} deleted, "
            f"{self.requests} requests, {self.rate_limited} 429s, lag {self.lag:.1f}s"
        )


ProgressCallback = Callable[[int, "int | None"], object]
PassCallback = Callable[[PassReport], object]


#: Batches committing or waiting to commit while the walk reads the next one: the walk waits
#: for a commit only when this many are pending, so a slow commit (or a burst of pages) does
#: not stall it at once. Commits still run one after another, in order.
_IN_FLIGHT: Final = 2
#: The same on PostgreSQL, where a batch's rows are written while the ones before it commit
#: (:class:`_Turn`): one more, so that the next batch is ready (prepared, its transaction
#: open) when the one writing its rows is done, and the server is not left without a batch
#: while one commits and the next is prepared.
_PG_IN_FLIGHT: Final = 3


class _Skipped(Exception):
    """A batch not committed because the one before it failed (its checkpoint would cover
    that batch's entries)."""


_turn_keys: Final = itertools.count()


class _Turn:
    """A batch's place in its pass's order of commits (PostgreSQL).

    On PostgreSQL a batch of JSON texts (:meth:`MirrorDatabase._commit_json`) writes its rows
    on its own connection while the batch before it may still be uncommitted, so the server
    (the larger part of the CPU per entry) works on two batches at once and does not idle
    while the client sends the next one or a COMMIT travels; its checkpoint and COMMIT still
    wait for that batch's COMMIT, and it rolls back when that one failed. It starts that
    early only when the batch before is such a batch too, and holds none of its ids (two
    uncommitted batches of one worker never wait for each other's rows); otherwise it starts
    after that batch's end, as every batch does on SQLite.

    ``key``: the two int4 keys of the batch's own transaction lock (the next batch waits on it
    in the server); ``locked``: set once the batch's transaction holds it, or the batch ended;
    ``previous``: the batch before it, while this one's transaction has not ended (the batches
    uncommitted are a chain); ``committed``: whether its transaction committed, set as it ends
    (the next batch, holding
    locks, waits for nothing else in Python: not for whatever the batch's task does after
    its COMMIT); ``task``: the batch's commit; ``concurrent`` and ``ids``: whether the batch
    takes :meth:`~MirrorDatabase._commit_json` and its ids (known once it is prepared).
    """

    def __init__(self, space: int, previous: _Turn | None) -> None:
        self.key = (space, next(_turn_keys) % 2**31)
        self.previous = previous  # until this one's transaction ends
        self.locked = asyncio.Event()
        self.committed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Future[int] | None = None
        self.concurrent = False
        self.ids: frozenset[str] = frozenset()

    def disjoint_from_uncommitted(self) -> bool:
        """Whether every batch before this one whose transaction has not ended is written
        early too and holds none of this one's ids."""
        other = self.previous
        while other is not None and not other.committed.done():
            if not (other.concurrent and other.ids.isdisjoint(self.ids)):
                return False
            other = other.previous
        return True

    async def outcome(self) -> None:
        """Wait for the batch's commit; raise :class:`_Skipped` when it did not commit."""
        assert self.task is not None
        await asyncio.wait({self.task})
        if self.task.cancelled() or self.task.exception() is not None:
            raise _Skipped


class _Writer:
    """Commits a pass's batches one after another while the walk goes on: up to
    :data:`_IN_FLIGHT` batches (:data:`_PG_IN_FLIGHT` on PostgreSQL) are pending, each
    committed (with its checkpoint) after the one before it, and only if that one committed. A
    failed commit is raised by the next :meth:`submit` or :meth:`drain`."""

    def __init__(
        self, db: MirrorDatabase, total: int | None, on_progress: ProgressCallback | None
    ) -> None:
        self.db = db
        self.total = total
        self.on_progress = on_progress
        self.upserted = 0
        self._pending: collections.deque[tuple[asyncio.Task[int], int]] = collections.deque()
        self._last: _Turn | None = None
        self._in_flight = _PG_IN_FLIGHT if db.dialect == "postgresql" else _IN_FLIGHT
        # The first of the two keys of this writer's batch locks (random: other workers'
        # batches have other keys).
        self._space = int.from_bytes(os.urandom(4), "big", signed=True)

    async def _finish_oldest(self) -> None:
        task, read = self._pending[0]
        try:
            self.upserted += await task
        finally:
            self._pending.popleft()
        if self.on_progress is not None:
            self.on_progress(read, self.total)

    async def _commit_after(
        self,
        previous: _Turn | None,
        turn: _Turn,
        batch: list[MirrorEntry],
        checkpoint: SyncCheckpoint | None,
    ) -> int:
        try:
            # Made ready while the batches before it commit (in a worker thread: C calls, most
            # of the time without the event loop's turn).
            ready = await asyncio.to_thread(_PreparedBatch.of, batch)
            turn.concurrent = self.db.dialect == "postgresql" and ready.prepared is not None
            if ready.prepared is not None:
                turn.ids = ready.prepared.ids
            if previous is not None:
                await previous.locked.wait()  # its transaction holds its lock, or it ended
                early = (
                    turn.concurrent
                    and previous.concurrent
                    and previous.task is not None
                    and not previous.task.done()
                    and turn.disjoint_from_uncommitted()
                )
                if early:
                    ready.after = previous
                else:
                    await previous.outcome()
            if turn.concurrent:
                ready.turn = turn
            return await self.db.commit_batch(ready, checkpoint)
        finally:
            turn.locked.set()
            if not turn.committed.done():  # it never reached the database's commit
                turn.committed.set_result(False)
            turn.previous = None  # the chain of uncommitted batches ends here

    async def submit(
        self, batch: list[MirrorEntry], checkpoint: SyncCheckpoint | None, read: int
    ) -> None:
        """Queue ``batch`` with ``checkpoint`` to commit after the batches pending (waiting
        for the oldest when :data:`_IN_FLIGHT` or :data:`_PG_IN_FLIGHT` are; ``read``: entries
        read up to it, for the progress callback)."""
        while len(self._pending) >= self._in_flight:
            await self._finish_oldest()
        previous = self._last if self._pending else None
        turn = self._last = _Turn(self._space, previous)
        task = asyncio.ensure_future(self._commit_after(previous, turn, batch, checkpoint))
        turn.task = task
        self._pending.append((task, read))

    async def drain(self) -> int:
        """Wait for the pending commits; the rows upserted by all of them."""
        while self._pending:
            await self._finish_oldest()
        return self.upserted

    async def abandon(self) -> None:
        """The pass failed: let the pending commits end (each is a whole batch with its own
        checkpoint; one after a failed one does not commit), without raising their outcome
        over the pass's error."""
        tasks = [task for task, _read in self._pending]
        self._pending.clear()
        if not tasks:
            return
        try:
            await asyncio.wait(tasks)  # never raises the commits' errors
        except BaseException:  # this task is cancelled: stop the commits too
            for task in tasks:
                task.cancel()
            raise
        finally:
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: the pass's own error is what is raised


@attrs.define
class _Run:
    client: AworkClient
    db: MirrorDatabase
    counters: MirrorCounters | None
    batch_size: int
    page_size: int
    overlap: timedelta
    on_progress: ProgressCallback | None
    concurrency: int = C.DEFAULT_CONCURRENCY
    deleted: int = 0  # by webhooks since the last report

    def _requests(self) -> tuple[int, int]:
        if self.counters is None:
            return (0, 0)
        return (self.counters.requests, self.counters.rate_limited)

    async def one_pass(self) -> PassReport:
        started = time.monotonic()
        before = self._requests()
        state = await self.db.state()
        first = state.checkpoint is None
        total: int | None = None
        if first and self.on_progress is not None:
            page = await self.client.time_entries.list(page_size=1).raw().first_page()
            total = page.total_items
            self.on_progress(0, total)
        # Pages of raw entries: batches of each entry's JSON text as awork sent it, made into
        # rows by the commit (validated there: a wrong-typed entry raises
        # APIResponseValidationError and its batch writes nothing).
        changes = changes_since(
            self.client,
            state.checkpoint,
            overlap=self.overlap,
            page_size=self.page_size,
            concurrency=self.concurrency,
        )
        if first:
            await self.db.drop_indexes()  # built at once at the end: half the work per entry
        else:
            await self.db.create_indexes()  # after a first load that stopped before its end
        writer = _Writer(self.db, total, self.on_progress)
        batch: list[MirrorEntry] = []
        read = 0
        try:
            # checkpoint_so_far covers the pages yielded, the current one included: a batch
            # ending inside a page carries the checkpoint of the pages before it (each of
            # their entries is in this batch or committed before it), one ending with the
            # page carries the page's.
            covered: SyncCheckpoint | None = None
            async for chunk in changes.raw_pages():
                last = len(chunk.entries)
                position = 0
                while position < last:
                    taken = chunk.entries[position : position + self.batch_size - len(batch)]
                    batch.extend(taken)
                    position += len(taken)
                    read += len(taken)
                    if len(batch) >= self.batch_size:
                        mark = changes.checkpoint_so_far if position == last else covered
                        await writer.submit(batch, mark, read)
                        batch = []
                covered = changes.checkpoint_so_far
            await writer.submit(batch, changes.checkpoint, read)
            upserted = await writer.drain()
        except BaseException:
            await writer.abandon()
            raise
        if first:
            await self.db.create_indexes()
            await self.db.mark_swept(datetime.now(_UTC))  # a full load needs no sweep
        after = self._requests()
        lag = time.monotonic() - started
        deleted, self.deleted = self.deleted, 0
        return PassReport(
            kind="first-load" if first else "pass",
            read=read,
            upserted=upserted,
            deleted=deleted,
            requests=after[0] - before[0] if self.counters else changes.pages,
            rate_limited=after[1] - before[1],
            lag=lag,
            seconds=lag,
        )

    async def sweep(self) -> PassReport:
        from .sweep import find_deleted

        started = time.monotonic()
        when = datetime.now(_UTC)
        before = self._requests()
        known = await self.db.ids()
        gone = await find_deleted(self.client, known)
        deleted = await self.db.delete(gone, source="sweep")
        await self.db.mark_swept(when)
        after = self._requests()
        seconds = time.monotonic() - started
        return PassReport(
            kind="sweep",
            read=len(known),
            deleted=deleted,
            requests=after[0] - before[0],
            rate_limited=after[1] - before[1],
            lag=seconds,
            seconds=seconds,
        )

    async def apply_events(self, receiver: WebhookReceiver) -> None:
        """Apply webhook events until the receiver is closed."""
        async for event in receiver.events():
            await self.apply_event(event)

    async def apply_event(self, event: WebhookEvent) -> None:
        if not event.is_time_tracking:
            return
        if event.event_type == "timetracking_deleted":
            if event.entity_id is not None:
                self.deleted += await self.db.delete([event.entity_id], source="webhook")
            return
        entry = event.time_entry
        if entry is not None and entry.id is not None:
            await self.db.upsert([entry])


def _lost_leadership(db: MirrorDatabase, exc: Exception) -> bool:
    """Whether a pass's error means this PostgreSQL worker lost the leadership: the write fence
    refused (:class:`MirrorLeadershipLostError`) or a connection to the database broke."""
    if isinstance(exc, MirrorLeadershipLostError):
        return True
    return (
        db.dialect == "postgresql"
        and isinstance(exc, sa.exc.DBAPIError)
        and exc.connection_invalidated
    )


def _check_seconds(name: str, value: float | None, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")


async def mirror(
    client: AworkClient,
    database_url: str,
    *,
    once: bool = False,
    name: str = "default",
    poll_every: float = DEFAULT_POLL_EVERY,
    sweep_every: float | None = DEFAULT_SWEEP_EVERY,
    receiver: WebhookReceiver | None = None,
    counters: MirrorCounters | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    page_size: int = 1000,
    concurrency: int = C.DEFAULT_CONCURRENCY,
    overlap: timedelta = DEFAULT_SYNC_OVERLAP,
    standby_poll: float = DEFAULT_STANDBY_POLL,
    on_pass: PassCallback | None = None,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PassReport:
    """Keep the database at ``database_url`` in step with awork's time entries.

    Creates or migrates the schema, then runs passes (:func:`~awork_async.sync.changes_since`
    from the stored checkpoint, upserts and checkpoint per batch in one transaction) every
    ``poll_every`` seconds, and a deletion sweep every ``sweep_every`` seconds, until cancelled;
    with ``once=True`` it runs one pass (plus a sweep when one is due) and returns its report.

    Args:
        client: an open :class:`~awork_async.AworkClient` (its rate limiter paces everything;
            give every worker a :class:`~awork_async.RedisRateLimiter` on the same key).
        database_url: ``sqlite:///FILE`` (one process) or ``postgresql://…`` (several workers;
            ``pip install 'awork-async[postgres]'``).
        once: one pass, then return.
        name: the mirror's name in ``mirror_state`` and its leader lock.
        poll_every: seconds between passes.
        sweep_every: seconds between deletion sweeps (``None``: never).
        receiver: a :class:`~awork_async.webhooks.WebhookReceiver` whose events are applied as
            they come (serve ``receiver.app()`` yourself; the CLI does it with
            ``--webhooks-port``). When the mirror stops after ``receiver.close()``, the events
            the receiver accepted are applied first.
        counters: counts requests and 429s for the reports (give the client its ``hooks()``).
        batch_size: entries per transaction.
        page_size: entries per request.
        concurrency: partitions of a first load or catch-up walked at once (see
            :func:`~awork_async.sync.changes_since`).
        overlap: the sync overlap (see :func:`~awork_async.sync.changes_since`).
        standby_poll: seconds between a standby worker's attempts to become the leader.
        on_pass: called with each :class:`PassReport`.
        on_progress: ``(entries read, total or None)`` during the first load.
        sleep: the wait between passes (tests inject a fake).

    Returns the last report (the loop only returns with ``once=True``). Bad arguments raise
    ``ValueError``/``TypeError`` before any request or connection.
    """
    for label, seconds in (("poll_every", poll_every), ("standby_poll", standby_poll)):
        _check_seconds(label, seconds, allow_none=False)
    _check_seconds("sweep_every", sweep_every, allow_none=True)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise TypeError("page_size must be an int")
    if not 1 <= page_size <= 1000:
        raise ValueError(f"page_size must be between 1 and 1000, got {page_size}")
    db = MirrorDatabase(database_url, name=name)
    run = _Run(client, db, counters, batch_size, page_size, overlap, on_progress, concurrency)

    def report(item: PassReport) -> PassReport:
        if on_pass is not None:
            on_pass(item)
        return item

    async with db:
        consumer: asyncio.Task[None] | None = None
        if receiver is not None:
            consumer = asyncio.create_task(run.apply_events(receiver))
        try:
            while True:
                if consumer is not None and consumer.done():
                    consumer.result()  # a failed consumer stops the mirror
                if not await db.try_lead():
                    last = report(PassReport(kind="standby", deleted=run.deleted))
                    run.deleted = 0
                    if once:
                        return last
                    await sleep(standby_poll)
                    continue
                try:
                    last = report(await run.one_pass())
                    if sweep_every is not None:
                        swept = (await db.state()).last_sweep_on
                        due = swept is None or datetime.now(_UTC) - swept >= timedelta(
                            seconds=sweep_every
                        )
                        if due:
                            last = report(await run.sweep())
                except Exception as exc:
                    if not _lost_leadership(db, exc):
                        raise
                    # The batches committed so far stand (each with its checkpoint); another
                    # worker may lead now: stand by, and lead again when the lock is free.
                    log.warning("mirror %r: lost the leadership during a pass; standing by", name)
                    await db.resign()
                    last = report(PassReport(kind="standby", deleted=run.deleted))
                    run.deleted = 0
                    if once:
                        return last
                    await sleep(standby_poll)
                    continue
                if once:
                    return last
                await sleep(poll_every)
        finally:
            if consumer is not None:
                if receiver is not None and receiver.closed and not consumer.done():
                    await consumer  # closed by the caller: apply what it accepted, then stop
                else:
                    consumer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await consumer
