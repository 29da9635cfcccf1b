"""What an attacker with Redis access can XADD, one message per trick.

Each trick is built from what such an attacker could really have: any
payload they like, a genuine signed message they read off a stream, and keys
that are not the producer's (their own, or another service's). Consumers
must refuse every one with the reason given here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vellet.common import keys, streams

Tricks = dict[str, tuple[str, dict[str, str]]]


def tricks(stream: str, producer: keys.PrivateKey, genuine_payload: Mapping[str, Any],
           wanted: Mapping[str, Any], other: keys.PrivateKey) -> Tricks:  # fmt: skip
    """Name -> (the reason a consumer must give, the fields to XADD on ``stream``).

    ``genuine_payload`` is a real message the producer signed (for a real
    transfer); ``wanted`` is what the attacker wants acted on instead;
    ``other`` is a real key of another service.
    """
    genuine = streams.message(producer, stream, genuine_payload)
    text = json.dumps(dict(wanted), sort_keys=True)
    elsewhere = next(s for s in (streams.BANK_REQUESTS, streams.BANK_RESULTS,
                                 streams.TRANSFER_EVENTS) if s != stream)  # fmt: skip
    return {
        "unsigned": ("unsigned", {"payload": text}),
        "signed by the attacker's own key": (
            "unknown_key", streams.message(keys.PrivateKey.generate(), stream, wanted)),
        "signed by another service's key": ("unknown_key", streams.message(other, stream, wanted)),
        "forged, claiming the producer's key id": (
            "bad_signature", streams.message(other, stream, wanted) | {"kid": producer.key_id}),
        "a genuine message altered": ("bad_signature", genuine | {"payload": text}),
        "a genuine message replayed for another transfer": ("bad_signature", genuine | {
            "payload": json.dumps(dict(genuine_payload, transfer_id=wanted["transfer_id"]),
                                  sort_keys=True)}),
        "the producer's message for another stream, replayed here": (
            "wrong_stream", streams.message(producer, elsewhere, wanted)),
    }  # fmt: skip


def without(payload: Mapping[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != field}


async def xadd_all(redis: streams.Redis, stream: str, messages: Tricks) -> dict[str, str]:
    """XADD each trick as is; message id -> the reason it must be refused with."""
    sent = {}
    for reason, fields in messages.values():
        sent[str(await redis.xadd(stream, fields))] = reason  # type: ignore[arg-type]
    return sent


async def dead_reasons(redis: streams.Redis, stream: str, ids: set[str]) -> dict[str, str]:
    """origin id -> reason, of the dead letters of ``ids`` found so far."""
    letters: Any = await redis.xrange(streams.dead_letter_stream(stream))
    return {f["origin_id"]: f.get("reason", "") for _, f in letters if f.get("origin_id") in ids}
