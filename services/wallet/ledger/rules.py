"""Pure rules of P2P transfers and of reading history.

No I/O. What a valid P2P request is, the fixed refusals the ledger can
answer (stored under an idempotency key and replayed, so they never
change), the 201 body of a posted transfer, and the keyset cursor of the
history pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from vellet.common.digits import whole_number
from vellet.common.errors import InvalidRequest, problem_body
from vellet.common.money import format_amount, parse_amount
from vellet.wallet.wire import account_number, no_unknown_fields, parse_note

HISTORY_DEFAULT_LIMIT: Final = 20
HISTORY_MAX_LIMIT: Final = 100
KINDS: Final = ("p2p",)  # deposits and withdrawals arrive with the bank flows


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
    no_unknown_fields(body, _TRANSFER_FIELDS)
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
            number = whole_number(micros)
            created = None if number is None else _EPOCH + timedelta(microseconds=number)
            parsed = uuid.UUID(ident)
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
            raise bad from None
        if created is None:
            raise bad
        return cls(created, parsed)


def history_limit(raw: str | None) -> int:
    if raw is None:
        return HISTORY_DEFAULT_LIMIT
    limit = whole_number(raw)
    if limit is None or not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be a whole number from 1 to {HISTORY_MAX_LIMIT}", code="invalid_limit"
        )
    return limit
