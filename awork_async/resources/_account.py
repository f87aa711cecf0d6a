"""The caller's own user and workspace (``GET /me``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import UserAndWorkspace
from ._base import APIResource

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["AccountResource"]


class AccountResource(APIResource):
    """``GET /me`` (behind :meth:`AworkClient.me <awork_async.AworkClient.me>`)."""

    async def me(self, *, timeout: float | Timeouts | None = None) -> UserAndWorkspace:
        """The caller's user and workspace; with an API key, the API user."""
        return await self._call("GET", "/me", UserAndWorkspace, timeout=timeout)
