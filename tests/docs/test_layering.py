"""Layering: resources depend on a small Requester, not on the client; no import cycles."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Mapping, Sequence

from _helpers import ENTRY, ENTRY_ID

from awork_async import TimeEntry
from awork_async._response import APIResponse, RawResponse
from awork_async.resources import TimeEntriesResource, TimerResource, TimerState

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "awork_async"


class FakeRequester:
    """Answers every call with ``data``; records (method, path)."""

    def __init__(self, data: object) -> None:
        self.data = data
        self.calls: list[tuple[str, str]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        timeout: object = None,
        idempotent: bool | None = None,
        expect: object = None,
        secrets: Sequence[str] = (),
    ) -> APIResponse[object]:
        self.calls.append((method, path))
        raw = RawResponse(method=method, url=path, status=200, headers={})
        return APIResponse(self.data, raw)


async def test_resources_need_only_a_requester() -> None:
    requester = FakeRequester(ENTRY)
    entry = await TimeEntriesResource(requester).get(ENTRY_ID)
    assert isinstance(entry, TimeEntry)
    status = await TimerResource(requester).status()  # uses the entries through the requester
    assert status.state is TimerState.STOPPED
    assert requester.calls[0] == ("GET", f"/timeentries/{ENTRY_ID}")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, *, nested: bool) -> set[str]:
    """Modules of the package ``path`` imports (top level; with ``nested``, also in functions;
    never those under ``if TYPE_CHECKING``)."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text())
    nodes = list(tree.body)
    if nested:
        nodes = [
            sub for node in tree.body if not isinstance(node, ast.If) for sub in ast.walk(node)
        ]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("awork_async")}


def test_resources_never_import_the_client() -> None:
    for path in (PACKAGE / "resources").glob("*.py"):
        assert "awork_async._client" not in _imports(path, nested=True), path.name


def test_no_import_cycles_in_the_package() -> None:
    """The library, the command line and the sandbox: no module reaches itself again, not even
    through an import inside a function (``from . import x`` counts as importing the package)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        name: {m for m in _imports(path, nested=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    graph["awork_async"] = set()  # the package's lazy attribute loader, not an import

    def reaches(start: str, goal: str) -> bool:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(graph.get(current, ()))
        return False

    cycles = sorted(name for name in graph if reaches(name, name))
    assert cycles == []
