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

from vellet.common.db import Pool
from vellet.wallet import domain, flows, twophase, twophase_queue
from vellet.wallet.bank_client import BankNoAnswer, BankTransfers
from vellet.wallet.bank_outbox import BankRequestRelay
from vellet.wallet.breaker import Breaker
from vellet.wallet.flow_metrics import FlowMetrics
from vellet.wallet.settings import BankFlowSettings

log = logging.getLogger("vellet.wallet.bankflow")


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

    async def create(self, user_id: int, key: str, req: flows.BankTransferRequest,
                     expires_at: datetime | None) -> FlowAnswer:  # fmt: skip
        opened = await twophase.open_transfer(
            self.pool, user_id, key, req,
            transfer_id=uuid.uuid4(), expires_at=expires_at, grace=self.grace,
        )  # fmt: skip
        if opened.transfer is None:
            return FlowAnswer(opened.outcome, opened.status, opened.body)
        row = opened.transfer
        tid: uuid.UUID = row["id"]
        request = flows.bank_request(tid, row["from_account"], row["kind"], row["amount"],
                                     row["currency"])  # fmt: skip
        result = await self._direct(request, tid)
        applied = False
        if result is not None:
            try:
                await self.apply(result, "direct")
                applied = True
            except twophase.ResultMismatch:
                log.error("the bank's direct answer for %s describes another transfer", tid)  # noqa: TRY400
        if not applied:
            await twophase.mark_queued(self.pool, tid)
            self.relay.wake()
        stored = await twophase.stored_answer(self.pool, user_id, key, tid)
        if stored is None:  # the key expired meanwhile (a retention of hours): say what is
            current = await twophase_queue.transfer(self.pool, tid)
            assert current is not None
            state = current["state"]
            return FlowAnswer(state, flows.response_status(state),
                              json.dumps(domain.transfer_json(current)))  # fmt: skip
        status, body = stored
        return FlowAnswer(str(json.loads(body).get("state", status)), status, body)

    async def _direct(self, request: dict[str, str], tid: uuid.UUID) -> flows.BankResult | None:
        if not self.breaker.allow(self._clock()):
            self.metrics.direct_calls.labels("skipped").inc()
            return None
        try:
            data = await self.bank.execute(request)
            result = flows.parse_bank_result(data, tid)
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

    async def apply(self, result: flows.BankResult, path: str) -> twophase.Applied | None:
        """Post or void what ``result`` settles, once; count it and wake the event relay."""
        applied = await twophase.apply_result(self.pool, result)
        if applied is not None:
            self.metrics.finished.labels(applied.kind, applied.state, path).inc()
            self.metrics.settle_seconds.labels(applied.kind, applied.state).observe(applied.age)
            self._on_final()
        return applied

    async def redrive(self, transfer_id: uuid.UUID) -> bool:
        """Re-publish an unfinished transfer's request now (idempotent)."""
        found = await twophase_queue.redrive(self.pool, transfer_id)
        if found:
            self.metrics.redriven.inc()
            self.relay.wake()
        return found
