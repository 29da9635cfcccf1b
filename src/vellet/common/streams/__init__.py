"""Redis Streams as durable queues: consumer groups, claims, dead letters.

Why streams and not lists: a list pop hands a message to one consumer and
forgets it, so a consumer that dies mid-way loses it. With a consumer group
a message stays *pending* until it is acknowledged; a dead consumer's
pending messages are taken over with XAUTOCLAIM; and each message's delivery
count tells a poison message (one that fails every time) from a transient
failure. Handlers must therefore be idempotent: a message may be delivered
more than once, and is acknowledged only after its effect is durable.

One :class:`Consumer` loop:

1. on start, re-read this consumer's own pending entries (it may have died
   holding them under the same name);
2. claim entries idle longer than ``claim_idle_ms`` from anyone (XAUTOCLAIM);
3. read new entries (XREADGROUP ``>``), blocking up to ``block_ms``.

An entry delivered more than ``max_deliveries`` times is moved to
``<stream>:dead`` and acknowledged in one MULTI/EXEC, and counted.

Every message is signed by its producer (:func:`publish` takes the
producer's key) and verified by the :class:`Consumer` before its handler
runs; see ``_signing`` for what is signed and why there is no maximum age.
A message that fails verification, or that a handler refuses by raising
:class:`Refused`, is dead-lettered at once with a ``reason`` (one of
:data:`REASONS`) and counted in ``vellet_stream_messages_refused_total``.
"""

from __future__ import annotations

from vellet.common.streams._client import (
    Fields,
    Redis,
    connect,
    ensure_group,
    message,
    payload_of,
    publish,
    publish_many,
)
from vellet.common.streams._consumer import BatchHandler, Consumer, Handler, Outcome, parse_each
from vellet.common.streams._depth import StreamMetrics, refresh_depth
from vellet.common.streams._names import (
    BANK_REQUESTS,
    BANK_RESULTS,
    TRANSFER_EVENTS,
    dead_letter_stream,
)
from vellet.common.streams._signing import REASONS, Refused, sign, verify

__all__ = [
    "BANK_REQUESTS",
    "BANK_RESULTS",
    "REASONS",
    "TRANSFER_EVENTS",
    "BatchHandler",
    "Consumer",
    "Fields",
    "Handler",
    "Outcome",
    "Redis",
    "Refused",
    "StreamMetrics",
    "connect",
    "dead_letter_stream",
    "ensure_group",
    "message",
    "parse_each",
    "payload_of",
    "publish",
    "publish_many",
    "refresh_depth",
    "sign",
    "verify",
]
