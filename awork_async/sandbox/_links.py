"""Resolving the ids of a time-entry form to the store's objects, with awork's rules."""

from __future__ import annotations

from typing import Any

import attrs

from ._forms import FormReader
from .errors import SandboxError
from .store import Store

__all__ = ["Links", "resolve_links"]


@attrs.frozen
class Links:
    """The objects an entry points at."""

    user: dict[str, Any] | None
    type_of_work: dict[str, Any]
    project: dict[str, Any] | None
    task: dict[str, Any] | None


def resolve_links(
    store: Store,
    form: FormReader,
    *,
    user_id: str | None,
    type_id: str | None,
    project_id: str | None,
    task_id: str | None,
    allow_archived: bool = False,
) -> Links | None:
    """Look the ids up; records unknown ids on ``form``. A task's project wins (notes §6.3.3).

    Raises 400 ``entity-archived`` for an archived type of work (unless ``allow_archived``).
    """
    ws = store.ws
    user = None
    if user_id is not None:
        user = ws.nested_users.get(user_id)
        if user is None:
            form.fail("userId", f"No user with the id '{user_id}' exists.")
    tow = None
    if type_id is not None:
        tow = ws.nested_types.get(type_id)
        if tow is None:
            form.fail("typeOfWorkId", f"No type of work with the id '{type_id}' exists.")
    project = None
    if project_id is not None:
        project = ws.projects.get(project_id)
        if project is None:
            form.fail("projectId", f"No project with the id '{project_id}' exists.")
    task = None
    if task_id is not None:
        task = ws.tasks.get(task_id)
        if task is None:
            form.fail("taskId", f"No task with the id '{task_id}' exists.")
        elif task["project"] is not None:
            if project is not None and project["id"] != task["projectId"]:
                form.fail("taskId", "The task does not belong to the given project.")
            project = task["project"]
    if form.errors or tow is None:
        return None
    if tow["isArchived"] and not allow_archived:
        raise SandboxError(400, "entity-archived", f"The type of work '{tow['name']}' is archived.")
    return Links(user, tow, project, task)
