"""Identifiers for rows that are only ever appended: time-ordered UUIDs (version 7).

Transfers, their events and the bank's transactions are keyed by UUIDs in
B-tree indexes that grow with the ledger. A random (version 4) key lands on
a random leaf of an index of tens of millions of entries, so at that size
nearly every insert reads and dirties a page no recent insert touched. A
version 7 UUID (RFC 9562) starts with the Unix time in milliseconds: new
keys go to the right-hand edge of the index, the few pages the last inserts
already hold. 74 random bits remain, so an id is still not guessable, and
nothing in Vellet orders by id for meaning (history pages order by
``created_at`` first; lock order only needs *an* order).
"""

from __future__ import annotations

import secrets
import time
import uuid

_RAND_A_BITS = 12
_RAND_B_BITS = 62


def uuid7() -> uuid.UUID:
    """A new version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(_RAND_A_BITS)
    rand_b = secrets.randbits(_RAND_B_BITS)
    value = ((millis & 0xFFFF_FFFF_FFFF) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62)
    return uuid.UUID(int=value | rand_b)
