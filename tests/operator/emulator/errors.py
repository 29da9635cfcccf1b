"""Errors shaped like the API server's: field errors and ``Status`` refusals.

``FieldError`` mirrors k8s.io/apimachinery's field.Error; the emulator turns
a list of them into the same 422 ``Status`` a real API server answers
(``reason: Invalid``, ``details.causes``), so whatever reads errors -- kopf,
a test, a human -- sees what a cluster would show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kmock
from kmock._internal import rendering

# field.ErrorType -> its human-readable form, as the API server prints them.
_TYPES = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueTypeInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueForbidden": "Forbidden",
    "FieldValueDuplicate": "Duplicate value",
}
# Error types whose message shows no value (as in field.Error.ErrorBody).
_VALUELESS = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "FieldValueTooMany"}

_UNSET = object()


@dataclass(frozen=True)
class FieldError:
    """One reason an object is invalid, with the path of the offending field."""

    field: str
    reason: str  # a field.ErrorType name, e.g. "FieldValueInvalid"
    detail: str = ""
    value: Any = _UNSET

    def body(self) -> str:
        text = _TYPES[self.reason]
        if self.reason not in _VALUELESS and self.value is not _UNSET:
            text += f": {_show(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field, "FieldValueRequired", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, "FieldValueInvalid", detail, value)


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, "FieldValueTypeInvalid", detail, value)


def not_supported(field: str, value: Any, allowed: list[Any]) -> FieldError:
    listed = ", ".join(_show(v) for v in allowed)
    return FieldError(field, "FieldValueNotSupported", f"supported values: {listed}", value)


def too_long(field: str, limit: int) -> FieldError:
    return FieldError(field, "FieldValueTooLong", f"may not be more than {limit} bytes")


def too_many(field: str, limit: int) -> FieldError:
    return FieldError(field, "FieldValueTooMany", f"must have at most {limit} items")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, "FieldValueForbidden", detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, "FieldValueDuplicate", "", value)


class ApiError(kmock.KubernetesError):
    """A refusal the API server would answer with (a 4xx ``Status``)."""


def api_error(code: int, reason: str, message: str, **details: Any) -> ApiError:
    return ApiError(status=code, reason=reason, message=message, details=details or None)


def qualified(resource: kmock.resource) -> str:
    """``transfers.vellet.io``, or ``namespaces`` for the core group."""
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


def not_found(resource: kmock.resource, name: str) -> ApiError:
    kind = qualified(resource)
    return api_error(404, "NotFound", f'{kind} "{name}" not found', name=name, kind=kind)


def refusal(err: ApiError) -> rendering.Response:
    """The error as a response, not raised: a refusal is the API working, not a
    fault of the emulator, so it must not land in kmock's list of errors."""
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": err.message,
        "reason": err.reason,
        "details": err.details or {},
        "code": err.status,
    }
    return rendering.Response(status=err.status, payload=body)
