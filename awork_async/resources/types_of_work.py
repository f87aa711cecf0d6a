"""``client.types_of_work``: the types of work entries are booked on (API notes §6.7)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import Unpack

from .._paginator import AsyncPaginator
from .._validation import IdLike
from ..models import (
    ArchivedForm,
    DeleteTypeOfWorkForm,
    TasksChangeTypeOfWorkForm,
    TypeOfWork,
    TypeOfWorkForm,
)
from ._base import APIResource, ListOptions, path_id

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["TypesOfWorkResource"]


class TypesOfWorkResource(APIResource):
    """List, read, create, change, archive and delete types of work."""

    def list(
        self,
        *,
        show_archived: bool = False,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[TypeOfWork]:
        """All types of work (archived ones only with ``show_archived=True``)."""
        if not isinstance(show_archived, bool):
            raise TypeError("show_archived must be a bool")
        return self._paginate(
            "/typeofwork",
            TypeOfWork,
            params={"showArchived": show_archived or None},
            **options,
        )

    async def list_for_project(
        self, project_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> builtins.list[TypeOfWork]:
        """The types of work usable in one project (``GET /projects/{id}/typeofwork``)."""
        return await self._call_list(
            "GET",
            f"/projects/{path_id(project_id, 'project_id')}/typeofwork",
            TypeOfWork,
            timeout=timeout,
        )

    async def get(
        self, type_of_work_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> TypeOfWork:
        """One type of work by id."""
        return await self._call(
            "GET",
            f"/typeofwork/{path_id(type_of_work_id, 'type_of_work_id')}",
            TypeOfWork,
            timeout=timeout,
        )

    async def icons(self, *, timeout: float | Timeouts | None = None) -> builtins.list[str]:
        """The icon names a type of work may use."""
        answer = await self._send("GET", "/typeofwork/icons", timeout=timeout, expect="array")
        data = cast("list[Any] | None", answer.parsed)  # checked where it was deciphered
        return [str(i) for i in data or ()]

    async def create(
        self, form: TypeOfWorkForm, *, timeout: float | Timeouts | None = None
    ) -> TypeOfWork:
        """Create a type of work (needs admin or ``task-manage-config`` write)."""
        return await self._call("POST", "/typeofwork", TypeOfWork, body=form, timeout=timeout)

    async def update(
        self,
        type_of_work_id: IdLike,
        form: TypeOfWorkForm,
        *,
        timeout: float | Timeouts | None = None,
    ) -> TypeOfWork:
        """Change a type of work."""
        return await self._call(
            "PUT",
            f"/typeofwork/{path_id(type_of_work_id, 'type_of_work_id')}",
            TypeOfWork,
            body=form,
            timeout=timeout,
        )

    async def set_archived(
        self,
        type_of_work_id: IdLike,
        archived: bool = True,
        *,
        timeout: float | Timeouts | None = None,
    ) -> TypeOfWork:
        """Archive (or un-archive) a type of work: the soft delete."""
        return await self._call(
            "POST",
            f"/typeofwork/{path_id(type_of_work_id, 'type_of_work_id')}/setarchived",
            TypeOfWork,
            body=ArchivedForm(is_archived=archived),
            timeout=timeout,
        )

    async def delete(
        self,
        type_of_work_id: IdLike,
        replacement_id: IdLike | None = None,
        *,
        timeout: float | Timeouts | None = None,
    ) -> None:
        """Delete a type of work; existing usages move to ``replacement_id``."""
        await self._call_none(
            "POST",
            f"/typeofwork/{path_id(type_of_work_id, 'type_of_work_id')}/delete",
            body=DeleteTypeOfWorkForm(type_of_work_id=replacement_id),
            timeout=timeout,
        )

    async def change_for_tasks(
        self,
        task_ids: Iterable[IdLike],
        type_of_work_id: IdLike,
        *,
        change_time_entries: bool = True,
        timeout: float | Timeouts | None = None,
    ) -> None:
        """Give tasks a new type of work (``POST /tasks/changetypeofwork``).

        With ``change_time_entries=True`` (the default here) the tasks' time entries move to the
        same type of work.
        """
        if isinstance(task_ids, (str, uuid.UUID)):
            raise TypeError("task_ids must be an iterable of ids, not a single id")
        form = TasksChangeTypeOfWorkForm(
            task_ids=tuple(task_ids),
            type_of_work_id=type_of_work_id,
            change_time_entries=change_time_entries,
        )
        await self._call_none("POST", "/tasks/changetypeofwork", body=form, timeout=timeout)
