"""Group commit for P2P transfers: transfers that arrive together post together.

Why: a P2P transfer's own writes are small; the round trip, the transaction
and its commit around them cost as much again (see migration 0004). So the
wallet posts P2P transfers in batches, one ledger call each, with no timer:
while ``concurrency`` batches run, new transfers queue, and when a batch
ends, everything queued (up to ``max_size``) goes into the next call. Alone,
a transfer is a batch of one and waits for nothing; under load, up to
``max_size`` transfers share one commit.

What a caller sees does not change: each transfer gets its own answer, after
the commit that made it durable.

Failures:

* A PostgreSQL error in a batch rolled the whole batch back, so each of its
  transfers is retried alone: one transfer that cannot be posted fails by
  itself and never takes the others with it. (Retrying is safe even if the
  batch did commit: each transfer keeps its key and id, so it is replayed.)
* An error that is about no transfer in particular (the connection lost,
  the server shutting down or out of resources, the pool exhausted) is every
  caller's error: retrying one by one would only fail slower. The API
  answers 503; a client's retry with the same Idempotency-Key then gets the
  stored answer if the batch committed, or posts the transfer now.
* A caller that goes away does not cancel the batch others share: batches
  run in their own tasks. ``close()`` waits for every queued transfer.
* Overload: past ``max_queue`` waiting transfers, a new one is refused at
  once (503, nothing done), so latency stays bounded and memory too.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Final

import asyncpg
from aiohttp import web

from vellet.common.db import Pool
from vellet.common.errors import Unavailable
from vellet.common.problems import DEPENDENCY_DOWN
from vellet.wallet.ledger import store
from vellet.wallet.settings import BatchSettings

_STOPPED: Final = "the wallet is shutting down; retry with the same Idempotency-Key"
_OVERLOADED: Final = "the wallet is overloaded; retry shortly with the same Idempotency-Key"
_Item = tuple[store.P2PJob, "asyncio.Future[store.Answer]"]


class P2PBatcher:
    def __init__(
        self,
        pool: Pool,
        settings: BatchSettings,
        observe: Callable[[int], None] = lambda size: None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._observe = observe
        self._queue: collections.deque[_Item] = collections.deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def post(self, job: store.P2PJob) -> store.Answer:
        """Queue one transfer and wait for its answer."""
        if self._closed:
            raise Unavailable(_STOPPED)
        if len(self._queue) >= self._settings.max_queue:
            raise Unavailable(_OVERLOADED)
        future: asyncio.Future[store.Answer] = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        if self._running < self._settings.concurrency:
            self._running += 1
            task = asyncio.create_task(self._drain(), name="wallet-p2p-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def close(self) -> None:
        """Take no more transfers; wait until every queued one is answered."""
        self._closed = True
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drain(self) -> None:
        try:
            while self._queue:
                size = min(len(self._queue), self._settings.max_size)
                batch = [self._queue.popleft() for _ in range(size)]
                self._observe(size)
                await self._post(batch)
        finally:
            self._running -= 1

    async def _post(self, batch: list[_Item]) -> None:
        try:
            answers = await store.p2p_batch(self._pool, [job for job, _ in batch])
        except asyncpg.PostgresError as err:
            # A dependency that is down says nothing about any one transfer:
            # retrying each alone would fail too.
            if len(batch) == 1 or isinstance(err, DEPENDENCY_DOWN):
                for _, future in batch:
                    _fail(future, err)
                return
            for item in batch:
                await self._post([item])
            return
        except asyncio.CancelledError:
            for _, future in batch:
                _fail(future, Unavailable(_STOPPED))
            raise
        except Exception as err:  # noqa: BLE001 - every caller must hear of it
            for _, future in batch:
                _fail(future, err)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():  # its caller may have gone away
                future.set_result(answer)


def _fail(future: asyncio.Future[store.Answer], err: BaseException) -> None:
    if not future.done():
        future.set_exception(err)


#: P2P group commit; see ``batcher``.
BATCHER = web.AppKey("wallet_p2p_batcher", P2PBatcher)
