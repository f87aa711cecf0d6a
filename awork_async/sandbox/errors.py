"""awork ``ErrorResponse`` bodies (notes §5) and the exception the handlers raise to send them."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DOCS_LINK",
    "SandboxError",
    "error_body",
    "invalid_filter",
    "invalid_model",
    "invalid_operation",
    "not_found",
    "unauthorized",
    "validation_failed",
]

DOCS_LINK = "https://developers.awork.com/#response-types"


class SandboxError(Exception):
    """Raised by a handler: the middleware turns it into an ``ErrorResponse`` with a trace id."""

    def __init__(
        self,
        status: int,
        code: str,
        description: str,
        *,
        details: Sequence[str] | None = None,
        validation_errors: Sequence[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description
        self.details = list(details) if details else None
        self.validation_errors = list(validation_errors) if validation_errors else None
        self.headers = headers or {}


def error_body(
    code: str,
    description: str,
    trace_id: str,
    *,
    details: Sequence[str] | None = None,
    validation_errors: Sequence[tuple[str, str]] | None = None,
) -> dict[str, object]:
    """An ``ErrorResponse`` dict (every documented field, camelCase)."""
    return {
        "code": code,
        "description": description,
        "link": DOCS_LINK,
        "details": list(details) if details else None,
        "validationErrors": (
            [{"property": p, "message": m} for p, m in validation_errors]
            if validation_errors
            else None
        ),
        "traceId": trace_id,
    }


def not_found(entity: str, entity_id: str) -> SandboxError:
    """404 ``not-found`` for an unknown id."""
    return SandboxError(
        404,
        "not-found",
        f"The {entity} could not be found.",
        details=[f"No {entity} with the id '{entity_id}' exists."],
    )


def validation_failed(errors: Sequence[tuple[str, str]]) -> SandboxError:
    """400 ``validation-failed`` with per-property messages (PascalCase properties, like awork)."""
    return SandboxError(
        400, "validation-failed", "The model validation failed.", validation_errors=errors
    )


def invalid_model(description: str = "The request body is invalid or empty.") -> SandboxError:
    """400 ``invalid-model``: the body is not a JSON object."""
    return SandboxError(400, "invalid-model", description)


def invalid_filter(message: str) -> SandboxError:
    """400 ``invalid-filter-or-order``."""
    return SandboxError(
        400,
        "invalid-filter-or-order",
        "The filter or order expression is invalid.",
        details=[message],
    )


def invalid_operation(description: str) -> SandboxError:
    """400 ``invalid-operation``."""
    return SandboxError(400, "invalid-operation", description)


def unauthorized(
    description: str = "You do not have the permission for this action.",
) -> SandboxError:
    """401 ``unauthorized`` (missing permission, notes §1.4)."""
    return SandboxError(401, "unauthorized", description)
