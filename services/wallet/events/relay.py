"""The outbox relay: publishes committed transfer events to Redis.

The event row commits in the same transaction as the transfer, so it
exists if and only if the money moved. The relay then claims unpublished
rows (``FOR UPDATE SKIP LOCKED``: replicas share the work without sending a
row twice at once), XADDs them in one pipelined batch and deletes them
in the same transaction. A crash after XADD and before COMMIT
sends that batch again: delivery is at-least-once and the notifier
de-duplicates on ``event_id``. Every event is signed with the wallet's key
(the notifier trusts no other). Requests wake the relay right after their
commit; a timer sweeps whatever a crash or another replica left behind.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from vellet.common import streams
from vellet.common.db import Pool
from vellet.common.keys import PrivateKey
from vellet.common.relay import Relay
from vellet.wallet.events import store
from vellet.wallet.events.payload import transfer_event

BATCH = 200


class Counts(Protocol):
    """Where the relay counts what it published: a Prometheus counter, or the
    shared integer a relay process reports through (``events.process``)."""

    def inc(self, amount: float = 1) -> None: ...


class OutboxRelay(Relay):
    def __init__(
        self,
        pool: Pool,
        redis: streams.Redis,
        interval: float,
        published: Counts,
        signer: PrivateKey,
        linger: float = 0.2,
    ) -> None:
        super().__init__("outbox relay", interval)
        # A fraction of a second of e-mail latency buys far fewer round trips
        # and far less CPU per event under load (README, P2P benchmark).
        self.linger = linger
        self._pool = pool
        self._redis = redis
        self._published = published
        self._signer = signer

    async def drain(self) -> int:
        """Publish everything unpublished; return how many events went out."""
        total = 0
        while True:
            sent = await self.publish_batch()
            total += sent
            if sent < BATCH:
                return total

    async def publish_batch(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await store.claim_outbox(conn, BATCH)
            if not rows:
                return 0
            events = [transfer_event(row) for row in rows]
            await streams.publish_many(self._redis, streams.TRANSFER_EVENTS, events, self._signer)
            await store.forget_published(conn, [row["id"] for row in rows])
        self._published.inc(len(rows))
        return len(rows)


class Waker(Protocol):
    """What a handler needs of the relay, wherever it runs: a nudge after a commit."""

    def wake(self) -> None: ...


#: The in-line :class:`OutboxRelay`, or the handle on its child process.
RELAY = web.AppKey("wallet_outbox_relay", Waker)
