"""The README's examples: every Python block compiles, and the quick start runs (sandbox)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from awork_async.sandbox import Sandbox

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_blocks_compile(index: int) -> None:
    source = BLOCKS[index]
    # Blocks that show a fragment inside ``async with ... as awork:`` use top-level await.
    wrapped = "async def _example():\n" + "".join(f"    {line}\n" for line in source.splitlines())
    compile(wrapped, f"README block {index}", "exec")


def test_readme_names_exist() -> None:
    import awork_async

    imported = set()
    for block in BLOCKS:
        for match in re.finditer(r"from awork_async import ([\w, ]+)", block):
            imported |= {n.strip() for n in match.group(1).split(",")}
    missing = [n for n in imported if not hasattr(awork_async, n)]
    assert not missing


@pytest.fixture(scope="module")
def sandbox_in_thread() -> Iterator[Sandbox]:
    """A sandbox served from its own thread and loop (the example calls ``asyncio.run``)."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    holder: list[Sandbox] = []

    async def serve() -> None:
        async with Sandbox(entries=30, seed=5) as sb:
            holder.append(sb)
            stop.append(asyncio.Event())
            ready.set()
            await stop[0].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()


def test_quick_start_runs_against_sandbox(sandbox_in_thread: Sandbox) -> None:
    quick = next(b for b in BLOCKS if "async def main()" in b)
    source = quick.replace(
        'AworkClient(token="…")',
        f"AworkClient(token={sandbox_in_thread.token!r}, base_url={sandbox_in_thread.base_url!r})",
    )
    assert source != quick
    before = len(sandbox_in_thread.store.entries)
    exec(compile(source, "README quick start", "exec"), {"__name__": "readme"})
    # The example created an entry, changed it and deleted it again.
    assert len(sandbox_in_thread.store.entries) == before
    assert sandbox_in_thread.stats.by_status.get(200, 0) > 0
