"""Error answers become typed exceptions, whatever the body looks like."""

from __future__ import annotations

import orjson
import pytest

from awork_async import _exceptions as E


def _body(**fields: object) -> bytes:
    base: dict[str, object] = {
        "code": "x",
        "description": "d",
        "link": "https://developers.awork.com",
    }
    base.update(fields)
    return orjson.dumps(base)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "validation-failed", E.ValidationFailedError),
        (400, "invalid-model", E.ValidationFailedError),
        (400, "invalid-filter-or-order", E.InvalidFilterError),
        (400, "invalid-operation", E.BadRequestError),
        (400, "unauthorized", E.PermissionDeniedError),
        (401, "unauthorized", E.PermissionDeniedError),
        (401, "workspaceid-missing", E.AuthenticationError),
        (401, "teamid-missing", E.AuthenticationError),
        (401, None, E.AuthenticationError),
        (403, None, E.PermissionDeniedError),
        (404, "not-found", E.NotFoundError),
        (400, "not-found", E.NotFoundError),
        (400, "concurrency-violation", E.ConflictError),
        (409, None, E.ConflictError),
        (429, None, E.RateLimitError),
        (429, "unauthorized", E.RateLimitError),
        (500, "server-error", E.ServerError),
        (503, None, E.ServerError),
        (418, None, E.APIStatusError),
    ],
)
def test_class_by_code_then_status(status: int, code: str | None, cls: type) -> None:
    body = _body(code=code) if code else b""
    err = E.make_status_error(status, {}, body, method="GET", url="https://x.test/a")
    assert type(err) is cls
    assert err.status == status
    assert err.code == code


def test_all_fields_carried() -> None:
    body = _body(
        code="validation-failed",
        description="Model validation failed.",
        details=["No project with the id '1' exists."],
        validationErrors=[{"property": "Name", "message": "'Name' should not be empty."}],
        traceId="abc123",
    )
    err = E.make_status_error(
        400, {"trace-id": "header-id"}, body, method="POST", url="https://x/t"
    )
    assert isinstance(err, E.ValidationFailedError)
    assert err.description == "Model validation failed."
    assert err.details == ("No project with the id '1' exists.",)
    assert err.validation_errors == (E.ValidationError("Name", "'Name' should not be empty."),)
    assert err.trace_id == "abc123"  # the body wins over the header
    text = str(err)
    for part in ("POST https://x/t", "400", "validation-failed", "Name", "abc123"):
        assert part in text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Trace-Id": "t1"}, "t1"), ({"traceparent": "00-abc-01"}, "00-abc-01"), ({}, None)],
)
def test_trace_id_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert E.make_status_error(500, headers, b"").trace_id == expected


@pytest.mark.parametrize(
    ("body", "snippet"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "502 Bad Gateway"),
        (b"upstream connect error", "upstream connect error"),
        (b"", "empty response body"),
        (b"[1, 2]", "unexpected error body"),
        (b"\xff\xfe garbage", "garbage"),
    ],
)
def test_non_awork_bodies_still_typed(body: bytes, snippet: str) -> None:
    err = E.make_status_error(502, {}, body)
    assert isinstance(err, E.ServerError)
    assert err.description is not None and snippet in err.description
    assert snippet in str(err)


def test_long_html_is_shortened() -> None:
    err = E.make_status_error(503, {}, b"<p>" + b"x" * 5000 + b"</p>")
    assert err.description is not None and len(err.description) <= 200


def test_rate_limit_error_carries_wait() -> None:
    err = E.make_status_error(429, {}, b"", retry_after=7.0)
    assert isinstance(err, E.RateLimitError)
    assert err.retry_after == 7.0
    assert "retry after 7s" in str(err)


def test_hierarchy() -> None:
    assert issubclass(E.OutcomeUnknownError, E.APIConnectionError)
    assert issubclass(E.APITimeoutError, E.APIConnectionError)
    assert issubclass(E.ValidationFailedError, E.BadRequestError)
    assert issubclass(E.ClientClosedError, RuntimeError)
    for cls in (E.APIStatusError, E.APIConnectionError, E.ClientClosedError):
        assert issubclass(cls, E.AworkError)
