"""The error hierarchy every Vellet component raises.

Domain code raises these; one middleware per HTTP app turns them into
RFC 9457 problem details, and the CLI turns them into a one-line message.
Nothing else needs to know about HTTP status codes::

    VelletError                     500 internal (never raised on purpose)
    ├── ConfigError                 bad environment/config (CLI exits 2)
    ├── InvalidRequest              400 invalid_request
    │   └── InvalidAmount           422 invalid_amount
    ├── Unauthorized                401 unauthorized
    ├── Forbidden                   403 forbidden
    ├── NotFound                    404 not_found (and subclasses' codes)
    ├── Conflict                    409 conflict
    ├── Unprocessable               422 (business rule refused)
    ├── TooManyRequests             429 too_many_attempts (+ Retry-After)
    └── Unavailable                 503 a dependency is down

Every error has a stable machine-readable ``code`` and a human ``detail``.
The detail must never carry a secret: it is shown to the caller.
"""

from __future__ import annotations

from typing import Any

#: The media type of every error answer (RFC 9457).
PROBLEM_JSON = "application/problem+json"


class VelletError(Exception):
    """Base of every deliberate Vellet error."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class ConfigError(VelletError):
    """The environment or a command-line option is not usable."""

    code = "config_error"
    title = "Invalid configuration"


class InvalidRequest(VelletError):
    status = 400
    code = "invalid_request"
    title = "Invalid request"


class InvalidAmount(InvalidRequest):
    status = 422
    code = "invalid_amount"
    title = "Invalid amount"


class Unauthorized(VelletError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(VelletError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(VelletError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(VelletError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unprocessable(VelletError):
    status = 422
    code = "unprocessable"
    title = "Request refused"


class TooManyRequests(VelletError):
    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class Unavailable(VelletError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


def problem_body(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    """The RFC 9457 document of an error, for callers that store or embed it.

    Pure, so that rules (which store refusals under idempotency keys) can
    build it without importing the HTTP middleware.
    """
    return {
        "type": f"https://vellet.io/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
