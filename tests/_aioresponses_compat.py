"""Let aioresponses 0.7.9 build responses under aiohttp >= 3.14.

aiohttp 3.14 (a security release) added a required ``stream_writer`` argument to
``ClientResponse.__init__``; aioresponses does not pass it yet (pnuckowski/aioresponses#289).
Until a fixed release exists, the tests give it a stand-in writer that reports zero bytes sent.
"""

from __future__ import annotations

import inspect
from typing import Any

import aioresponses.core as _core
from aiohttp import ClientResponse


class _SentWriter:
    output_size = 0


class _CompatClientResponse(ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentWriter())
        super().__init__(*args, **kwargs)


def install() -> None:
    """Patch aioresponses when (and only when) aiohttp needs it."""
    if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
        _core.ClientResponse = _CompatClientResponse  # type: ignore[misc]
