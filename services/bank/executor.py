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
"""

from __future__ import annotations

import uuid

import asyncpg

from vellet.bank import store
from vellet.bank.domain import SETTLEMENT_SHORT, Outcome, TransferRequest, rejection_reason
from vellet.common.db import Conn, Pool
from vellet.common.errors import Conflict

_RETRIES = 5


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
