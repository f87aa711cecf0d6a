"""The small interface resources depend on: something that sends one call and returns its
:class:`~awork_async._response.APIResponse` record (the client's
:class:`~awork_async._transport.Transport`).

Resources know this protocol only, never the client, so ``resources`` and ``_client`` import
each other in one direction (the client builds resources on its transport).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._decipher import Expect
    from ._response import APIResponse
    from ._sansio import QueryValue
    from ._timeouts import Timeouts

__all__ = ["Requester"]


class Requester(Protocol):
    """Sends one logical call (retries, limiter, auth, checks included); see
    :meth:`Transport.request <awork_async._transport.Transport.request>`."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object = None,
        timeout: float | Timeouts | None = None,
        idempotent: bool | None = None,
        expect: Expect = None,
        secrets: Sequence[str] = (),
    ) -> APIResponse[object]: ...
