"""Schemathesis against the sandbox: the time operations of awork's spec, no 5xx ever.

Every operation of ``tests/data/openapi-time.json`` (the time-tracking subset of the official
spec, see ``tests/data/README.md``) gets a bounded number of generated requests, valid and
invalid ones, with a fixed seed (``derandomize``): the run is the same every time. Each answer
must

* never be a 5xx,
* have a documented status code, content type and headers, and
* match the documented response schema,

except where awork's real behaviour differs from its own spec. Those places are listed in
:data:`DEVIATIONS` (and in the README's sandbox section); the spec is adjusted for them below,
before Schemathesis reads it, so that every other check stays strict.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import pytest
import schemathesis
from _spec import load_spec, validate_body
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from awork_async.sandbox import Sandbox, SandboxConfig, Store

#: Where awork's real behaviour (and so the sandbox's) differs from the spec, and what the test
#: does about it. Keep in step with the README's sandbox section.
DEVIATIONS = {
    "local-date-times": (
        "`*Local` date-times (`startDateLocal`, …) carry no offset (`2024-05-14T10:00:00`, notes "
        "§7.1, the spec's own examples), which `format: date-time` forbids: checked against an "
        "offset-less ISO pattern instead."
    ),
    "null-nested-objects": (
        "nested objects (`user`, `task`, `project`, `typeOfWork`, …) are `null` when unset, but "
        "the spec does not mark them nullable: they may be null."
    ),
    "undocumented-400-404": (
        "awork answers 400 for invalid input and 404 for unknown ids on operations that document "
        "neither (and 405 for a method a path does not have): those statuses are accepted with an "
        "awork `ErrorResponse` body (404 only for an unknown entity, never for an unknown path; "
        "405 only with code `method-not-allowed` naming the method)."
    ),
}

#: The sandbox's data (the fixture serves the same: same seed). Ids and zones are offered to the
#: generator next to random ones, so that requests also get past "no such id" into the writes.
CONFIG = {"entries": 60, "seed": 21}
_DATA = Store.generate(SandboxConfig(**CONFIG))
_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
_REAL_IDS = {
    "entries": sorted(_DATA.entries)[:20],
    "types": sorted(_DATA.types_of_work),
    "users": sorted(_DATA.users),
    "projects": sorted(_DATA.projects)[:10],
    "tasks": sorted(_DATA.tasks)[:10],
    "bookings": sorted(_DATA.time_bookings)[:10],
}
#: Date-times at the edges of years 1 and 9999 (and an ordinary one), offered next to random ones.
_EDGE_DATE_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T20:00:00Z",
    "9999-12-31T23:00:00Z",
    "2025-06-30T08:00:00Z",
]
_EDGE_LOCAL_DATE_TIMES = ["0001-01-01T00:00:00", "9999-12-31T23:00:00", "2025-06-30T08:00:00"]
#: Filters offered next to random text: the edge literal, tokens, an 'in' list, a long chain.
_FILTERS = [
    "createdOn gt datetime'0001-01-01T00:00:00+14:00'",
    "startDateUtc ge today-30d and userId eq me.id",
    "duration gt 3600 or isBillable eq false",
    "userId in (" + ",".join(f"guid'{u}'" for u in sorted(_DATA.users)) + ")",
    " or ".join(f"duration eq {i}" for i in range(40)),
]
_KIND_OF_NAME = {
    "typeOfWorkId": "types",
    "newTypeOfWorkId": "types",
    "userId": "users",
    "newUserId": "users",
    "projectId": "projects",
    "newProjectId": "projects",
    "taskId": "tasks",
    "newTaskId": "tasks",
    "taskIds": "tasks",
    "timeEntryId": "entries",
    "timeEntryIds": "entries",
    "ids": "entries",
    "timeBookingId": "bookings",
}

#: Examples per operation (56 operations in the subset: about 30 s of CPU on this 2-core machine).
MAX_EXAMPLES = 10

_LOCAL_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?$"
_ERROR_STATUSES = frozenset({400, 404, 405})
#: The sandbox's description of a 404 for a path it does not serve (a missing route, not an id).
NO_ROUTE = "There is no matching path for this URL."
_FIXED_NOW = datetime(2025, 7, 1, 12, 0, tzinfo=timezone.utc)


def _realistic(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` also offering the sandbox's ids (or a few zones) for a property ``name``."""
    if name == "timezone" and schema.get("type") == "string":
        return {"anyOf": [{"type": "string", "enum": _ZONES}, schema]}
    if name == "filterby":
        return {"anyOf": [{"type": "string", "enum": _FILTERS}, schema]}
    if schema.get("format") == "date-time":
        return {"anyOf": [{"type": "string", "enum": _EDGE_DATE_TIMES}, schema]}
    kind = _KIND_OF_NAME.get(name)
    if kind is None:
        return schema
    real = {"type": "string", "enum": _REAL_IDS[kind]}
    if schema.get("format") == "uuid":
        return {"anyOf": [real, schema]}
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and items.get("format") == "uuid":
        return {**schema, "items": {"anyOf": [real, items]}}
    return schema


def _adjusted(node: Any) -> Any:
    """The spec with the :data:`DEVIATIONS` applied and the sandbox's ids offered (a new
    document; the input is not changed)."""
    if isinstance(node, list):
        return [_adjusted(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _adjusted(value) for key, value in node.items()}
    properties = out.get("properties")
    if isinstance(properties, dict):
        for name, prop in list(properties.items()):
            if not isinstance(prop, dict):
                continue
            if name.endswith("Local") and prop.get("format") == "date-time":
                local = {k: v for k, v in prop.items() if k != "format"}
                edges = {"type": "string", "enum": _EDGE_LOCAL_DATE_TIMES}
                properties[name] = {"anyOf": [edges, {**local, "pattern": _LOCAL_PATTERN}]}
            elif "$ref" in prop:
                properties[name] = {"allOf": [{"$ref": prop["$ref"]}], "nullable": True}
            else:
                properties[name] = _realistic(name, prop)
    if "in" in out and isinstance(out.get("schema"), dict):  # a parameter
        out["schema"] = _realistic(str(out.get("name")), out["schema"])
    return out


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = _adjusted(copy.deepcopy(load_spec()))
    spec["servers"] = [{"url": "/api/v1"}]
    return spec


schema = schemathesis.openapi.from_dict(_spec())


def status_documented_or_awork_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """``status_code_conformance``, accepting awork's undocumented 400/404/405 error answers
    (deviation ``undocumented-400-404``); every error answer must be an ``ErrorResponse``."""
    status = response.status_code
    if status >= 400:
        body = response.json()
        validate_body("ErrorResponse", body)
        if status == 404:
            assert body["code"] == "not-found", body
            assert body["description"] != NO_ROUTE, f"no route for {case.method} {case.path}"
        if status == 405:
            assert body["code"] == "method-not-allowed", body
            assert body["description"] == f"The method {case.method} is not allowed here.", body
        if status in _ERROR_STATUSES:
            return None
    return status_code_conformance(ctx, response, case)  # type: ignore[no-any-return]


CHECKS = [
    not_a_server_error,
    status_documented_or_awork_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


pytestmark = pytest.mark.cli_sandbox(config=SandboxConfig(**CONFIG, now=lambda: _FIXED_NOW))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_sandbox_conforms_to_the_spec(case: Any, cli_sandbox: Sandbox) -> None:
    case.call_and_validate(
        base_url=cli_sandbox.origin + "/api/v1",
        headers=cli_sandbox.auth_headers,
        checks=CHECKS,
        timeout=30,
    )


def test_the_readme_lists_the_same_deviations() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for phrase in (
        "`*Local` date-times carry no offset",
        "are `null` when unset, though the\n  spec does not mark them nullable",
        "also\n  on operations that document neither",
    ):
        assert phrase in readme, phrase
    assert len(DEVIATIONS) == 3
