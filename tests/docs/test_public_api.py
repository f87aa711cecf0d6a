"""The public surface: every exported name resolves, is documented, and loads lazily."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import awork_async


def test_exported_names_resolve_and_are_documented() -> None:
    assert set(awork_async.__all__) == set(awork_async._LAZY) | {"__version__"}
    for name in awork_async.__all__:
        value = getattr(awork_async, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="DoesNotExist"):
        awork_async.DoesNotExist  # type: ignore[attr-defined]  # noqa: B018


def test_import_is_lazy() -> None:
    code = "import sys, awork_async; print('aiohttp' in sys.modules, 'awork_async.sandbox' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_resource_methods_are_documented() -> None:
    from awork_async import resources

    for cls_name in resources.__all__:
        cls = getattr(resources, cls_name)
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_"):
                assert inspect.getdoc(member), f"{cls_name}.{name} has no docstring"


def test_id_like_is_defined_once() -> None:
    """One ``IdLike`` for every resource (re-exported by each resource module)."""
    from awork_async import _validation
    from awork_async.resources import time_bookings, time_entries, timer, types_of_work, webhooks

    for module in (time_bookings, time_entries, timer, types_of_work, webhooks):
        assert module.IdLike is _validation.IdLike
