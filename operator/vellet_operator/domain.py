"""What a Transfer's status should say: pure functions, no I/O, no kopf.

The handlers fetch facts (the Transfer's spec and status, the wallet's
answer, the bank's health, the clock) and ask this module what to write.
Keeping the decisions here means every phase and condition transition is
unit-tested without a cluster, a wallet or a bank.

Phases (the CRD's enum) follow the wallet's transfer states:

    wallet state   phase      final   Ready condition
    (none yet)     Pending    no      False, reason Pending
    pending        Accepted   no      False, reason Accepted
    queued         Queued     no      False, reason Queued
    posted         Posted     yes     True,  reason Posted
    voided         Voided     yes     True,  reason Voided
    failed         Failed     yes     True,  reason Failed
    (refused)      Failed     yes     True,  reason Failed -- the wallet said
                                      no (e.g. insufficient funds): nothing moved
    (never asked)  Denied     yes     True,  reason Denied -- fromAccount is not
                                      bound to the namespace (see ``bindings``)

When to ask again is decided in ``backoff``.

Conditions follow Kubernetes conventions: one per type, ``lastTransitionTime``
changes only when ``status`` does.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vellet.operator.conditions import condition, with_condition

#: spec.type -> the wallet's ``kind``.
KINDS: Final = {"P2P": "p2p", "Deposit": "deposit", "Withdrawal": "withdrawal"}
#: The wallet's transfer ``state`` -> status.phase.
PHASES: Final = {
    "pending": "Accepted",
    "queued": "Queued",
    "posted": "Posted",
    "voided": "Voided",
    "failed": "Failed",
}
FINAL_PHASES: Final = frozenset({"Posted", "Voided", "Failed", "Denied"})

ACCEPTED: Final = "Accepted"
BANK_AVAILABLE: Final = "BankAvailable"
READY: Final = "Ready"

_MESSAGES: Final = {
    "Pending": "Waiting to reach the wallet.",
    "Accepted": "The wallet recorded the transfer; waiting for the bank.",
    "Queued": "The bank was unavailable; the transfer waits in the bank queue.",
    "Posted": "The money moved.",
    "Voided": "The bank refused the transfer; nothing moved.",
    "Failed": "The transfer was refused; nothing moved.",
    "Denied": "The account is not bound to this namespace; the wallet was not asked.",
}


@dataclass(frozen=True)
class WalletTransfer:
    """The wallet's view of one transfer (API.md, "a transfer")."""

    id: str
    kind: str
    state: str
    amount: str
    currency: str
    from_account: str | None = None
    to_account: str | None = None
    failure_reason: str | None = None
    updated_at: str | None = None

    @property
    def phase(self) -> str:
        if self.state not in PHASES:
            raise ValueError(f"unknown wallet transfer state {self.state!r}")
        return PHASES[self.state]


def wallet_request(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /internal/v1/transfers`` for a Transfer's spec."""
    body: dict[str, Any] = {
        "kind": KINDS[spec["type"]],
        "amount": spec["amount"],
        "currency": spec["currency"],
        "from_account": spec["fromAccount"],
    }
    if spec["type"] == "P2P":
        body["to_account"] = spec["toAccount"]
    if spec.get("note"):
        body["note"] = spec["note"]
    return body


def condition_reason(code: str) -> str:
    """A wallet error code as a condition reason (``insufficient_funds``: ``InsufficientFunds``)."""
    words = [word for word in code.replace("-", "_").split("_") if word]
    return "".join(word[:1].upper() + word[1:] for word in words) or "Unknown"


def after_wallet_answer(
    previous: Mapping[str, Any],
    transfer: WalletTransfer,
    *,
    now: datetime.datetime,
    generation: int,
) -> dict[str, Any]:
    """The status once the wallet has a record of the transfer (created or re-read)."""
    phase = transfer.phase
    final = phase in FINAL_PHASES
    message = _MESSAGES[phase]
    if transfer.failure_reason:
        message = f"{message} {transfer.failure_reason}"
    conditions = with_condition(
        previous.get("conditions", []),
        type_=ACCEPTED,
        status=True,
        reason="Recorded",
        message=f"The wallet recorded transfer {transfer.id}.",
        now=now,
        generation=generation,
    )
    conditions = with_condition(
        conditions,
        type_=READY,
        status=final,
        reason=phase,
        message=message,
        now=now,
        generation=generation,
    )
    if final and transfer.kind != "p2p" and condition(previous, BANK_AVAILABLE) is not None:
        # A settled deposit or withdrawal is the bank's own answer: it is back.
        conditions = with_condition(
            conditions,
            type_=BANK_AVAILABLE,
            status=True,
            reason="BankAnswered",
            message="The bank settled the transfer.",
            now=now,
            generation=generation,
        )
    return {
        "phase": phase,
        "transferId": transfer.id,
        "observedGeneration": generation,
        "message": message[:1024],
        "conditions": conditions,
    }


def after_refusal(
    previous: Mapping[str, Any],
    code: str,
    detail: str,
    *,
    now: datetime.datetime,
    generation: int,
) -> dict[str, Any]:
    """The status when the wallet refused the transfer for good: Failed, never retried."""
    message = f"The wallet refused the transfer: {detail}"
    conditions = with_condition(
        previous.get("conditions", []),
        type_=ACCEPTED,
        status=False,
        reason=condition_reason(code),
        message=detail,
        now=now,
        generation=generation,
    )
    conditions = with_condition(
        conditions,
        type_=READY,
        status=True,
        reason="Failed",
        message=message,
        now=now,
        generation=generation,
    )
    return {
        "phase": "Failed",
        "observedGeneration": generation,
        "message": message[:1024],
        "lastError": f"{code}: {detail}"[:1024],
        "conditions": conditions,
    }


def after_temporary_error(
    previous: Mapping[str, Any], error: str, *, attempts: int, generation: int
) -> dict[str, Any]:
    """The status while a retryable problem lasts: same phase (Pending if none), error noted."""
    phase = previous.get("phase") or "Pending"
    return {
        "phase": phase,
        "observedGeneration": generation,
        "attempts": attempts,
        "message": f"Will retry: {error}"[:1024],
        "lastError": error[:1024],
    }


def bank_availability(
    previous: Mapping[str, Any], available: bool, *, now: datetime.datetime, generation: int
) -> dict[str, Any]:
    """The status after a bank health check made for this transfer."""
    if available:
        why, message = "HealthCheckPassed", "The bank answered its health check."
    else:
        why, message = "HealthCheckFailed", "The bank is not answering; re-driving later."
    conditions = with_condition(
        previous.get("conditions", []),
        type_=BANK_AVAILABLE,
        status=available,
        reason=why,
        message=message,
        now=now,
        generation=generation,
    )
    return {"conditions": conditions}


def is_final(status: Mapping[str, Any]) -> bool:
    return status.get("phase") in FINAL_PHASES


def is_stuck(transfer: WalletTransfer, *, now: datetime.datetime, threshold: float) -> bool:
    """Queued for at least ``threshold`` seconds (since the wallet last changed it)."""
    if transfer.state != "queued" or not transfer.updated_at:
        return False
    since = datetime.datetime.fromisoformat(transfer.updated_at.replace("Z", "+00:00"))
    return (now - since).total_seconds() >= threshold


def transition_event(old_phase: str | None, new_phase: str) -> tuple[str, str, str] | None:
    """The Kubernetes Event (type, reason, message) a phase change deserves; None if none."""
    if old_phase == new_phase:
        return None
    kind = "Warning" if new_phase in ("Voided", "Failed", "Denied") else "Normal"
    return kind, new_phase, _MESSAGES[new_phase]


def bank_event(
    previous: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """The Event a change of the BankAvailable condition deserves; None if it did not change."""
    old, new = condition(previous, BANK_AVAILABLE), condition(current, BANK_AVAILABLE)
    if new is None or (old is not None and old.get("status") == new.get("status")):
        return None
    if new.get("status") == "True":
        if old is None:
            return None  # nothing to report: the bank was never missed
        return "Normal", "BankAvailable", "The bank answers again."
    return "Warning", "BankUnavailable", str(new.get("message", ""))


def error_event(previous: Mapping[str, Any], error: str) -> tuple[str, str, str] | None:
    """A Warning for a new retryable problem; the same problem again is not news."""
    if previous.get("lastError") == error[:1024]:
        return None
    return "Warning", "Retrying", f"Will retry: {error}"[:1024]


def after_redrive(
    previous: Mapping[str, Any], transfer_id: str, *, attempts: int
) -> dict[str, Any]:
    """The status once a stuck transfer was handed to the bank queue again."""
    message = f"Re-driven to the bank after being stuck in the queue (attempt {attempts})."
    return {"attempts": attempts, "message": message, "transferId": transfer_id}
