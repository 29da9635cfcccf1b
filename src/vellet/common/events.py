"""The transfer event the wallet publishes and the notifier consumes.

One event per finished transfer (posted, voided or failed), on the
``vellet:events:transfers`` stream, as the JSON payload of one message.
``event_id`` is unique per event and is what the notifier de-duplicates on.
Each party carries what the notifier needs to write to them, so the
notifier never reads the wallet's database: the e-mail address and name
came from the bank at sign-up.

Example payload::

    {
      "event_id": "9b1c…",            # uuid, unique per event
      "transfer_id": "5f0e…",          # uuid
      "kind": "p2p",                   # p2p | deposit | withdrawal
      "state": "posted",               # posted | voided | failed
      "amount": "125.50",              # decimal string in the currency's exponent
      "currency": "INR",
      "note": "dinner",                # user-supplied, may be null; escape it!
      "failure_reason": null,          # set when voided/failed
      "occurred_at": "2026-11-23T10:00:00Z",
      "parties": [
        {"role": "sender", "account_number": "100000000001", "name": "Asha Rao",
         "email": "asha@example.test", "available_balance": "874.50"},
        {"role": "recipient", "account_number": "100000000002", "name": "Bo Chen",
         "email": "bo@example.test", "available_balance": "1125.50"}
      ]
    }

A deposit or withdrawal has one party with role ``owner``.
"""

from __future__ import annotations

from typing import Final, Literal, NotRequired, TypedDict

EVENT_VERSION: Final = 1


class Party(TypedDict):
    role: Literal["sender", "recipient", "owner"]
    account_number: str
    name: str
    email: str
    available_balance: NotRequired[str | None]


class TransferEvent(TypedDict):
    event_id: str
    transfer_id: str
    kind: Literal["p2p", "deposit", "withdrawal"]
    state: Literal["posted", "voided", "failed"]
    amount: str
    currency: str
    note: str | None
    failure_reason: str | None
    occurred_at: str
    parties: list[Party]
