"""Outbox rows -> :class:`vellet.common.events.TransferEvent` payloads (pure).

The parties' names and e-mails come from the users table (the bank's
words at sign-up) and their available balances from the moment the
transfer committed, stored in the outbox row, so a late relay still tells
each party what they had right after the transfer.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from vellet.common.events import Party, TransferEvent
from vellet.common.money import format_amount
from vellet.wallet.wire import timestamp

Role = Literal["sender", "recipient", "owner"]


def _party(role: Role, row: Any, side: str, available: dict[str, int]) -> Party:
    minor = available.get(role)
    return {
        "role": role,
        "account_number": row[f"{side}_number"],
        "name": row[f"{side}_name"],
        "email": row[f"{side}_email"],
        "available_balance": None if minor is None else format_amount(minor, row["currency"]),
    }


def transfer_event(row: Any) -> TransferEvent:
    """Build the event of one claimed outbox row (see ``store.claim_outbox``)."""
    raw = row["available"]
    available: dict[str, int] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    kind = row["kind"]
    if kind == "p2p":
        parties = [
            _party("sender", row, "from", available),
            _party("recipient", row, "to", available),
        ]
    elif kind == "deposit":
        parties = [_party("owner", row, "to", available)]
    else:
        parties = [_party("owner", row, "from", available)]
    return {
        "event_id": str(row["event_id"]),
        "transfer_id": str(row["transfer_id"]),
        "kind": kind,
        "state": row["state"],
        "amount": format_amount(int(row["amount"]), row["currency"]),
        "currency": row["currency"],
        "note": row["note"],
        "failure_reason": row["failure_reason"],
        "occurred_at": timestamp(row["occurred_at"]),
        "parties": parties,
    }
