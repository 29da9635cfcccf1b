"""The bank's rules, free of I/O so they can be tested without servers.

Requests from the outside are parsed here into typed values (or refused with
a reason); the decision why a transfer cannot be executed is made here from
the account's state. The store and executor only carry values in and out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from vellet.common import plaintext
from vellet.common.errors import InvalidRequest, Unprocessable
from vellet.common.money import exponent, format_amount, parse_amount

Direction = Literal["to_wallet", "from_wallet"]
Status = Literal["succeeded", "rejected"]

ACCOUNT_NUMBER_RE: Final = re.compile(r"^[0-9]{6,20}$")
_EMAIL_RE: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,63}$")
DIRECTIONS: Final = ("to_wallet", "from_wallet")

# Why a transfer is rejected (not errored): the wallet shows these to users.
UNKNOWN_ACCOUNT: Final = "unknown_account"
ACCOUNT_CLOSED: Final = "account_closed"
CURRENCY_MISMATCH: Final = "currency_mismatch"
INSUFFICIENT_FUNDS: Final = "insufficient_funds"
SETTLEMENT_SHORT: Final = "settlement_insufficient"


@dataclass(frozen=True)
class TransferRequest:
    """The wallet asks the bank to move ``amount`` for ``transfer_id``."""

    transfer_id: uuid.UUID
    account_number: str
    direction: Direction
    amount: int
    currency: str


@dataclass(frozen=True)
class Outcome:
    """What the bank did with a transfer; the first outcome is the only one."""

    request: TransferRequest
    bank_txn_id: uuid.UUID
    status: Status
    reason: str | None

    def to_wire(self) -> dict[str, Any]:
        req = self.request
        return {
            "transfer_id": str(req.transfer_id),
            "bank_txn_id": str(self.bank_txn_id),
            "status": self.status,
            "reason": self.reason,
            "account_number": req.account_number,
            "direction": req.direction,
            "amount": format_amount(req.amount, req.currency),
            "currency": req.currency,
        }


@dataclass(frozen=True)
class AccountState:
    """What the executor needs to know about an account to explain a refusal."""

    currency: str
    balance: int
    status: str


@dataclass(frozen=True)
class AccountView:
    """An account as look-ups see it. Never the balance: balances are not cached."""

    account_number: str
    name: str
    email: str
    currency: str
    status: str

    def to_wire(self) -> dict[str, str]:
        return {
            "account_number": self.account_number,
            "name": self.name,
            "email": self.email,
            "currency": self.currency,
            "status": self.status,
        }


@dataclass(frozen=True)
class NewAccount:
    account_number: str
    name: str
    email: str
    currency: str
    balance: int


def _text(data: Mapping[str, Any], key: str, *, max_len: int = 200) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{key} is required and must be a non-empty string")
    if len(value) > max_len:
        raise InvalidRequest(f"{key} must be at most {max_len} characters")
    # A holder's name and address reach every party that pays them and
    # their e-mails: no bidi overrides, zero-width characters or newlines.
    refused = plaintext.refusal(key, value.strip())
    if refused is not None:
        raise Unprocessable(refused, code=f"invalid_{key}")
    return value.strip()


def account_number(value: object, field: str = "account_number") -> str:
    if not isinstance(value, str) or not ACCOUNT_NUMBER_RE.fullmatch(value):
        raise InvalidRequest(f"{field} must be 6 to 20 digits", code="invalid_account_number")
    return value


def currency_code(value: object) -> str:
    exponent(value)  # refuses anything that is not a supported ISO 4217 code
    assert isinstance(value, str)
    return value


def parse_transfer_request(data: Mapping[str, Any]) -> TransferRequest:
    try:
        transfer_id = uuid.UUID(str(data.get("transfer_id")))
    except ValueError:
        raise InvalidRequest("transfer_id must be a UUID") from None
    if not isinstance(data.get("transfer_id"), str):
        raise InvalidRequest("transfer_id must be a UUID string")
    direction = data.get("direction")
    if direction not in DIRECTIONS:
        raise InvalidRequest("direction must be 'to_wallet' or 'from_wallet'")
    currency = currency_code(data.get("currency"))
    return TransferRequest(
        transfer_id=transfer_id,
        account_number=account_number(data.get("account_number")),
        direction=direction,
        amount=parse_amount(data.get("amount"), currency),
        currency=currency,
    )


def parse_new_account(data: Mapping[str, Any]) -> NewAccount:
    currency = currency_code(data.get("currency"))
    email = _text(data, "email", max_len=320)
    if not _EMAIL_RE.fullmatch(email):
        raise InvalidRequest("email is not a valid address")
    raw_balance = data.get("balance", "0")
    balance = 0 if raw_balance in ("0", "0.00", "0.0", "0.000") else None
    if balance is None:
        balance = parse_amount(raw_balance, currency)
    return NewAccount(
        account_number=account_number(data.get("account_number")),
        name=_text(data, "name"),
        email=email,
        currency=currency,
        balance=balance,
    )


def parse_status_change(data: Mapping[str, Any]) -> str:
    status = data.get("status")
    if status not in ("active", "closed"):
        raise InvalidRequest("status must be 'active' or 'closed'")
    return str(status)


def rejection_reason(account: AccountState | None, req: TransferRequest) -> str:
    """Why a conditional update found nothing to change."""
    if account is None:
        return UNKNOWN_ACCOUNT
    if account.status != "active":
        return ACCOUNT_CLOSED
    if account.currency != req.currency:
        return CURRENCY_MISMATCH
    # Active, right currency, and still not moved: the money was not there
    # when the debit ran (a concurrent credit may have landed since).
    return INSUFFICIENT_FUNDS


_FIRST = ("Asha", "Bo", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jia")
_LAST = ("Rao", "Chen", "Okafor", "Levi", "Novak", "Haddad", "Petrov", "Sato", "Silva", "Kim")
DEMO_OPENING_BALANCE: Final = 10_000_00  # 10,000.00 in a 2-decimal currency


def demo_accounts(count: int, currency: str = "INR") -> list[NewAccount]:
    """Deterministic demo accounts: the same ``count`` always gives the same ones."""
    if not 1 <= count <= 100_000:
        raise InvalidRequest("--accounts must be between 1 and 100000")
    accounts = []
    for i in range(1, count + 1):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
        accounts.append(
            NewAccount(
                account_number=f"{100000000000 + i}",
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}.{i}@example.test",
                currency=currency,
                balance=DEMO_OPENING_BALANCE,
            )
        )
    return accounts
