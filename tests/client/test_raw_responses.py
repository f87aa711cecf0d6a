"""client.with_raw_response: typed wrappers (one class per resource), complete for batches."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from _helpers import ENTRY

from awork_async import (
    APIResponse,
    AworkClient,
    MultiStatusResult,
    capture_responses,
)
from awork_async._response import RawResponse
from awork_async.resources import (
    AworkClientWithRawResponse,
    TimeEntriesResource,
    TimeEntriesResourceWithRawResponse,
)
from awork_async.sandbox import Sandbox

#: The module's sandbox (the ``sb`` fixture: the package's ``awork_sandbox``).
pytestmark = pytest.mark.awork_sandbox(entries=30, seed=7)


async def test_a_chunked_batch_returns_every_chunks_response(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    ids = list(sb.store.entries)[:7]
    async with capture_responses() as outer:
        resp = await sandbox_client.with_raw_response.time_entries.set_billable(
            ids, True, chunk_size=3
        )
    assert isinstance(resp, APIResponse)
    assert isinstance(resp.parsed, MultiStatusResult) and len(resp.parsed.ok_ids) == 7
    assert len(resp.responses) == 3  # 7 ids, 3 per chunk
    assert resp.raw is resp.responses[-1]
    assert all("/timeentries/batch/" in r.url and r.status == 207 for r in resp.responses)
    assert list(resp.responses) == outer  # an enclosing capture sees them too


async def test_wrappers_keep_the_methods_and_pass_list_methods_through(
    sandbox_client: AworkClient,
) -> None:
    raw = sandbox_client.with_raw_response
    assert isinstance(raw, AworkClientWithRawResponse)
    assert isinstance(raw.time_entries, TimeEntriesResourceWithRawResponse)
    assert raw.time_entries is raw.time_entries  # built once
    assert raw.time_entries.get.__name__ == "get"
    page_walk = raw.time_entries.list(max_items=2)
    assert [e.id for e in [entry async for entry in page_walk]]
    me = await raw.me()
    assert me.status == 200 and me.responses == (me.raw,)


class _OneRecordRequester:
    """A request path that is not the client's: it answers every call with the same record."""

    def __init__(self, record: APIResponse[object]) -> None:
        self.record = record
        self.calls: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **_: object) -> APIResponse[object]:
        self.calls.append((method, path))
        return self.record


async def test_raw_wrappers_read_the_record_the_request_path_returns() -> None:
    # No client, no transport, no capture block: the wrapper gets the answers from the record.
    entry_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    raw = RawResponse(method="GET", url="u", status=200, headers={"trace-id": "t-1"})
    requester = _OneRecordRequester(APIResponse(parsed=dict(ENTRY, id=entry_id), raw=raw))
    wrapped = TimeEntriesResourceWithRawResponse(TimeEntriesResource(requester))
    resp = await wrapped.get(entry_id)
    assert requester.calls == [("GET", f"/timeentries/{entry_id}")]
    assert resp.responses == (raw,) and resp.trace_id == "t-1"
    assert str(resp.parsed.id) == entry_id


async def test_concurrent_raw_calls_keep_their_own_answers(
    sb: Sandbox, sandbox_client: AworkClient
) -> None:
    ids = list(sb.store.entries)[:6]
    answers = await asyncio.gather(
        *(sandbox_client.with_raw_response.time_entries.get(i) for i in ids)
    )
    assert [str(a.parsed.id) for a in answers] == ids
    assert [len(a.responses) for a in answers] == [1] * 6
    assert [a.raw.url.rsplit("/", 1)[-1] for a in answers] == [str(i) for i in ids]


def test_api_response_defaults_to_its_one_response() -> None:
    from awork_async import RawResponse

    raw = RawResponse(method="GET", url="u", status=200, headers={})
    assert APIResponse(parsed=1, raw=raw).responses == (raw,)


def test_with_raw_response_is_typed_for_mypy(tmp_path: pytest.TempPathFactory) -> None:
    api = pytest.importorskip("mypy.api")
    source = textwrap.dedent(
        """
        from typing_extensions import assert_type
        from awork_async import APIResponse, AworkClient, MultiStatusResult, TimeEntry
        from awork_async.models import UserAndWorkspace

        async def check(client: AworkClient) -> None:
            entry = await client.with_raw_response.time_entries.get("x")
            assert_type(entry, APIResponse[TimeEntry])
            batch = await client.with_raw_response.time_entries.set_billable(["x"], True)
            assert_type(batch, APIResponse[MultiStatusResult])
            me = await client.with_raw_response.me()
            assert_type(me, APIResponse[UserAndWorkspace])
            await client.with_raw_response.time_entries.get("x", nonsense=1)  # E: call-arg
        """
    )
    path = tmp_path / "typed.py"  # type: ignore[operator]
    path.write_text(source)
    out, _err, status = api.run(
        [str(path), "--strict", "--no-incremental", "--follow-imports=silent", "--show-error-codes"]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "nonsense" in errors[0] and "[call-arg]" in errors[0], out
    assert status == 1
