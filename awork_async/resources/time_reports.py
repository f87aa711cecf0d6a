"""``client.time_reports``: saved time reports (API notes §6.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import TimeReport
from ._base import APIResource

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["TimeReportsResource"]


class TimeReportsResource(APIResource):
    """The reports the caller created or that were shared with them."""

    async def list(self, *, timeout: float | Timeouts | None = None) -> list[TimeReport]:
        """All time reports (``GET /timereports``; not paginated).

        A report's ``filter`` is a ready-made ``filterby`` string: pass it to
        ``time_entries.list(filterby=report.filter)`` to compute its figures.
        """
        return await self._call_list("GET", "/timereports", TimeReport, timeout=timeout)
