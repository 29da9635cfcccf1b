"""Pure rules of money that moves between the bank and a wallet.

No I/O here (like every ``rules`` module): what a deposit or withdrawal request is, what
the wallet asks the bank, how a bank outcome is read and checked against
the transfer it claims to settle, and which final state it leads to.

States (API.md): a deposit or withdrawal is ``pending`` while the wallet
asks the bank directly, ``queued`` once its request waits on the bank
request stream, and ends ``posted`` (the bank moved the money),
``voided`` (a refused withdrawal: its reservation is released) or
``failed`` (a refused deposit: nothing was reserved). ``failure_reason`` is
the bank's reason, word for word (``account_closed``,
``currency_mismatch``, ``insufficient_funds``, ``unknown_account``...).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from vellet.common.digits import whole_number
from vellet.common.errors import InvalidRequest, VelletError
from vellet.common.money import format_amount, parse_amount
from vellet.wallet import wire

BankKind = Literal["deposit", "withdrawal"]
Direction = Literal["to_wallet", "from_wallet"]
FinalState = Literal["posted", "voided", "failed"]

ALL_KINDS: Final = ("p2p", "deposit", "withdrawal")
BANK_KINDS: Final = ("deposit", "withdrawal")
UNFINISHED: Final = ("pending", "queued")
#: The bank moves money "to_wallet" for a deposit (customer -> settlement) and
#: "from_wallet" for a withdrawal (settlement -> customer).
DIRECTIONS: Final[dict[str, Direction]] = {"deposit": "to_wallet", "withdrawal": "from_wallet"}
_BANK_FIELDS: Final = frozenset({"kind", "amount", "currency", "note"})


@dataclass(frozen=True)
class BankTransferRequest:
    """A validated deposit or withdrawal of the caller's own wallet."""

    kind: BankKind
    amount: int
    currency: str
    note: str | None

    @property
    def direction(self) -> Direction:
        return DIRECTIONS[self.kind]

    def fingerprint(self) -> str:
        """A digest of the request's meaning, like ``P2PRequest.fingerprint``
        (the kind is part of it, so a key reused across kinds is a mismatch)."""
        canonical = json.dumps(
            [self.kind, self.amount, self.currency, self.note], separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def kind_of(body: Mapping[str, Any]) -> str:
    kind = body.get("kind")
    if kind not in ALL_KINDS:
        raise InvalidRequest(f"kind must be one of: {', '.join(ALL_KINDS)}", code="invalid_kind")
    return str(kind)


def parse_bank_transfer(body: dict[str, Any]) -> BankTransferRequest:
    """A deposit or withdrawal body: ``kind``, ``amount``, ``currency``, ``note``.

    There is no ``to_account``: the money moves between the caller's wallet
    and the caller's own bank account (the one they signed up with).
    """
    if "to_account" in body:
        raise InvalidRequest("to_account is only for p2p transfers")
    unknown = sorted(set(body) - _BANK_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)[:200]}")
    kind = kind_of(body)
    if kind not in BANK_KINDS:
        raise InvalidRequest("kind must be deposit or withdrawal", code="invalid_kind")
    currency = body.get("currency")
    if not isinstance(currency, str):
        raise InvalidRequest(
            "currency must be an ISO 4217 code such as INR", code="invalid_currency"
        )
    amount = parse_amount(body.get("amount"), currency)
    note = wire.parse_note(body.get("note"))
    return BankTransferRequest("deposit" if kind == "deposit" else "withdrawal", amount,
                               currency, note)  # fmt: skip


def bank_request(transfer_id: uuid.UUID, account_number: str, kind: str, amount: int,
                 currency: str) -> dict[str, str]:  # fmt: skip
    """What the wallet asks of the bank, over HTTP and on the request stream alike."""
    return {
        "transfer_id": str(transfer_id),
        "account_number": account_number,
        "direction": DIRECTIONS[kind],
        "amount": format_amount(amount, currency),
        "currency": currency,
    }


class MissingField(ValueError):
    """A bank outcome without a field the wallet needs to check it."""


#: What a bank outcome must say it moved, so the wallet can compare it with
#: the transfer it names. An outcome without one of them is never applied.
MOVEMENT_FIELDS: Final = ("account_number", "direction", "amount", "currency")


@dataclass(frozen=True)
class BankResult:
    """The bank's outcome of one transfer (its HTTP answer or a result message)."""

    transfer_id: uuid.UUID
    bank_txn_id: uuid.UUID
    succeeded: bool
    reason: str | None
    #: What the bank says it moved; the transfer is finished only if every one
    #: of them equals the transfer's own (checked in the same UPDATE).
    account_number: str
    direction: str
    amount: int
    currency: str

    def final_state(self, kind: str) -> FinalState:
        if self.succeeded:
            return "posted"
        return "voided" if kind == "withdrawal" else "failed"

    def failure_reason(self) -> str | None:
        if self.succeeded:
            return None
        return (self.reason or "rejected_by_bank")[:200]

    def contradicts(self, kind: str, account_number: str, amount: int, currency: str) -> bool:
        """Whether the bank describes another movement than the transfer's own."""
        return (
            self.direction != DIRECTIONS.get(kind)
            or self.account_number != account_number
            or self.amount != amount
            or self.currency != currency
        )


def parse_bank_result(data: Any, transfer_id: uuid.UUID | None = None) -> BankResult:
    """Read the bank's outcome; ValueError (MissingField for an absent field) when it is not one.

    ``transfer_id`` is the id the caller asked about (the HTTP path); a
    result message names its own. Every movement field is required: an
    outcome that does not say what it moved cannot be checked, so it is
    refused rather than applied on trust.
    """
    if not isinstance(data, Mapping):
        raise ValueError("a bank outcome must be a JSON object")  # noqa: TRY004 - one error kind
    absent = [
        k for k in ("transfer_id", "bank_txn_id", "status", *MOVEMENT_FIELDS) if k not in data
    ]
    if absent:
        raise MissingField(f"a bank outcome lacks {', '.join(absent)}")
    status = data.get("status")
    if status not in ("succeeded", "rejected"):
        raise ValueError("a bank outcome's status must be succeeded or rejected")
    ident = uuid.UUID(str(data.get("transfer_id"))) if transfer_id is None else transfer_id
    if transfer_id is not None and data.get("transfer_id") != str(transfer_id):
        raise ValueError("the bank answered about another transfer")
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValueError("a bank outcome's reason must be a string")
    texts = {k: data[k] for k in ("account_number", "direction", "currency")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise ValueError("a bank outcome's account_number, direction and currency are strings")
    try:
        minor = parse_amount(data["amount"], texts["currency"])
    except VelletError as err:
        raise ValueError(f"a bank outcome's amount is unusable: {err.detail}") from None
    return BankResult(
        transfer_id=ident,
        bank_txn_id=uuid.UUID(str(data.get("bank_txn_id"))),
        succeeded=status == "succeeded",
        reason=reason if status == "rejected" else None,
        account_number=texts["account_number"],
        direction=texts["direction"],
        amount=minor,
        currency=texts["currency"],
    )


@dataclass(frozen=True)
class Finish:
    """What finishing one deposit or withdrawal does to the ledger."""

    #: The user's ledger account, and the changes of its balance and pending.
    account: int
    balance: int
    pending: int
    #: The change of the settlement account's balance.
    settlement: int

    @classmethod
    def of(cls, account: int, kind: str, posted: bool, amount: int) -> Finish:
        moved = amount if posted else 0
        if kind == "withdrawal":  # the reservation goes either way; the money if posted
            return cls(account, -moved, -amount, moved)
        return cls(account, moved, 0, -moved)


def available_after_each(start: Mapping[int, int], finishes: Sequence[Finish]) -> list[int]:
    """Each finish's account available balance right after it, applied in order.

    ``start``: every account's ``balance - pending`` as locked, before the
    batch. An event then tells each user the balance their transfer left,
    as if the batch's transfers had been applied one at a time.
    """
    running = dict(start)
    after = []
    for finish in finishes:
        running[finish.account] += finish.balance - finish.pending
        after.append(running[finish.account])
    return after


def net_by_account(finishes: Sequence[Finish]) -> dict[int, tuple[int, int]]:
    """Account -> (balance change, pending change) summed over ``finishes``; non-zero only."""
    net: dict[int, tuple[int, int]] = {}
    for finish in finishes:
        balance, pending = net.get(finish.account, (0, 0))
        net[finish.account] = (balance + finish.balance, pending + finish.pending)
    return {account: change for account, change in net.items() if change != (0, 0)}


def response_status(state: str) -> int:
    """201 once the transfer is final, 202 while the bank has yet to settle it."""
    return 202 if state in UNFINISHED else 201


def parse_older_than(raw: str | None, default: int = 60) -> int:
    if raw is None:
        return default
    seconds = whole_number(raw)
    if seconds is None or seconds > 10 * 365 * 86400:
        raise InvalidRequest("older_than must be a whole number of seconds", code="invalid_query")
    return seconds


def parse_stuck_state(raw: str | None) -> str:
    state = raw or "queued"
    if state not in UNFINISHED:
        raise InvalidRequest("state must be pending or queued", code="invalid_query")
    return state


def parse_list_limit(raw: str | None, default: int = 100, maximum: int = 1000) -> int:
    if raw is None:
        return default
    limit = whole_number(raw)
    if limit is None or not 1 <= limit <= maximum:
        raise InvalidRequest(f"limit must be a whole number from 1 to {maximum}",
                             code="invalid_limit")  # fmt: skip
    return limit
