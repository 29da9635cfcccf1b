"""Pure rules of the wallet: what a valid request is, and how answers look.

No I/O here. Handlers parse with these functions, the store executes, and
the rendering functions turn rows into the wire format of API.md. Keeping
the rendering pure matters for idempotency: a replayed response must be
byte-for-byte the first one, so it is rendered once and stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from vellet.common.errors import InvalidRequest, Unprocessable
from vellet.common.money import format_amount, parse_amount
from vellet.common.problems import problem_body

ACCOUNT_NUMBER_RE: Final = re.compile(r"^[0-9]{6,20}$")
# Printable ASCII without spaces: what clients put in keys (UUIDs, ULIDs...).
IDEMPOTENCY_KEY_RE: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
NOTE_MAX: Final = 140
HISTORY_DEFAULT_LIMIT: Final = 20
HISTORY_MAX_LIMIT: Final = 100
KINDS: Final = ("p2p",)  # deposits and withdrawals arrive with the bank flows


def account_number(value: object, field: str = "account_number") -> str:
    if not isinstance(value, str) or not ACCOUNT_NUMBER_RE.fullmatch(value):
        raise InvalidRequest(f"{field} must be 6 to 20 digits", code="invalid_account_number")
    return value


def idempotency_key(header: str | None) -> str:
    if header is None or header == "":
        raise InvalidRequest(
            "the Idempotency-Key header is required on money-moving requests",
            code="missing_idempotency_key",
        )
    if not IDEMPOTENCY_KEY_RE.fullmatch(header):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            code="invalid_idempotency_key",
        )
    return header


PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 256


@dataclass(frozen=True)
class Credentials:
    account_number: str
    password: str = field(repr=False)


def parse_credentials(body: dict[str, Any], *, new: bool) -> Credentials:
    """Sign-up (``new``) and login bodies: an account number and a password."""
    _no_unknown_fields(body, {"account_number", "password"})
    number = account_number(body.get("account_number"))
    password = body.get("password")
    if not isinstance(password, str) or not password or not _encodable(password):
        raise InvalidRequest(
            "password must be a non-empty string of valid Unicode", code="invalid_password"
        )
    if len(password) > PASSWORD_MAX:
        raise InvalidRequest(
            f"password must be at most {PASSWORD_MAX} characters", code="invalid_password"
        )
    if new and len(password) < PASSWORD_MIN:
        raise Unprocessable(
            f"password must be at least {PASSWORD_MIN} characters", code="weak_password"
        )
    return Credentials(number, password)


def user_json(user: Any) -> dict[str, Any]:
    return {
        "account_number": user.account_number,
        "name": user.name,
        "email": user.email,
        "currency": user.currency,
    }


def me_json(user: Any, balance: Any) -> dict[str, Any]:
    return user_json(user) | {
        "balance": {
            "currency": balance.currency,
            "available": format_amount(balance.available, balance.currency),
            "pending": format_amount(balance.pending, balance.currency),
        }
    }


def _encodable(text: str) -> bool:
    """JSON allows lone surrogates ("\\ud800"); UTF-8, PostgreSQL and argon2 do not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_unknown_fields(body: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)[:200]}")


@dataclass(frozen=True)
class P2PRequest:
    """A validated P2P transfer request, amounts in minor units."""

    to_account: str
    amount: int
    currency: str
    note: str | None

    def fingerprint(self) -> str:
        """A digest of the request's meaning (not its spelling: "5.0" == "5.00")."""
        canonical = json.dumps(
            ["p2p", self.to_account, self.amount, self.currency, self.note],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


_TRANSFER_FIELDS: Final = frozenset({"kind", "amount", "currency", "to_account", "note"})


def parse_transfer(body: dict[str, Any]) -> P2PRequest:
    _no_unknown_fields(body, _TRANSFER_FIELDS)
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of: {', '.join(KINDS)}", code="invalid_kind")
    currency = body.get("currency")
    if not isinstance(currency, str):
        raise InvalidRequest(
            "currency must be an ISO 4217 code such as INR", code="invalid_currency"
        )
    amount = parse_amount(body.get("amount"), currency)  # also validates the currency
    to_account = account_number(body.get("to_account"), "to_account")
    note = parse_note(body.get("note"))
    return P2PRequest(to_account=to_account, amount=amount, currency=currency, note=note)


def parse_note(note: object) -> str | None:
    """The optional free-text note of any transfer (shown to both parties)."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise InvalidRequest("note must be a string")
    if len(note) > NOTE_MAX:
        raise InvalidRequest(f"note must be at most {NOTE_MAX} characters")
    if "\x00" in note or not _encodable(note):
        raise InvalidRequest("note must be text without NUL characters or lone surrogates")
    return note


@dataclass(frozen=True)
class Refusal:
    """A business-rule refusal the ledger can decide, with its fixed answer."""

    status: int
    title: str
    detail: str

    def body(self, code: str) -> dict[str, Any]:
        return problem_body(self.status, code, self.title, self.detail)


#: Every refusal the P2P function can return, by problem code. The details are
#: fixed texts on purpose: a refusal is stored under its idempotency key and
#: replayed, so it must not depend on anything that changes later.
REFUSALS: Final[dict[str, Refusal]] = {
    "unknown_recipient": Refusal(404, "Unknown recipient", "no wallet user has that account"),
    "same_account": Refusal(422, "Same account", "a transfer needs two different accounts"),
    "currency_mismatch": Refusal(
        422, "Currency mismatch", "both wallets must hold the transfer's currency"
    ),
    "insufficient_funds": Refusal(
        422, "Insufficient funds", "the available balance does not cover this amount"
    ),
}
REFUSALS_JSON: Final = json.dumps(
    {code: {"status": r.status, "body": r.body(code)} for code, r in REFUSALS.items()}
)


def success_template(transfer_id: uuid.UUID, req: P2PRequest) -> dict[str, Any]:
    """The 201 body of a P2P transfer, except what the database adds
    (``from_account``, ``created_at``, ``updated_at``)."""
    return {
        "id": str(transfer_id),
        "kind": "p2p",
        "state": "posted",
        "amount": format_amount(req.amount, req.currency),
        "currency": req.currency,
        "to_account": req.to_account,
        "note": req.note,
        "failure_reason": None,
    }


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC with microseconds; the same text ``wallet_ts()`` writes in SQL."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def transfer_json(row: Any) -> dict[str, Any]:
    """Render a ``transfers`` row (a mapping) for the API."""
    currency = str(row["currency"])
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "state": row["state"],
        "amount": format_amount(int(row["amount"]), currency),
        "currency": currency,
        "from_account": row["from_account"],
        "to_account": row["to_account"],
        "note": row["note"],
        "failure_reason": row["failure_reason"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


def expiry(now: datetime, retention_hours: int) -> datetime | None:
    return None if retention_hours == 0 else now + timedelta(hours=retention_hours)


# --- history pagination ------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    """Where a history page ended: the last (created_at, id) it showed."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        raw = f"{micros}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        bad = InvalidRequest("cursor is not one this API returned", code="invalid_cursor")
        if not 1 <= len(text) <= 128:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            micros, _, ident = raw.partition(":")
            created = _EPOCH + timedelta(microseconds=int(micros)) if micros.isdigit() else None
            parsed = uuid.UUID(ident)
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
            raise bad from None
        if created is None:
            raise bad
        return cls(created, parsed)


def history_limit(raw: str | None) -> int:
    if raw is None:
        return HISTORY_DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= HISTORY_MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be a whole number from 1 to {HISTORY_MAX_LIMIT}", code="invalid_limit"
        )
    return int(raw)


def transfer_id(raw: str) -> uuid.UUID | None:
    """A path id; None (so: 404) for anything that is not a UUID."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
