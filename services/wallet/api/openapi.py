"""The wallet's OpenAPI 3.1 document, served at ``/api/v1/openapi.json``.

Built from the same constants the handlers validate with (patterns,
limits, currencies), so the document cannot drift from the code on those;
a schemathesis run against the running service checks the rest (every
status, header and body it answers is documented and matches its schema).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from vellet.wallet.api.schemas import ref, schemas
from vellet.wallet.auth import sessions
from vellet.wallet.ledger import rules as ledger_rules

_SECURED: Final[list[dict[str, list[str]]]] = [{"bearer": []}, {"cookie": []}]

_PROBLEM_CODES: Final = {
    400: "The request is malformed (not JSON, a missing or bad field or header).",
    401: "Not authenticated, the credentials are wrong, or (sign-up) the code is wrong, "
    "expired, used or was never sent: one answer, `invalid_code`.",
    403: "A cookie-authenticated write without the session's X-CSRF-Token.",
    404: "Not found (also: another user's transfer).",
    409: "Conflict (already registered, or an idempotent request still in flight).",
    413: "The body is larger than the service accepts.",
    422: "The request is well-formed but refused by a business rule.",
    429: "Too many failed logins or sign-up attempts; see Retry-After.",
    503: "A dependency (the database, Redis, the bank) is unavailable; retry later "
    "(a transfer with the same Idempotency-Key).",
}


_REPLAYED: Final = {
    "Idempotent-Replayed": {
        "description": "Present on a replayed answer.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}} | extra


def _problems(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": _PROBLEM_CODES[status],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        out[str(status)] = response
    return out


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def _paths() -> dict[str, Any]:
    secured = {"security": _SECURED}
    return {
        "/api/v1/auth/signup": {
            "post": {
                "summary": "Start a sign-up: the bank mails the holder a one-time code",
                "description": "The wallet asks the bank (`POST /api/v1/signup-challenges` "
                "on the bank, under the wallet's service identity) to mail a one-time code "
                "to the e-mail address it holds for the account, never to one from the "
                "request. The answer is the same, byte for byte, for an unknown, a "
                "registered and a fresh account. Rate-limited per account and per client "
                "address; every attempt counts.",
                "security": [],
                "requestBody": _body("SignupStart"),
                "responses": {
                    "202": _json(
                        ref("SignupStarted"),
                        "If the account can be registered, its holder has been sent a code.",
                    )
                }
                | _problems(400, 413, 429, 503),
            }
        },
        "/api/v1/auth/signup/complete": {
            "post": {
                "summary": "Complete a sign-up with the mailed code and a password",
                "description": "The bank checks the code (`POST "
                "/api/v1/signup-challenges/verify`): six digits, single use, valid for "
                "minutes, a few guesses before the challenge dies. Name, e-mail and "
                "currency come from the bank and are shown only now.",
                "security": [],
                "requestBody": _body("SignupCompletion"),
                "responses": {"201": _json(ref("User"), "The new wallet user.")}
                | _problems(400, 401, 409, 413, 422, 429, 503),
            }
        },
        "/api/v1/auth/login": {
            "post": {
                "summary": "Log in; answers a token and sets the session cookies",
                "security": [],
                "requestBody": _body("Credentials"),
                "responses": {
                    "200": _json(
                        ref("Session"),
                        "Logged in. Also sets the HttpOnly, SameSite=Strict "
                        f"`{sessions.COOKIE}` cookie and the readable `{sessions.CSRF_COOKIE}` "
                        "cookie.",
                    )
                }
                | _problems(400, 401, 413, 429, 503),
            }
        },
        "/api/v1/auth/logout": {
            "post": {
                "summary": "Log out: clears the session cookies",
                "security": [],
                "responses": {"204": {"description": "Cookies cleared."}},
            }
        },
        "/api/v1/me": {
            "get": secured
            | {
                "summary": "The caller and their balance",
                "responses": {"200": _json(ref("Me"), "The caller.")} | _problems(401, 503),
            }
        },
        "/api/v1/transfers": {
            "post": secured
            | {
                "summary": "Send money to another user, deposit or withdraw (exactly once per key)",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "description": "Same key + same body: the first answer, replayed. "
                        "Same key + another body: 422. While the first runs: 409.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 255,
                            "pattern": "^[\\x21-\\x7e]+$",
                        },
                    }
                ],
                "requestBody": _body("TransferRequest"),
                "responses": {
                    "201": _json(
                        ref("Transfer"),
                        "Final: a P2P transfer posted, or a deposit/withdrawal the bank "
                        "answered at once (posted, voided or failed; `failure_reason` says "
                        "why). Also the replay of the first answer to this key.",
                        headers=_REPLAYED,
                    ),
                    "202": _json(
                        ref("Transfer"),
                        "A deposit/withdrawal accepted while the bank did not answer: state "
                        "`queued` (a withdrawal's amount is reserved). The bank executes it "
                        "when it is back; poll GET /api/v1/transfers/{id} for the final state.",
                        headers=_REPLAYED,
                    ),
                }
                | _problems(400, 401, 403, 404, 409, 413, 422, 503),
            },
            "get": secured
            | {
                "summary": "The caller's transfers, newest first (keyset pagination)",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": ledger_rules.HISTORY_MAX_LIMIT,
                            "default": ledger_rules.HISTORY_DEFAULT_LIMIT,
                        },
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json(ref("TransferPage"), "One page.")}
                | _problems(400, 401, 503),
            },
        },
        "/api/v1/transfers/{transfer_id}": {
            "get": secured
            | {
                "summary": "One of the caller's transfers",
                "parameters": [
                    {
                        "name": "transfer_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {"200": _json(ref("Transfer"), "The transfer.")}
                | _problems(401, 404, 503),
            }
        },
    }


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vellet wallet API",
            "version": "1.0.0",
            "description": "Money is a decimal string in the currency's exponent; errors are "
            "RFC 9457 problem details.",
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": sessions.COOKIE},
            },
        },
        "security": [],
        "paths": _paths(),
    }
