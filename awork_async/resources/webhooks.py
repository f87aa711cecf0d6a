"""``client.webhooks``: webhook configurations, their delivery logs and the event types
(API notes §8.3; every call needs admin or ``workspace-manage-config``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._paginator import AsyncPaginator
from .._validation import IdLike, ensure_instance
from ..models import WebhookConfig, WebhookConfigForm, WebhookLog
from ._base import APIResource, ListOptions, _invalid, path_id

if TYPE_CHECKING:
    from .._timeouts import Timeouts

__all__ = ["WebhooksResource"]


class WebhooksResource(APIResource):
    """List, read, create, change and delete webhooks; read their delivery logs.

    Receive what they send with :class:`awork_async.webhooks.WebhookReceiver`.
    """

    def list(self, **options: Unpack[ListOptions]) -> AsyncPaginator[WebhookConfig]:
        """Every webhook of the workspace (``GET /webhooks``, paginated)."""
        return self._paginate("/webhooks", WebhookConfig, **options)

    async def get(
        self, webhook_id: IdLike, *, timeout: float | Timeouts | None = None
    ) -> WebhookConfig:
        """One webhook by id (``is_active`` is ``False`` once awork has paused it)."""
        return await self._call(
            "GET", f"/webhooks/{path_id(webhook_id, 'webhook_id')}", WebhookConfig, timeout=timeout
        )

    async def create(
        self, form: WebhookConfigForm, *, timeout: float | Timeouts | None = None
    ) -> WebhookConfig:
        """Register a webhook (``POST /webhooks``)."""
        ensure_instance(form, WebhookConfigForm, "form")
        return await self._call("POST", "/webhooks", WebhookConfig, body=form, timeout=timeout)

    async def update(
        self,
        webhook_id: IdLike,
        form: WebhookConfigForm,
        *,
        timeout: float | Timeouts | None = None,
    ) -> WebhookConfig:
        """Replace a webhook's configuration (``PUT``); ``is_active=True`` re-enables a webhook
        awork paused after repeated failures."""
        path = f"/webhooks/{path_id(webhook_id, 'webhook_id')}"
        ensure_instance(form, WebhookConfigForm, "form")
        return await self._call("PUT", path, WebhookConfig, body=form, timeout=timeout)

    async def delete(self, webhook_id: IdLike, *, timeout: float | Timeouts | None = None) -> None:
        """Delete a webhook (``DELETE /webhooks/{id}``, 204)."""
        await self._call_none(
            "DELETE", f"/webhooks/{path_id(webhook_id, 'webhook_id')}", timeout=timeout
        )

    def logs(
        self, webhook_id: IdLike, **options: Unpack[ListOptions]
    ) -> AsyncPaginator[WebhookLog]:
        """The webhook's delivery attempts (``GET /webhooks/{id}/logs``, paginated): watch
        ``is_successful``/``response_code`` to see failures before awork pauses the webhook."""
        path = f"/webhooks/{path_id(webhook_id, 'webhook_id')}/logs"
        return self._paginate(path, WebhookLog, **options)

    async def event_types(
        self, *, slack: bool = False, timeout: float | Timeouts | None = None
    ) -> builtins.list[str]:
        """The event names a webhook may subscribe to (``GET /webhooks/eventtypes``; with
        ``slack=True`` the list for Slack receivers, ``/webhooks/eventtypes/slack``)."""
        if not isinstance(slack, bool):
            raise TypeError("slack must be a bool")
        path = "/webhooks/eventtypes/slack" if slack else "/webhooks/eventtypes"
        answer = await self._send("GET", path, timeout=timeout, expect="array")
        data, raw = answer.parsed, answer.raw
        if data is None:
            return []
        assert isinstance(data, builtins.list)  # checked where it was deciphered
        if not all(isinstance(item, str) for item in data):
            raise _invalid(raw, "expected a JSON array of strings")
        return [str(item) for item in data]
