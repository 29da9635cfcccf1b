"""Deposits and withdrawals: the direct path when the bank answers, the queue otherwise.

One request (public or internal API) runs:

1. ``open``: one transaction records the transfer ``pending`` (a withdrawal
   with its reservation), its bank request as a *deferred* outbox row, and
   its idempotency key ``in_flight``. From this COMMIT on, nothing can be
   lost: if this process dies now, the relay of any replica publishes the
   deferred row once it is due (``grace`` seconds, longer than a direct call
   may take).
2. ``direct``: unless the circuit breaker is open, ask the bank over HTTP
   (tight timeout). An answer is applied at once: posted, voided or failed,
   **201** with the final state.
3. ``queue``: no answer (down, slow, 5xx, breaker open): the outbox row is
   made due now, the transfer becomes ``queued``, **202**. A call that timed
   out may have executed at the bank anyway; that is fine, the bank is
   idempotent on the transfer id and replays its first outcome.

The answer is always the one stored under the idempotency key (whoever
finished the transfer stored it), so a retry with the same key replays it
byte for byte.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from vellet.common.db import Pool
from vellet.wallet import wire
from vellet.wallet.banking import batch_store, queue_store, rules, store
from vellet.wallet.banking.breaker import Breaker
from vellet.wallet.banking.client import BankNoAnswer, BankTransfers
from vellet.wallet.banking.metrics import FlowMetrics
from vellet.wallet.banking.relay import BankRequestRelay
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.settings import BankFlowSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowAnswer:
    outcome: str
    status: int
    body: str | None


class BankFlow:
    def __init__(self, pool: Pool, bank: BankTransfers, relay: BankRequestRelay,
                 settings: BankFlowSettings, metrics: FlowMetrics,
                 on_final: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.pool = pool
        self.bank = bank
        self.relay = relay
        self.settings = settings
        self.metrics = metrics
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_reset)
        self._on_final = on_final
        self._clock = clock
        #: How long a request stays deferred while its direct call may answer.
        self.grace = 2 * settings.transfer_timeout + 1.0

    async def create(self, user_id: int, key: str, req: rules.BankTransferRequest,
                     expires_at: datetime | None) -> FlowAnswer:  # fmt: skip
        opened = await store.open_transfer(
            self.pool, user_id, key, req,
            transfer_id=uuid.uuid4(), expires_at=expires_at, grace=self.grace,
        )  # fmt: skip
        if opened.transfer is None:
            return FlowAnswer(opened.outcome, opened.status, opened.body)
        row = opened.transfer
        tid: uuid.UUID = row["id"]
        request = rules.bank_request(tid, row["from_account"], row["kind"], row["amount"],
                                     row["currency"])  # fmt: skip
        result = await self._direct(request, tid)
        applied = False
        if result is not None:
            try:
                await self.apply(result, "direct")
                applied = True
            except store.ResultMismatch:
                log.error("the bank's direct answer for %s describes another transfer", tid)  # noqa: TRY400
        if not applied:
            await store.mark_queued(self.pool, tid)
            self.relay.wake()
        stored = await store.stored_answer(self.pool, user_id, key, tid)
        if stored is None:  # the key expired meanwhile (a retention of hours): say what is
            current = await ledger_store.transfer_by_id(self.pool, tid)
            assert current is not None
            state = current["state"]
            return FlowAnswer(state, rules.response_status(state),
                              json.dumps(wire.transfer_json(current)))  # fmt: skip
        status, body = stored
        return FlowAnswer(str(json.loads(body).get("state", status)), status, body)

    async def _direct(self, request: dict[str, str], tid: uuid.UUID) -> rules.BankResult | None:
        if not self.breaker.allow(self._clock()):
            self.metrics.direct_calls.labels("skipped").inc()
            return None
        try:
            data = await self.bank.execute(request)
            result = rules.parse_bank_result(data, tid)
        except (BankNoAnswer, ValueError) as err:
            self.breaker.failed(self._clock())
            self.metrics.direct_calls.labels("no_answer").inc()
            log.info("bank gave no answer for %s (%s); queueing it", tid, err)
            return None
        finally:
            self.metrics.show_breaker(self.breaker)
        self.breaker.succeeded()
        self.metrics.show_breaker(self.breaker)
        self.metrics.direct_calls.labels("answered").inc()
        return result

    async def apply(self, result: rules.BankResult, path: str) -> store.Applied | None:
        """Post or void what ``result`` settles, once; count it and wake the event relay."""
        applied = await store.apply_result(self.pool, result)
        if applied is not None:
            self.metrics.finished.labels(applied.kind, applied.state, path).inc()
            self.metrics.settle_seconds.labels(applied.kind, applied.state).observe(applied.age)
            self._on_final()
        return applied

    async def apply_many(self, results: list[rules.BankResult],
                         path: str) -> list[batch_store.Fate]:  # fmt: skip
        """:meth:`apply` for a batch, in one transaction: one fate per result, in order."""
        fates = await batch_store.apply_results(self.pool, results)
        applied = [fate for fate in fates if isinstance(fate, store.Applied)]
        for fate in applied:
            self.metrics.finished.labels(fate.kind, fate.state, path).inc()
            self.metrics.settle_seconds.labels(fate.kind, fate.state).observe(fate.age)
        if applied:
            self._on_final()
        return fates

    async def list_stuck(self, state: str, older_than: float, limit: int) -> list[Any]:
        """Transfers in ``state`` for longer than ``older_than`` seconds, oldest first."""
        return await queue_store.list_stuck(self.pool, state, older_than, limit)

    async def redrive(self, transfer_id: uuid.UUID) -> bool:
        """Re-publish an unfinished transfer's request now (idempotent)."""
        found = await queue_store.redrive(self.pool, transfer_id)
        if found:
            self.metrics.redriven.inc()
            self.relay.wake()
        return found


#: Deposits and withdrawals (two-phase, direct or queued); see ``BankFlow``.
FLOW = web.AppKey("wallet_bank_flow", BankFlow)
