"""``client.time_bookings`` and ``client.project_time_bookings``: planned capacity (notes §6.5).

Time bookings reserve a user's time for a date range; they are unrelated to the timer. awork has
two route families with identical schemas (``/timebookings`` and ``/projecttimebookings``) and
documents no difference between them (notes Q9), so both are offered with the same methods.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._paginator import AsyncPaginator
from .._validation import IdLike, ensure_instance, ensure_uuid
from ..models import TimeBooking, TimeBookingForm, UserTimeBookings
from ._base import APIResource, ListOptions, path_id

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["ProjectTimeBookingsResource", "TimeBookingsResource"]


class _BookingsBase(APIResource):
    _prefix: str = "/timebookings"
    _users_path: str = "/users/timebookings"

    def list(
        self,
        **options: Unpack[ListOptions],
    ) -> AsyncPaginator[TimeBooking]:
        """All bookings the caller may see, as a paginator."""
        return self._paginate(
            self._prefix,
            TimeBooking,
            **options,
        )

    async def create(
        self, form: TimeBookingForm, *, timeout: float | Timeouts | None = None
    ) -> TimeBooking:
        """Create a booking (answers 200 with it)."""
        ensure_instance(form, TimeBookingForm, "form")
        return await self._call("POST", self._prefix, TimeBooking, body=form, timeout=timeout)

    async def update(
        self,
        time_booking_id: IdLike,
        form: TimeBookingForm,
        *,
        timeout: float | Timeouts | None = None,
    ) -> TimeBooking:
        """Change a booking."""
        ensure_instance(form, TimeBookingForm, "form")
        return await self._call(
            "PUT",
            f"{self._prefix}/{path_id(time_booking_id, 'time_booking_id')}",
            TimeBooking,
            body=form,
            timeout=timeout,
        )

    async def delete(
        self, time_booking_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> None:
        """Delete a booking (204)."""
        await self._call_none(
            "DELETE",
            f"{self._prefix}/{path_id(time_booking_id, 'time_booking_id')}",
            timeout=timeout,
        )

    async def for_users(
        self,
        user_ids: Iterable[IdLike],
        interval_start: dt.date,
        interval_end: dt.date,
        *,
        timeout: float | Timeouts | None = None,
    ) -> dict[uuid.UUID, builtins.list[TimeBooking]]:
        """The bookings of several users in a date interval, keyed by user id.

        Every requested user is a key (with an empty list when the answer has none for them).
        """
        ids = [ensure_uuid(u, "user_ids[]") for u in _id_list(user_ids)]
        if not ids:
            raise ValueError("user_ids must not be empty")
        start = _date(interval_start, "interval_start")
        end = _date(interval_end, "interval_end")
        if end < start:
            raise ValueError(f"interval_end {end} is before interval_start {start}")
        results = await self._call_list(
            "GET",
            self._users_path,
            UserTimeBookings,
            params={
                "userIds": ",".join(str(i) for i in ids),
                "intervalStart": start.isoformat(),
                "intervalEnd": end.isoformat(),
            },
            timeout=timeout,
        )
        by_user: dict[uuid.UUID, builtins.list[TimeBooking]] = {i: [] for i in ids}
        for result in results:
            if result.user_id is not None:
                by_user.setdefault(result.user_id, []).extend(result.time_bookings or ())
        return by_user


class TimeBookingsResource(_BookingsBase):
    """The ``/timebookings`` family and ``GET /users/timebookings``."""

    _prefix = "/timebookings"
    _users_path = "/users/timebookings"


class ProjectTimeBookingsResource(_BookingsBase):
    """The ``/projecttimebookings`` family and ``GET /users/projecttimebookings``."""

    _prefix = "/projecttimebookings"
    _users_path = "/users/projecttimebookings"


def _id_list(ids: Iterable[IdLike]) -> list[IdLike]:
    if isinstance(ids, (str, uuid.UUID)):
        raise TypeError("user_ids must be an iterable of ids, not a single id")
    return list(ids)


def _date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")
    return value
