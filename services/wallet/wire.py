"""The wire format every capability shares (pure: no I/O).

Account numbers, idempotency keys, notes, timestamps and a transfer's JSON
look the same whichever capability answers, so they are defined once here
and never re-spelled. Keeping the rendering pure matters for idempotency:
a replayed response must be byte-for-byte the first one, so it is rendered
once and stored.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from vellet.common import plaintext
from vellet.common.errors import InvalidRequest, Unprocessable
from vellet.common.money import format_amount

ACCOUNT_NUMBER_RE: Final = re.compile(r"^[0-9]{6,20}$")
# Printable ASCII without spaces: what clients put in keys (UUIDs, ULIDs...).
IDEMPOTENCY_KEY_RE: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
NOTE_MAX: Final = 140


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


def encodable(text: str) -> bool:
    """JSON allows lone surrogates ("\\ud800"); UTF-8, PostgreSQL and argon2 do not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def no_unknown_fields(body: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)[:200]}")


def parse_note(note: object) -> str | None:
    """The optional free-text note of any transfer (shown to both parties)."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise InvalidRequest("note must be a string")
    if len(note) > NOTE_MAX:
        raise InvalidRequest(f"note must be at most {NOTE_MAX} characters")
    if not encodable(note):
        raise InvalidRequest("note must be text without lone surrogates")
    # The other party reads it, in the dashboard and in e-mail: no bidi
    # overrides, zero-width or control characters, no newlines (``plaintext``).
    refused = plaintext.refusal("note", note)
    if refused is not None:
        raise Unprocessable(refused, code="invalid_note")
    return note


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


def transfer_id(raw: str) -> uuid.UUID | None:
    """A path id; None (so: 404) for anything that is not a UUID."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
