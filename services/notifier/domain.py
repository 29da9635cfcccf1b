"""What a transfer event means to each of its parties: pure, no I/O.

The wallet's event (:mod:`vellet.common.events`) is untrusted input as far as
the notifier is concerned: it is validated here once, and everything after
works with the frozen :class:`Event`. A malformed event can never become
valid by retrying, so the worker dead-letters it at once instead of burning
deliveries on it.

Each party gets its own mail, keyed by :attr:`Party.key` (role and account):
that key, with the event id, is what the delivery ledger records, so "one
e-mail per party per event" is enforced per key, not per address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vellet.common.errors import InvalidRequest
from vellet.common.money import format_amount, parse_amount

KINDS: Final = ("p2p", "deposit", "withdrawal")
STATES: Final = ("posted", "voided", "failed")
ROLES: Final = ("sender", "recipient", "owner")

# Ids end up in Redis keys and in Message-ID headers: keep them boring.
_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_BALANCE_RE: Final = re.compile(r"^-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,10})?$")
# Control characters (C0, DEL, C1) and Unicode line/paragraph separators.
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES_RE: Final = re.compile(r"\s+")

MAX_NAME: Final = 100
MAX_NOTE: Final = 500
MAX_REASON: Final = 300


class MalformedEvent(ValueError):
    """The payload is not a transfer event this notifier can understand."""


@dataclass(frozen=True)
class Party:
    role: str
    account_number: str
    name: str
    email: str
    available_balance: str | None

    @property
    def key(self) -> str:
        return f"{self.role}:{self.account_number}"


@dataclass(frozen=True)
class Event:
    event_id: str
    transfer_id: str
    kind: str
    state: str
    amount: str
    currency: str
    note: str | None
    failure_reason: str | None
    occurred_at: str
    parties: tuple[Party, ...]

    def counterparty(self, party: Party) -> Party | None:
        """The other side of a P2P transfer; None for bank transfers."""
        wanted = {"sender": "recipient", "recipient": "sender"}.get(party.role)
        return next((p for p in self.parties if p.role == wanted), None)


def one_line(value: str, limit: int) -> str:
    """Collapse control characters and runs of white space into one space.

    Every user-supplied string passes through here before it reaches a
    header or a body, so a name or note holding "\\r\\nBcc: x" stays text.
    """
    text = _SPACES_RE.sub(" ", _CONTROL_RE.sub(" ", value)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"{name} must be a non-empty string")
    return value


def _optional(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{name} must be a string or null")
    return one_line(value, limit) or None


def _ident(data: Mapping[str, Any], name: str) -> str:
    value = _text(data, name)
    if not _ID_RE.fullmatch(value):
        raise MalformedEvent(f"{name} must be 1-128 letters, digits, '.', '_' or '-'")
    return value


def _choice(data: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        raise MalformedEvent(f"{name} must be one of {', '.join(choices)}")
    return str(value)


def _party(raw: object, currency: str) -> Party:
    if not isinstance(raw, Mapping):
        raise MalformedEvent("every party must be an object")
    balance = raw.get("available_balance")
    if not (isinstance(balance, str) and _BALANCE_RE.fullmatch(balance)):
        balance = None  # unknown or unreadable: the mail simply leaves it out
    email = raw.get("email")
    name = raw.get("name")
    return Party(
        role=_choice(raw, "role", ROLES),
        account_number=_ident(raw, "account_number"),
        name=one_line(name if isinstance(name, str) else "", MAX_NAME),
        # Validated per party when the mail is composed: one bad address
        # dead-letters that party's mail, not the whole event.
        email=email.strip() if isinstance(email, str) else "",
        available_balance=balance,
    )


def parse_event(data: Mapping[str, Any]) -> Event:
    """Validate a decoded payload; raise :class:`MalformedEvent` with the reason."""
    currency = _text(data, "currency")
    try:
        amount = format_amount(parse_amount(data.get("amount"), currency), currency)
    except InvalidRequest as err:
        raise MalformedEvent(f"amount: {err.detail}") from None
    raw_parties = data.get("parties")
    if not isinstance(raw_parties, list) or not 1 <= len(raw_parties) <= 10:
        raise MalformedEvent("parties must be a list of 1 to 10 parties")
    parties = tuple(_party(raw, currency) for raw in raw_parties)
    if len({p.key for p in parties}) != len(parties):
        raise MalformedEvent("parties must not repeat a role and account")
    return Event(
        event_id=_ident(data, "event_id"),
        transfer_id=_ident(data, "transfer_id"),
        kind=_choice(data, "kind", KINDS),
        state=_choice(data, "state", STATES),
        amount=amount,
        currency=currency,
        note=_optional(data, "note", MAX_NOTE),
        failure_reason=_optional(data, "failure_reason", MAX_REASON),
        occurred_at=_text(data, "occurred_at"),
        parties=parties,
    )


def situation(event: Event, party: Party) -> str:
    """Which sentence this party reads; the templates word each one."""
    if event.kind == "p2p":
        if party.role == "sender":
            return "p2p_sent" if event.state == "posted" else "p2p_failed_sender"
        if party.role == "recipient":
            return "p2p_received" if event.state == "posted" else "p2p_failed_recipient"
        return "other"
    if party.role != "owner":
        return "other"
    return f"{event.kind}_{event.state}"


def mail_context(event: Event, party: Party) -> dict[str, Any]:
    """Everything a template may show, already cleaned of control characters."""
    other = event.counterparty(party)
    balance = party.available_balance
    return {
        "situation": situation(event, party),
        "kind": event.kind,
        "state": event.state,
        "role": party.role,
        "money": f"{event.amount} {event.currency}",
        "recipient_name": party.name or party.account_number,
        "account_number": party.account_number,
        "counterparty_name": (other.name or other.account_number) if other else None,
        "counterparty_account": other.account_number if other else None,
        "note": event.note,
        "failure_reason": event.failure_reason,
        "transfer_id": event.transfer_id,
        "balance": f"{balance} {event.currency}" if balance is not None else None,
        "occurred_at": event.occurred_at,
    }


def backoff_ms(failures: int, base_ms: int, max_ms: int, jitter: float) -> int:
    """Delay before the next try after ``failures`` consecutive failures.

    Exponential, capped, with "equal jitter" (``jitter`` in [0, 1) drawn by
    the caller) so replicas that failed together do not retry in lockstep.
    """
    ceiling = min(max_ms, base_ms * 2 ** max(0, min(failures - 1, 30)))
    return int(ceiling / 2 + ceiling / 2 * jitter)
