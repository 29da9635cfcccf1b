"""Transfer events exactly as the wallet publishes them (vellet.common.events)."""

from __future__ import annotations

import uuid
from typing import Any

from vellet.common.events import Party, TransferEvent

ASHA = {"account_number": "100000000001", "name": "Asha Rao", "email": "asha@example.test"}
BO = {"account_number": "100000000002", "name": "Bo Chen", "email": "bo@example.test"}
ZOE = {"account_number": "100000000003", "name": "Zoë Ångström 李", "email": "zoe@example.test"}


def party(role: str, who: dict[str, str], balance: str | None = None) -> Party:
    data: dict[str, Any] = {"role": role, **who}
    if balance is not None:
        data["available_balance"] = balance
    return data  # type: ignore[return-value]


def p2p(
    sender: dict[str, str] = ASHA,
    recipient: dict[str, str] = BO,
    *,
    amount: str = "125.50",
    currency: str = "INR",
    note: str | None = "dinner",
    state: str = "posted",
    failure_reason: str | None = None,
    balances: tuple[str | None, str | None] = ("874.50", "1125.50"),
) -> TransferEvent:
    return {
        "event_id": str(uuid.uuid4()),
        "transfer_id": str(uuid.uuid4()),
        "kind": "p2p",
        "state": state,  # type: ignore[typeddict-item]
        "amount": amount,
        "currency": currency,
        "note": note,
        "failure_reason": failure_reason,
        "occurred_at": "2026-11-23T10:00:00Z",
        "parties": [
            party("sender", sender, balances[0]),
            party("recipient", recipient, balances[1]),
        ],
    }


def bank(
    kind: str,
    owner: dict[str, str] = ASHA,
    *,
    state: str = "posted",
    amount: str = "500.00",
    currency: str = "INR",
    failure_reason: str | None = None,
    balance: str | None = "1500.00",
) -> TransferEvent:
    return {
        "event_id": str(uuid.uuid4()),
        "transfer_id": str(uuid.uuid4()),
        "kind": kind,  # type: ignore[typeddict-item]
        "state": state,  # type: ignore[typeddict-item]
        "amount": amount,
        "currency": currency,
        "note": None,
        "failure_reason": failure_reason,
        "occurred_at": "2026-11-23T11:30:00Z",
        "parties": [party("owner", owner, balance)],
    }
