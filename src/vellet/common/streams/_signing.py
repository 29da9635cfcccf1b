"""Signed stream messages: who wrote this, for which stream, and was it changed.

Why: a consumer group acts on whatever lands in its stream, and anything
that can reach Redis can XADD. Before, one forged ``{"status": "succeeded"}``
posted a deposit the bank never made, and one forged request made the bank
pay an outsider out of the settlement account.

What is signed: every field of the message except ``sig`` itself (so the
``payload`` with every field it holds, the signer's ``kid`` and the
``signed_at`` timestamp), together with the name of the stream it is meant
for, in one canonical encoding (JSON of ``["vellet-stream/1", stream,
sorted (field, value) pairs]``). A field added, removed or changed, a
message copied onto another stream, or a signature moved to another
message all fail verification. Each producer signs with its own Ed25519
key; each consumer holds only the public keys of the one producer it
expects (the bank: the wallet's; the wallet's result consumer: the bank's;
the notifier: the wallet's), so a key of the *wrong* service is refused too.

Why no maximum age: ``signed_at`` is signed and kept (dead letters and audits
read it), but it is not used to refuse old messages. Queued transfers
legitimately wait hours in a bank outage, and mail waits out a relay
outage; an age limit would dead-letter good work. Replaying a *genuine*
message is harmless without one, because every consumer is idempotent on
the ids the signature covers: the bank executes a transfer id once and
replays its first outcome, the wallet applies an outcome once (and checks
it against its own row), and the notifier mails each event id once (for as
long as its ledger keeps the event, 30 days by default). What a replay
cannot do is change a single field, or move a message to another stream,
without failing verification.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from vellet.common.keys import PrivateKey, PublicKey
from vellet.common.streams._names import BANK_REQUESTS, BANK_RESULTS, TRANSFER_EVENTS

#: The fields a signed message carries besides its own.
KID: Final = "kid"
SIGNED_AT: Final = "signed_at"
SIG: Final = "sig"
_DOMAIN: Final = "vellet-stream/1"
_KNOWN_STREAMS: Final = (BANK_REQUESTS, BANK_RESULTS, TRANSFER_EVENTS)

#: Why a consumer refuses a message (the ``reason`` of its dead letter and
#: the label of ``vellet_stream_messages_refused_total``).
REASONS: Final = (
    "unsigned",  # no signature at all
    "unknown_key",  # signed, but not by a key trusted for this stream's producer
    "bad_signature",  # the signature does not match: altered, or forged
    "wrong_stream",  # a genuine signature, made for another stream (a replay)
    "missing_field",  # a field the consumer needs is absent
    "malformed",  # a field is present but unusable
    "mismatch",  # a bank result that describes another movement than its transfer
)


class Refused(Exception):
    """A message that must never be acted on: dead-lettered at once, with ``reason``.

    Consumers raise it (from verification, or from a handler that finds the
    payload unusable or contradicting its own records); :class:`Consumer`
    moves the message to ``<stream>:dead``, counts it and acknowledges it.
    Unlike any other handler error it is not retried: it can never succeed.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _signed_bytes(stream: str, fields: Mapping[str, str]) -> bytes:
    pairs = sorted((str(k), str(v)) for k, v in fields.items() if k != SIG)
    return json.dumps([_DOMAIN, stream, pairs], separators=(",", ":")).encode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def sign(key: PrivateKey, stream: str, fields: Mapping[str, str]) -> dict[str, str]:
    """``fields`` plus ``kid``, ``signed_at`` and ``sig``, ready for XADD on ``stream``."""
    signed = {**fields, KID: key.key_id, SIGNED_AT: _now()}
    sig = key.sign(_signed_bytes(stream, signed))
    signed[SIG] = base64.urlsafe_b64encode(sig).decode().rstrip("=")
    return signed


def _decode_sig(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise Refused("malformed", "sig is not base64url") from None


def verify(stream: str, fields: Mapping[str, str], trusted: Sequence[PublicKey]) -> None:
    """Return if ``fields`` were signed for ``stream`` by one of ``trusted``; else Refused."""
    if SIG not in fields:
        raise Refused("unsigned")
    for name in (KID, SIGNED_AT):
        if name not in fields:
            raise Refused("missing_field", name)
    try:
        datetime.fromisoformat(fields[SIGNED_AT])
    except ValueError:
        raise Refused("malformed", "signed_at is not a timestamp") from None
    signature = _decode_sig(fields[SIG])
    # The kid is only a hint for which key to try: it is itself signed, and
    # a kid no trusted key has means no trusted key made the signature.
    key = next((k for k in trusted if k.key_id == fields[KID]), None)
    if key is None:
        raise Refused("unknown_key", f"kid {fields[KID][:40]!r}")
    if key.verifies(signature, _signed_bytes(stream, fields)):
        return
    # Only on the failure path: tell a replay from another stream apart
    # from an alteration, for whoever reads the dead letter.
    for other in _KNOWN_STREAMS:
        if other != stream and key.verifies(signature, _signed_bytes(other, fields)):
            raise Refused("wrong_stream", f"signed for {other}")
    raise Refused("bad_signature")
