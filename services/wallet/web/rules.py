"""What the dashboard decides without I/O: headers, views, who hears an event.

Pure: no database, HTTP or Redis. The live channel's scoping rule lives here
(:func:`audience`) so that it can be read, and tested, in one place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

#: No inline script or style, no third-party origin, no framing, no plugins.
#: ``connect-src 'self'`` covers the page's own ws:// and wss:// (CSP 3).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Sent on every answer of the wallet's public port (pages, static files, the API).
SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Only HTML answers carry the CSP (an API answer is never rendered).
HTML_ONLY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Pages show balances: no shared cache, no back-button copy after logout.
    "Cache-Control": "no-store",
}

#: Close codes of the live channel (4000-4999 are the application's own).
CLOSE_LOGGED_OUT: Final = 4000
CLOSE_EXPIRED: Final = 4001
CLOSE_TOO_SLOW: Final = 4002
CLOSE_GOING_AWAY: Final = 1001  # the replica stops: reconnect
CLOSE_POLICY: Final = 1008  # the client sent something: nothing is subscribable

LATEST: Final = 10
PAGE: Final = 20

_KIND_LABELS: Final = {"p2p": "Payment", "deposit": "Deposit", "withdrawal": "Withdrawal"}
_STATE_LABELS: Final = {
    "pending": "Pending",
    "queued": "Queued (waiting for the bank)",
    "posted": "Posted",
    "voided": "Voided",
    "failed": "Failed",
}

#: The bank's reasons for refusing a deposit or withdrawal, in words.
_FAILURE_REASONS: Final = {
    "insufficient_funds": "Your bank account does not have enough money for this deposit.",
    "settlement_insufficient": "The bank cannot pay this withdrawal out right now; "
    "the money stayed in your wallet.",
    "account_closed": "Your bank account is closed.",
    "unknown_account": "The bank does not know your account.",
    "currency_mismatch": "Your bank account holds a different currency.",
}


def failure_text(reason: str | None) -> str | None:
    if reason is None:
        return None
    return _FAILURE_REASONS.get(reason, f"The bank refused it ({reason}).")


def session_fingerprint(token: str) -> str:
    """Names one session (one login) without carrying it: logout closes its sockets by this."""
    return hashlib.sha256(token.encode()).hexdigest()


def audience(event: dict[str, Any]) -> frozenset[str]:
    """The account numbers whose sockets may hear of ``event``: its parties, nobody else."""
    numbers = set()
    for party in event.get("parties") or ():
        if isinstance(party, dict) and isinstance(party.get("account_number"), str):
            numbers.add(party["account_number"])
    return frozenset(numbers)


def live_message(event: dict[str, Any]) -> str | None:
    """What a socket is told: that one of its transfers changed, and nothing more.

    The event also carries both parties' names, e-mails and balances; none of
    that goes down the socket. The page re-reads what it shows through the
    same authenticated routes as a reload would, so the channel can never
    show more than the session may read.
    """
    transfer_id, state = event.get("transfer_id"), event.get("state")
    if not isinstance(transfer_id, str) or not isinstance(state, str):
        return None
    return json.dumps({"type": "transfer", "transfer_id": transfer_id, "state": state})


@dataclass(frozen=True)
class TransferView:
    """One transfer as the logged-in user reads it."""

    id: str
    kind: str
    state: str
    kind_label: str
    state_label: str
    incoming: bool
    amount: str
    signed_amount: str
    currency: str
    counterparty: str | None
    from_label: str
    to_label: str
    note: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str

    @property
    def title(self) -> str:
        if self.kind == "p2p":
            return f"From {self.counterparty}" if self.incoming else f"To {self.counterparty}"
        return "From your bank" if self.kind == "deposit" else "To your bank"


def transfer_view(transfer: dict[str, Any], account_number: str) -> TransferView:
    """``transfer`` is the API's JSON of a transfer (``wire.transfer_json``)."""
    kind = str(transfer["kind"])
    incoming = kind == "deposit" or (kind == "p2p" and transfer["to_account"] == account_number)
    other = transfer["from_account"] if incoming else transfer["to_account"]
    sign = "+" if incoming else "\u2212"
    return TransferView(
        id=transfer["id"],
        kind=kind,
        state=transfer["state"],
        kind_label=_KIND_LABELS.get(kind, kind),
        state_label=_STATE_LABELS.get(transfer["state"], transfer["state"]),
        incoming=incoming,
        amount=transfer["amount"],
        signed_amount=f"{sign}{transfer['amount']}",
        currency=transfer["currency"],
        counterparty=other if kind == "p2p" else None,
        from_label=_party(kind, "from", transfer["from_account"], account_number),
        to_label=_party(kind, "to", transfer["to_account"], account_number),
        note=transfer["note"],
        failure_reason=failure_text(transfer["failure_reason"]),
        created_at=transfer["created_at"][:19].replace("T", " ") + " UTC",
        updated_at=transfer["updated_at"][:19].replace("T", " ") + " UTC",
    )


def _party(kind: str, side: str, number: str | None, account_number: str) -> str:
    """Deposits and withdrawals name the user on both sides: say bank and wallet instead."""
    bank_side = "from" if kind == "deposit" else "to"
    if kind != "p2p":
        return f"your bank account {number}" if side == bank_side else "your wallet"
    return f"you ({number})" if number == account_number else str(number)
