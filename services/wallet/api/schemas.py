"""The schemas of the wallet's OpenAPI document (``components.schemas``).

Kept apart from the paths in ``openapi`` so that each reads on one screen;
the patterns and limits come from the rules the handlers validate with.
"""

from __future__ import annotations

from typing import Any, Final

from vellet.common import plaintext
from vellet.common.money import CURRENCY_EXPONENTS
from vellet.wallet import wire
from vellet.wallet.auth import rules as auth_rules
from vellet.wallet.auth import sessions
from vellet.wallet.ledger import rules as ledger_rules

_REF: Final = "#/components/schemas/"
_AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,20})(\.[0-9]{1,10})?$"
_ACCOUNT_PATTERN: Final = r"^[0-9]{6,20}$"


def ref(name: str) -> dict[str, str]:
    """A reference to one of :func:`schemas`."""
    return {"$ref": _REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def schemas() -> dict[str, Any]:
    currency = {"type": "string", "enum": sorted(CURRENCY_EXPONENTS)}
    amount = {"type": "string", "pattern": _AMOUNT_PATTERN, "examples": ["125.50"]}
    account = {"type": "string", "pattern": _ACCOUNT_PATTERN}
    text = {"type": "string"}
    stamp = {"type": "string", "format": "date-time"}
    note = _nullable({
        "type": "string",
        "maxLength": wire.NOTE_MAX,
        "pattern": plaintext.schema_pattern(),
        "description": "Shown to both parties and in their e-mails: visible text on one line. "
        "Control and format characters (Unicode Cc, Cf: newlines, tabs, bidi overrides, "
        "zero-width characters) and line/paragraph separators are refused with 422 "
        "`invalid_note`.",
    })  # fmt: skip
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
                    "maxLength": auth_rules.PASSWORD_MAX,
                    "description": f"At sign-up at least {auth_rules.PASSWORD_MIN} characters.",
                },
            },
        },
        "SignupStart": {
            "type": "object",
            "additionalProperties": False,
            "required": ["account_number"],
            "properties": {"account_number": account},
        },
        "SignupStarted": {
            "type": "object",
            "description": "The same for every account number: unknown, registered or fresh.",
            "required": ["status", "detail"],
            "properties": {
                "status": {"type": "string", "enum": [auth_rules.SIGNUP_STARTED["status"]]},
                "detail": text,
            },
        },
        "SignupCompletion": {
            "type": "object",
            "additionalProperties": False,
            "required": ["account_number", "code", "password"],
            "properties": {
                "account_number": account,
                "code": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": auth_rules.CODE_MAX,
                    "description": "The one-time code the bank mailed to the holder.",
                },
                "password": {
                    "type": "string",
                    "minLength": auth_rules.PASSWORD_MIN,
                    "maxLength": auth_rules.PASSWORD_MAX,
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
            "oneOf": [ref("P2PTransferRequest"), ref("BankTransferRequest")],
        },
        "P2PTransferRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "amount", "currency", "to_account"],
            "properties": {
                "kind": {"type": "string", "enum": list(ledger_rules.KINDS)},
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
                "items": {"type": "array", "items": ref("Transfer")},
                "next_cursor": _nullable(
                    {"type": "string", "description": "Pass as `cursor` for the next page."}
                ),
            },
        },
    }
