"""The wallet's OpenAPI 3.1 document, served at ``/api/v1/openapi.json``.

Built from the same constants the handlers validate with (patterns,
limits, currencies), so the document cannot drift from the code on those;
a schemathesis run against the running service checks the rest (every
status, header and body it answers is documented and matches its schema).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from vellet.common.money import CURRENCY_EXPONENTS
from vellet.wallet import domain, sessions

_REF: Final = "#/components/schemas/"
_AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,20})(\.[0-9]{1,10})?$"
_ACCOUNT_PATTERN: Final = r"^[0-9]{6,20}$"
_SECURED: Final[list[dict[str, list[str]]]] = [{"bearer": []}, {"cookie": []}]

_PROBLEM_CODES: Final = {
    400: "The request is malformed (not JSON, a missing or bad field or header).",
    401: "Not authenticated, or the credentials are wrong.",
    403: "A cookie-authenticated write without the session's X-CSRF-Token.",
    404: "Not found (also: another user's transfer).",
    409: "Conflict (already registered, or an idempotent request still in flight).",
    413: "The body is larger than the service accepts.",
    422: "The request is well-formed but refused by a business rule.",
    429: "Too many failed logins; see Retry-After.",
    503: "A dependency (the database, Redis, the bank) is unavailable; retry later "
    "(a transfer with the same Idempotency-Key).",
}


_REPLAYED: Final = {
    "Idempotent-Replayed": {
        "description": "Present on a replayed answer.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}} | extra


def _problems(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": _PROBLEM_CODES[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
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
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _schemas() -> dict[str, Any]:
    currency = {"type": "string", "enum": sorted(CURRENCY_EXPONENTS)}
    amount = {"type": "string", "pattern": _AMOUNT_PATTERN, "examples": ["125.50"]}
    account = {"type": "string", "pattern": _ACCOUNT_PATTERN}
    text = {"type": "string"}
    stamp = {"type": "string", "format": "date-time"}
    note = _nullable({"type": "string", "maxLength": domain.NOTE_MAX, "pattern": "^[^\\u0000]*$"})
    user = {
        "account_number": account,
        "name": text,
        "email": text,
        "currency": currency,
    }
    transfer = {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": ["p2p", "deposit", "withdrawal"]},
        "state": {"type": "string", "enum": ["pending", "queued", "posted", "voided", "failed"]},
        "amount": amount,
        "currency": currency,
        "from_account": _nullable(account),
        "to_account": _nullable(account),
        "note": _nullable(text),
        "failure_reason": _nullable(text),
        "created_at": stamp,
        "updated_at": stamp,
    }
    return {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `code` is stable and machine-readable.",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": text,
                "title": text,
                "status": {"type": "integer"},
                "detail": text,
                "code": text,
            },
        },
        "Credentials": {
            "type": "object",
            "additionalProperties": False,
            "required": ["account_number", "password"],
            "properties": {
                "account_number": account,
                "password": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": domain.PASSWORD_MAX,
                    "description": f"At sign-up at least {domain.PASSWORD_MIN} characters.",
                },
            },
        },
        "User": {"type": "object", "required": list(user), "properties": user},
        "Me": {
            "type": "object",
            "required": [*user, "balance"],
            "properties": user
            | {
                "balance": {
                    "type": "object",
                    "required": ["currency", "available", "pending"],
                    "properties": {"currency": currency, "available": amount, "pending": amount},
                }
            },
        },
        "Session": {
            "type": "object",
            "required": ["token", "expires_at", "csrf_token"],
            "properties": {
                "token": {"type": "string", "description": "A JWT for Authorization: Bearer."},
                "expires_at": stamp,
                "csrf_token": {
                    "type": "string",
                    "description": f"Send as {sessions.CSRF_HEADER} on cookie-authenticated "
                    "writes.",
                },
            },
        },
        "TransferRequest": {
            "description": "A P2P transfer to another wallet user, or a deposit (bank -> "
            "wallet) / withdrawal (wallet -> bank) between the caller's wallet and the bank "
            "account they signed up with.",
            "oneOf": [_ref("P2PTransferRequest"), _ref("BankTransferRequest")],
        },
        "P2PTransferRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "amount", "currency", "to_account"],
            "properties": {
                "kind": {"type": "string", "enum": list(domain.KINDS)},
                "amount": amount,
                "currency": currency,
                "to_account": account,
                "note": note,
            },
        },
        "BankTransferRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "amount", "currency"],
            "properties": {
                "kind": {"type": "string", "enum": ["deposit", "withdrawal"]},
                "amount": amount,
                "currency": currency,
                "note": note,
            },
        },
        "Transfer": {
            "type": "object",
            "required": list(transfer),
            "properties": transfer,
        },
        "TransferPage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("Transfer")},
                "next_cursor": _nullable(
                    {"type": "string", "description": "Pass as `cursor` for the next page."}
                ),
            },
        },
    }


def _paths() -> dict[str, Any]:
    secured = {"security": _SECURED}
    return {
        "/api/v1/auth/signup": {
            "post": {
                "summary": "Sign up with a bank account the bank vouches for",
                "description": "Name, e-mail and currency are taken from the bank.",
                "security": [],
                "requestBody": _body("Credentials"),
                "responses": {"201": _json(_ref("User"), "The new wallet user.")}
                | _problems(400, 404, 409, 413, 422, 503),
            }
        },
        "/api/v1/auth/login": {
            "post": {
                "summary": "Log in; answers a token and sets the session cookies",
                "security": [],
                "requestBody": _body("Credentials"),
                "responses": {
                    "200": _json(
                        _ref("Session"),
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
                "responses": {"200": _json(_ref("Me"), "The caller.")} | _problems(401, 503),
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
                        _ref("Transfer"),
                        "Final: a P2P transfer posted, or a deposit/withdrawal the bank "
                        "answered at once (posted, voided or failed; `failure_reason` says "
                        "why). Also the replay of the first answer to this key.",
                        headers=_REPLAYED,
                    ),
                    "202": _json(
                        _ref("Transfer"),
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
                            "maximum": domain.HISTORY_MAX_LIMIT,
                            "default": domain.HISTORY_DEFAULT_LIMIT,
                        },
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json(_ref("TransferPage"), "One page.")}
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
                "responses": {"200": _json(_ref("Transfer"), "The transfer.")}
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
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": sessions.COOKIE},
            },
        },
        "security": [],
        "paths": _paths(),
    }
