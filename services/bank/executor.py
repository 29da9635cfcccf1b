"""The one function that moves money at the bank, idempotently.

``execute`` is called by the HTTP handler and by the request-stream
consumer alike. Its guarantees:

* **Once.** The ``transactions.transfer_id`` UNIQUE constraint admits one
  row per transfer. The row is inserted first, in the same database
  transaction as the movement, so a concurrent duplicate waits on it and
  then replays the committed outcome; a crash before commit leaves nothing.
* **First outcome forever.** A repeat returns the stored row, whatever has
  changed since (a rejected transfer stays rejected).
* **Never overdrawn.** Debits are conditional updates, with a CHECK
  constraint behind them.
* **Rejected, not errored.** Unknown or closed account, currency mismatch
  and insufficient funds are outcomes, recorded like successes.

``execute_many`` (the request-stream consumer's) keeps every one of these
for each request of a batch, in one database transaction: the claims, the
locks (same order as here), the decisions in request order on the locked
balances (:func:`batch.plan_batch`), then set-based writes of the net
movements. A repeat inside the batch replays the first.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg

from vellet.bank import batch_store, store
from vellet.bank.batch import plan_batch
from vellet.bank.domain import SETTLEMENT_SHORT, Outcome, TransferRequest, rejection_reason
from vellet.common.db import Conn, Pool, retrying
from vellet.common.errors import Conflict

log = logging.getLogger(__name__)

_RETRIES = 5
#: One request's fate in a batch: its outcome and whether it was a replay, or
#: the error it met alone too (a transfer id reused for another transfer).
Executed = tuple[Outcome, bool] | Exception


async def execute(pool: Pool, req: TransferRequest) -> tuple[Outcome, bool]:
    """Execute ``req`` once; return its outcome and whether it was a replay."""
    for attempt in range(_RETRIES):
        try:
            return await _execute_once(pool, req)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _execute_once(pool: Pool, req: TransferRequest) -> tuple[Outcome, bool]:
    async with pool.acquire() as conn, conn.transaction():
        known = await store.find_transaction(conn, req.transfer_id)
        if known is None:
            bank_txn_id = uuid.uuid4()
            if await store.claim_transaction(conn, bank_txn_id, req):
                reason = await _move(conn, req)
                if reason is not None:
                    await store.mark_rejected(conn, req.transfer_id, reason)
                if reason is None:
                    return Outcome(req, bank_txn_id, "succeeded", None), False
                return Outcome(req, bank_txn_id, "rejected", reason), False
            # Lost the race: the winner has committed, and this statement sees it.
            known = await store.find_transaction(conn, req.transfer_id)
            assert known is not None
    return _replay(known, req), True


def _replay(known: Outcome, req: TransferRequest) -> Outcome:
    if known.request != req:
        raise Conflict(
            "this transfer_id was already used for a different transfer",
            code="transfer_id_reused",
        )
    return known


async def _move(conn: Conn, req: TransferRequest) -> str | None:
    """Move the money inside a savepoint; return why not, or None when moved."""
    savepoint = conn.transaction()
    await savepoint.start()
    reason = await _try_move(conn, req)
    if reason is None:
        await savepoint.commit()
    else:
        await savepoint.rollback()
    return reason


async def _try_move(conn: Conn, req: TransferRequest) -> str | None:
    if req.direction == "to_wallet":
        if not await store.debit_customer(conn, req):
            return rejection_reason(await store.account_state(conn, req.account_number), req)
        await store.credit_settlement(conn, req.currency, req.amount)
        return None
    if not await store.credit_customer(conn, req):
        return rejection_reason(await store.account_state(conn, req.account_number), req)
    if not await store.debit_settlement(conn, req.currency, req.amount):
        return SETTLEMENT_SHORT  # only a wallet bug could withdraw more than it deposited
    return None


async def execute_many(pool: Pool, reqs: list[TransferRequest]) -> list[Executed]:
    """Execute ``reqs`` in one transaction; one result per request, in order.

    A database error other than a lost race (a CHECK the plan should have
    made impossible, say) fails the batch as a whole, with nothing written;
    each request is then executed alone, so only the one that cannot be
    written fails, by itself, as it would have without batching.
    """
    try:
        return await retrying(lambda: _execute_batch(pool, reqs))
    except asyncpg.PostgresError as err:
        log.warning("a batch of %d failed (%s); executing each alone", len(reqs), err)
    return [await _alone(pool, req) for req in reqs]


async def _alone(pool: Pool, req: TransferRequest) -> Executed:
    try:
        return await execute(pool, req)
    except Exception as err:  # noqa: BLE001 - this request's own failure, as without a batch
        return err


async def _execute_batch(pool: Pool, reqs: list[TransferRequest]) -> list[Executed]:
    firsts: dict[uuid.UUID, TransferRequest] = {}
    first_at: dict[uuid.UUID, int] = {}
    for i, req in enumerate(reqs):
        firsts.setdefault(req.transfer_id, req)
        first_at.setdefault(req.transfer_id, i)
    txn_ids = {tid: uuid.uuid4() for tid in firsts}
    async with pool.acquire() as conn, conn.transaction():
        claimed = await batch_store.claim_many(
            conn, [(txn_ids[tid], firsts[tid]) for tid in sorted(firsts)]
        )
        known = await batch_store.find_many(conn, [t for t in firsts if t not in claimed])
        moving = [req for tid, req in firsts.items() if tid in claimed]  # request order
        if moving:
            new = await _move_many(conn, moving, txn_ids)
            known |= new
    results: list[Executed] = []
    for i, req in enumerate(reqs):
        outcome = known[req.transfer_id]
        fresh = req.transfer_id in claimed and first_at[req.transfer_id] == i
        try:
            results.append((outcome, False) if fresh else (_replay(outcome, req), True))
        except Conflict as err:
            results.append(err)
    return results


async def _move_many(conn: Conn, moving: list[TransferRequest],
                     txn_ids: dict[uuid.UUID, uuid.UUID]) -> dict[uuid.UUID, Outcome]:  # fmt: skip
    accounts = await batch_store.lock_accounts(conn, list({r.account_number for r in moving}))
    settlement = await batch_store.lock_settlement(conn, list({r.currency for r in moving}))
    plan = plan_batch(moving, accounts, settlement)
    await batch_store.move(conn, plan.accounts, plan.settlement, settlement)
    rejected = {r.transfer_id: why for r, why in zip(moving, plan.reasons, strict=True) if why}
    await batch_store.mark_rejected_many(conn, rejected)
    return {
        req.transfer_id: Outcome(req, txn_ids[req.transfer_id],
                                 "rejected" if why else "succeeded", why)
        for req, why in zip(moving, plan.reasons, strict=True)
    }  # fmt: skip
