"""``client.time_entries``: time entries (tracked time), API notes §6.2-§6.4."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypedDict

import attrs
from typing_extensions import Unpack

from .. import _constants as C
from .._paginator import AsyncPaginator
from .._validation import IdLike, ensure_instance, ensure_uuid
from ..models import (
    IdsForm,
    MultiStatusResult,
    SetTypeOfWorkForm,
    SimplifiedTimeEntry,
    TimeEntry,
    TimeEntryBatchForm,
    TimeEntryCreate,
    TimeEntryUpdate,
)
from ._base import APIResource, ListOptions, path_id

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["BatchOperation", "TimeEntriesResource"]

#: The operations of ``POST /timeentries/batch/{operation}`` (spelled as the API expects).
BatchOperation = Literal[
    "delete", "setTypeOfWork", "setIsBillable", "setIsBilled", "setProject", "setTask", "setUser"
]


class BatchOptions(TypedDict, total=False):
    """Options the batch helpers pass on to :meth:`TimeEntriesResource.batch`."""

    require_all_time_entries: bool | None
    chunk_size: int
    timeout: float | Timeouts | None


class TimeEntriesResource(APIResource):
    """Time entries: lists, CRUD, the last entry, breaks and bulk changes."""

    # -- lists -----------------------------------------------------------------------------

    def list(
        self,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[TimeEntry]:
        """All time entries the caller may see (``GET /timeentries``), as a paginator.

        ``async for entry in awork.time_entries.list(filterby="isBillable eq true"): ...``

        Args:
            filterby: a filter string or :mod:`awork_async.filters` expression.
            orderby: e.g. ``"startDateUtc desc"`` (several keys: ``"createdOn,id"``).
            page_size: entries per request, 1..1000.
            start_page: first page to fetch (resume a walk).
            max_items: stop after this many entries.
            prefetch: pages fetched concurrently once the total is known (0 = sequential).
            timeout: per-request timeouts (a float is the deadline of each page call).
        """
        return self._paginate(
            "/timeentries",
            TimeEntry,
            **options,
        )

    def list_for_project(
        self,
        project_id: IdLike,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[TimeEntry]:
        """The time entries of one project (``GET /projects/{projectId}/timeentries``)."""
        return self._paginate(
            f"/projects/{path_id(project_id, 'project_id')}/timeentries",
            TimeEntry,
            **options,
        )

    def list_for_task(
        self,
        task_id: IdLike,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[TimeEntry]:
        """The time entries of one task (``GET /tasks/{taskId}/timeentries``)."""
        return self._paginate(
            f"/tasks/{path_id(task_id, 'task_id')}/timeentries",
            TimeEntry,
            **options,
        )

    def list_simplified(
        self,
        *,
        grouping: str | None = None,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[SimplifiedTimeEntry]:
        """Entries in the lighter model (``GET /timeentries/simplified``).

        ``grouping`` is passed through as given: the API documents no allowed values (notes Q7).
        """
        return self._paginate(
            "/timeentries/simplified",
            SimplifiedTimeEntry,
            params={"grouping": grouping},
            **options,
        )

    # -- single entries --------------------------------------------------------------------

    async def get(
        self, time_entry_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> TimeEntry:
        """One entry by id (``GET /timeentries/{id}``); :class:`NotFoundError` if unknown."""
        return await self._call(
            "GET",
            f"/timeentries/{path_id(time_entry_id, 'time_entry_id')}",
            TimeEntry,
            timeout=timeout,
        )

    async def create(
        self, form: TimeEntryCreate, *, timeout: float | Timeouts | None = None
    ) -> TimeEntry:
        """Create a manual entry (``POST /timeentries``; answers 200 with the entry).

        Not retried after it may have reached the server (awork has no idempotency keys): a
        lost answer raises :class:`OutcomeUnknownError`.
        """
        ensure_instance(form, TimeEntryCreate, "form")
        return await self._call("POST", "/timeentries", TimeEntry, body=form, timeout=timeout)

    async def update(
        self,
        time_entry_id: IdLike,
        form: TimeEntryUpdate,
        *,
        timeout: float | Timeouts | None = None,
    ) -> TimeEntry:
        """Replace an entry's fields (``PUT /timeentries/{id}``). Breaks are kept."""
        ensure_instance(form, TimeEntryUpdate, "form")
        return await self._call(
            "PUT",
            f"/timeentries/{path_id(time_entry_id, 'time_entry_id')}",
            TimeEntry,
            body=form,
            timeout=timeout,
        )

    async def delete(
        self, time_entry_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> None:
        """Delete an entry for good (``DELETE /timeentries/{id}``, 204)."""
        await self._call_none(
            "DELETE", f"/timeentries/{path_id(time_entry_id, 'time_entry_id')}", timeout=timeout
        )

    async def remove_breaks(
        self, time_entry_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> TimeEntry:
        """Remove every break of an entry; on a paused timer this resumes it."""
        return await self._call(
            "POST",
            f"/timeentries/{path_id(time_entry_id, 'time_entry_id')}/removebreaks",
            TimeEntry,
            timeout=timeout,
        )

    async def last(
        self, user_id: IdLike | None = None, *, timeout: float | Timeouts | None = None
    ) -> TimeEntry | None:
        """The most recently started entry of the caller, or of ``user_id``; ``None`` if none.

        Uses ``GET /me/timeentries/last`` or ``GET /users/{userId}/timeentries/last``. The
        answer has been a single object and a list in different API versions: both work.
        """
        path = (
            "/me/timeentries/last"
            if user_id is None
            else f"/users/{path_id(user_id, 'user_id')}/timeentries/last"
        )
        return await self._call_optional("GET", path, TimeEntry, timeout=timeout)

    # -- batch operations ------------------------------------------------------------------

    async def batch(
        self,
        operation: BatchOperation,
        time_entry_ids: Iterable[IdLike],
        *,
        new_type_of_work_id: IdLike | None = None,
        is_billable: bool | None = None,
        is_billed: bool | None = None,
        new_user_id: IdLike | None = None,
        new_project_id: IdLike | None = None,
        new_task_id: IdLike | None = None,
        require_all_time_entries: bool | None = None,
        chunk_size: int = C.DEFAULT_BATCH_CHUNK_SIZE,
        timeout: float | Timeouts | None = None,
    ) -> MultiStatusResult:
        """Run ``POST /timeentries/batch/{operation}`` and return the 207 result.

        Long id lists are sent in chunks of ``chunk_size`` and the per-id results merged.
        Ids the caller may not change land in ``unauthorized_ids``; the call does not raise
        for them (207 is a success). With ``require_all_time_entries`` and more than one
        chunk, all-or-nothing holds per chunk only.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
        # One form validates every id and the operation's required field before anything is sent.
        whole = TimeEntryBatchForm(
            time_entry_ids=_as_id_list(time_entry_ids),
            new_type_of_work_id=new_type_of_work_id,
            is_billable=is_billable,
            is_billed=is_billed,
            new_user_id=new_user_id,
            new_project_id=new_project_id,
            new_task_id=new_task_id,
            require_all_time_entries=require_all_time_entries,
        )
        whole.check_operation(operation)
        ids = whole.time_entry_ids
        result: MultiStatusResult | None = None
        for start in range(0, len(ids), chunk_size):
            form = attrs.evolve(whole, time_entry_ids=ids[start : start + chunk_size])
            part = await self._call(
                "POST",
                f"/timeentries/batch/{operation}",
                MultiStatusResult,
                body=form,
                timeout=timeout,
            )
            result = part if result is None else result.merge(part)
        assert result is not None
        return result

    async def delete_many(
        self, time_entry_ids: Iterable[IdLike], **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Delete entries in bulk (batch ``delete``). Billed entries need an admin."""
        return await self.batch("delete", time_entry_ids, **options)

    async def set_billable(
        self, time_entry_ids: Iterable[IdLike], billable: bool, **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Set ``isBillable`` on entries (batch ``setIsBillable``)."""
        return await self.batch(
            "setIsBillable",
            time_entry_ids,
            is_billable=ensure_instance(billable, bool, "billable"),
            **options,
        )

    async def set_billed(
        self, time_entry_ids: Iterable[IdLike], billed: bool, **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Set ``isBilled`` on entries (batch ``setIsBilled``)."""
        return await self.batch(
            "setIsBilled",
            time_entry_ids,
            is_billed=ensure_instance(billed, bool, "billed"),
            **options,
        )

    async def set_type_of_work(
        self,
        time_entry_ids: Iterable[IdLike],
        type_of_work_id: IdLike,
        **options: Unpack[BatchOptions],
    ) -> MultiStatusResult:
        """Change the type of work of entries (batch ``setTypeOfWork``)."""
        return await self.batch(
            "setTypeOfWork",
            time_entry_ids,
            new_type_of_work_id=ensure_uuid(type_of_work_id, "type_of_work_id"),
            **options,
        )

    async def set_project(
        self, time_entry_ids: Iterable[IdLike], project_id: IdLike, **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Move entries to a project (batch ``setProject``; clears their project and task)."""
        return await self.batch(
            "setProject",
            time_entry_ids,
            new_project_id=ensure_uuid(project_id, "project_id"),
            **options,
        )

    async def set_task(
        self, time_entry_ids: Iterable[IdLike], task_id: IdLike, **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Move entries to a task (batch ``setTask``; a project task also sets the project)."""
        return await self.batch(
            "setTask", time_entry_ids, new_task_id=ensure_uuid(task_id, "task_id"), **options
        )

    async def set_user(
        self, time_entry_ids: Iterable[IdLike], user_id: IdLike, **options: Unpack[BatchOptions]
    ) -> MultiStatusResult:
        """Reassign entries to another user (batch ``setUser``)."""
        return await self.batch(
            "setUser", time_entry_ids, new_user_id=ensure_uuid(user_id, "user_id"), **options
        )

    # -- legacy bulk endpoints (deprecated by awork) ---------------------------------------

    async def legacy_bulk(
        self,
        action: Literal[
            "delete", "setbillable", "setunbillable", "setbilled", "setunbilled", "settypeofwork"
        ],
        time_entry_ids: Iterable[IdLike],
        *,
        type_of_work_id: IdLike | None = None,
        timeout: float | Timeouts | None = None,
    ) -> None:
        """Deprecated: the old all-or-nothing bulk routes ``POST /timeentries/{action}``.

        awork marks them deprecated (API notes §6.4.2, D9); use :meth:`batch` and its helpers,
        which report per-id results. Answers 204; one failing id fails the whole call.
        """
        warnings.warn(
            f"POST /timeentries/{action} is deprecated by awork; use time_entries.batch()",
            DeprecationWarning,
            stacklevel=2,
        )
        ids = _as_id_list(time_entry_ids)
        form: IdsForm | SetTypeOfWorkForm
        if action == "settypeofwork":
            if type_of_work_id is None:
                raise ValueError("settypeofwork needs type_of_work_id")
            form = SetTypeOfWorkForm(ids=ids, type_of_work_id=type_of_work_id)
        elif action in {"delete", "setbillable", "setunbillable", "setbilled", "setunbilled"}:
            form = IdsForm(ids=ids)
        else:
            raise ValueError(f"unknown legacy bulk action {action!r}")
        await self._call_none("POST", f"/timeentries/{action}", body=form, timeout=timeout)


def _as_id_list(ids: Iterable[IdLike]) -> list[IdLike]:
    if isinstance(ids, (str, uuid.UUID)):
        raise TypeError("time_entry_ids must be an iterable of ids, not a single id")
    return list(ids)
