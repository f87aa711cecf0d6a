"""How fast pages of time entries decode into models, against the usual alternatives.

Run: ``python benchmarks/bench_decode.py`` (about a minute; ``--quick`` for a short run).

The pages are realistic: the sandbox's generator (25 users, 40 projects, 400 tasks, 10 types of
work) makes the entries, so nested users, projects, tasks and types of work repeat within a page
and across pages, as in a real export. Every figure is bytes -> objects (the JSON is parsed in each
measurement), in entries per second, the median of several runs, all measured in the same run:

* ``awork_async (cold)``: ``structure_list(orjson.loads(page), TimeEntry)``; every decode has its
  own caches (nothing is shared between pages or clients), so every page is decoded cold;
* ``awork_async (steady)``: the same over a sequence of distinct pages (equal to cold since the
  caches are per decode; kept to compare with older runs);
* ``awork_async, entry bytes``: the consistent walks' path: the page split into its entries'
  JSON (``msgspec.Raw``, as the client's response decoder does), then
  ``structure_json_list(entries, TimeEntry)``, which builds no dict;
* ``cattrs, straightforward``: a plain ``cattrs.Converter`` with camelCase renames and the usual
  scalar hooks (stock Optional dispatch), per entry: the baseline of the issue;
* ``cattrs, reference``: the package's own cattrs converter (``_converter.converter``), which the
  fast path hands invalid data to;
* ``pydantic v2``: ``TypeAdapter(list[Model]).validate_json(page)`` with models mirroring ours;
* ``msgspec``: ``msgspec.json.decode(page, type=list[Struct])`` with structs mirroring ours;
* ``orjson only = raw mode``: ``orjson.loads`` alone, what ``AsyncPaginator.raw()`` yields.

Targets: ``awork_async (cold)`` at 1000 entries per page >= 3x ``cattrs, straightforward`` and
>= ``pydantic v2``. pydantic and msgspec columns are skipped with a message when not installed
(``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine_info, print_table
from _reference import realistic_entries, straightforward_converter

from awork_async._converter import (
    clear_caches,
    converter,
    structure_json_list,
    structure_list,
)
from awork_async._naming import to_camel
from awork_async.models import TimeEntry

PAGE_SIZES = (10, 100, 1000)

#: A page decoder under test: JSON bytes of one page -> a list of objects.
Decoder = Callable[[bytes], list[Any]]


# --- the data ---------------------------------------------------------------------------------


def make_pages(page_size: int, count: int, *, seed: int = 7) -> list[bytes]:
    """``count`` distinct pages of ``page_size`` realistic entries, as JSON bytes.

    The workspace has 25 users, 40 projects, 400 tasks and 10 types of work (the sandbox's
    defaults), and the entries are in random order, as a page of an export would be.
    """
    entries = realistic_entries(page_size * count, seed=seed)
    random.Random(seed).shuffle(entries)
    return [orjson.dumps(entries[i * page_size : (i + 1) * page_size]) for i in range(count)]


# --- the baseline: a straightforward cattrs converter -------------------------------------------


# --- pydantic and msgspec mirrors of our models -------------------------------------------------


def _mirror(
    cls: type[Any],
    make: Callable[[str, dict[str, Any]], type[Any]],
    memo: dict[type[Any], type[Any]],
) -> type[Any]:
    """Build a pydantic/msgspec class with the fields and types of the attrs class ``cls``."""
    if cls in memo:
        return memo[cls]

    def convert(tp: Any) -> Any:
        if isinstance(tp, type) and attrs.has(tp):
            return _mirror(tp, make, memo)
        origin = typing.get_origin(tp)
        if origin is tuple:
            item, _ = typing.get_args(tp)
            return tuple[convert(item), ...]  # type: ignore[misc]
        if origin is not None:  # X | None
            (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
            return convert(inner) | None
        return tp

    hints = typing.get_type_hints(cls)
    fields = {f.name: convert(hints[f.name]) for f in attrs.fields(cls)}
    memo[cls] = make(cls.__name__, fields)
    return memo[cls]


def pydantic_decoder() -> Decoder | str:
    """``TypeAdapter(list[Model]).validate_json`` with models mirroring ours, or why not."""
    try:
        import pydantic
    except ImportError:
        return "pydantic is not installed (pip install pydantic)"
    config = pydantic.ConfigDict(alias_generator=to_camel, frozen=True)

    def make(name: str, fields: dict[str, Any]) -> type[Any]:
        spec: dict[str, Any] = {key: (tp, None) for key, tp in fields.items()}
        model: type[Any] = pydantic.create_model(name, __config__=config, **spec)
        return model

    model = _mirror(TimeEntry, make, {})
    adapter: Any = pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]
    return typing.cast(Decoder, adapter.validate_json)


def msgspec_decoder() -> Decoder | str:
    """``msgspec.json.decode(page, type=list[Struct])`` with structs mirroring ours, or why not."""
    try:
        import msgspec
    except ImportError:
        return "msgspec is not installed (pip install msgspec)"

    def make(name: str, fields: dict[str, Any]) -> type[Any]:
        return msgspec.defstruct(
            name, [(key, tp, None) for key, tp in fields.items()], rename="camel", frozen=True
        )

    struct = _mirror(TimeEntry, make, {})
    decoder: Any = msgspec.json.Decoder(list[struct])  # type: ignore[valid-type]
    return typing.cast(Decoder, decoder.decode)


#: A page split into its entries' JSON, as the client's response decoder does for walks.
_SPLIT = msgspec.json.Decoder(list[msgspec.Raw])


# --- measuring --------------------------------------------------------------------------------


def one_run(
    decode: Decoder,
    pages: Sequence[bytes],
    page_size: int,
    *,
    before_page: Callable[[], None] | None = None,
) -> float:
    """Entries/s decoding every page once (the GC left as the decoder leaves it)."""
    elapsed = 0.0
    for page in pages:
        if before_page is not None:
            before_page()
        start = time.perf_counter()
        decode(page)
        elapsed += time.perf_counter() - start
    gc.collect()
    return page_size * len(pages) / elapsed


def check_equal(pages: Sequence[bytes]) -> None:
    """Our decoder and both cattrs converters give equal models (the benchmark's sanity check)."""
    plain = straightforward_converter()
    for page in pages[:3]:
        data = orjson.loads(page)
        ours = structure_list(data, TimeEntry)
        assert ours == [plain.structure(item, TimeEntry) for item in data]
        assert ours == [converter.structure(item, TimeEntry) for item in data]
        assert ours == structure_json_list([bytes(e) for e in _SPLIT.decode(page)], TimeEntry)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages and runs")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (median)")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    budget = 2000 if args.quick else 10000  # entries per run and page size

    plain = straightforward_converter()
    columns: dict[str, Decoder | str] = {
        "awork_async (cold)": lambda b: structure_list(orjson.loads(b), TimeEntry),
        "awork_async (steady)": lambda b: structure_list(orjson.loads(b), TimeEntry),
        "awork_async, entry bytes": lambda b: structure_json_list(
            [bytes(e) for e in _SPLIT.decode(b)], TimeEntry
        ),
        "cattrs, straightforward": lambda b: [
            plain.structure(x, TimeEntry) for x in orjson.loads(b)
        ],
        "cattrs, reference": lambda b: [converter.structure(x, TimeEntry) for x in orjson.loads(b)],
        "pydantic v2": pydantic_decoder(),
        "msgspec": msgspec_decoder(),
        "orjson only = raw mode": orjson.loads,
    }
    for name, decoder in columns.items():
        if isinstance(decoder, str):
            print(f"skipping {name}: {decoder}")

    figures: dict[int, dict[str, float]] = {}
    for size in PAGE_SIZES:
        pages = make_pages(size, max(budget // size, 3))
        check_equal(pages)
        active = {n: d for n, d in columns.items() if not isinstance(d, str)}
        samples: dict[str, list[float]] = {name: [] for name in active}
        for _ in range(runs):  # the decoders take turns, so a busy moment hits all of them
            for name, decoder in active.items():
                cold = clear_caches if name == "awork_async (cold)" else None
                if name == "awork_async (steady)":
                    clear_caches()
                    decoder(pages[-1])  # the caches as an export leaves them after one page
                samples[name].append(one_run(decoder, pages, size, before_page=cold))
        row = {name: statistics.median(values) for name, values in samples.items()}
        figures[size] = row
        print(f"page size {size}: done", file=sys.stderr)

    names = [n for n, d in columns.items() if not isinstance(d, str)]
    print()
    print(
        f"Decoding pages of realistic time entries, bytes -> objects, entries/s (median of {runs} runs)"
    )
    print_table(
        ["decoder", *[f"page {s}" for s in PAGE_SIZES]],
        [[n, *[f"{figures[s][n]:,.0f}" for s in PAGE_SIZES]] for n in names],
    )
    print()
    ratio_rows = []
    for base in ("cattrs, straightforward", "cattrs, reference", "pydantic v2", "msgspec"):
        if base in names:
            ratio_rows.append(
                [
                    f"awork_async (cold) / {base}",
                    *[
                        f"{figures[s]['awork_async (cold)'] / figures[s][base]:.2f}x"
                        for s in PAGE_SIZES
                    ],
                ]
            )
    print_table(["ratio", *[f"page {s}" for s in PAGE_SIZES]], ratio_rows)
    big = figures[1000]
    print()
    vs_cattrs = big["awork_async (cold)"] / big["cattrs, straightforward"]
    print(
        f"target >= 3x straightforward cattrs at 1000/page: {vs_cattrs:.2f}x -> {'met' if vs_cattrs >= 3 else 'MISSED'}"
    )
    if "pydantic v2" in big:
        vs_pydantic = big["awork_async (cold)"] / big["pydantic v2"]
        print(
            f"target >= pydantic v2 at 1000/page: {vs_pydantic:.2f}x -> {'met' if vs_pydantic >= 1 else 'MISSED'}"
        )
    print(f"machine: {machine_info()}")


if __name__ == "__main__":
    main()
