"""The bank request relay: committed requests -> ``vellet:bank:requests``.

The same transactional-outbox pattern as the event relay (``events.relay``): a
``bank_outbox`` row commits with the transfer, and this relay claims due
rows (``FOR UPDATE SKIP LOCKED``, so replicas share the work), XADDs them in
one pipelined round trip, then deletes the rows and marks the transfers
``queued`` in the same transaction. A crash between XADD and COMMIT sends
the batch again: harmless, the bank executes each transfer id once and the
wallet applies each outcome once. A row whose transfer is already final (a
re-drive that raced with its result) is dropped without being sent.

Each request is signed with the wallet's key when it is published, so a
re-drive (the reconciler writes the row again) is signed afresh.
"""

from __future__ import annotations

import logging
from typing import Final

import asyncpg

from vellet.common import streams
from vellet.common.db import Pool
from vellet.common.keys import PrivateKey
from vellet.common.relay import Relay
from vellet.wallet.banking import queue_store
from vellet.wallet.banking.metrics import FlowMetrics
from vellet.wallet.banking.rules import UNFINISHED, bank_request

log = logging.getLogger(__name__)

BATCH: Final = 200


class BankRequestRelay(Relay):
    def __init__(self, pool: Pool, redis: streams.Redis, interval: float,
                 metrics: FlowMetrics, signer: PrivateKey) -> None:  # fmt: skip
        super().__init__("bank request relay", interval)
        self._pool = pool
        self._redis = redis
        self._metrics = metrics
        self._signer = signer

    async def drain(self) -> int:
        """Publish every due request; return how many rows were handled."""
        total = 0
        while True:
            handled = await self.publish_batch()
            total += handled
            if handled < BATCH:
                return total

    async def publish_batch(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await queue_store.claim_due_requests(conn, BATCH)
            if not rows:
                return 0
            live = [r for r in rows if r["state"] in UNFINISHED]
            payloads = [_request(r) for r in live]
            if payloads:
                await streams.publish_many(self._redis, streams.BANK_REQUESTS, payloads,
                                           self._signer)  # fmt: skip
            await queue_store.published(conn, [r["transfer_id"] for r in rows])
        self._metrics.requests_published.inc(len(payloads))
        return len(rows)


def _request(row: asyncpg.Record) -> dict[str, str]:
    return bank_request(row["transfer_id"], row["from_account"], row["kind"], row["amount"],
                        row["currency"])  # fmt: skip
