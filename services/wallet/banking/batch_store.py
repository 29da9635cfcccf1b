"""SQL of many bank outcomes applied in one transaction (the result stream's batches).

SQL only. The same rules as ``store.apply_result`` for each outcome, with
set-based statements: the same conditional UPDATE finishes a transfer only
from ``pending``/``queued`` and only if the bank describes the transfer's
own movement; the same lock order (``bank_outbox``, ``transfers``, user
ledger accounts in id order -- as P2P takes them -- and the settlement
account last); the same entries, event (with the balance right after *that*
transfer, as if applied one at a time) and stored answer for each.

An outcome that finishes nothing is explained as the single path explains
it: unknown transfer, a mismatch, or already final (a duplicate: nothing
to do). A mismatch or an unknown transfer rolls the batch back and applies
it again without them, so that, as alone, such an outcome changes nothing
at all (its transfer keeps its request outbox row).
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Final

import asyncpg

from vellet.common.db import Conn, Pool, retrying
from vellet.wallet.banking.rules import (
    BankResult,
    Finish,
    available_after_each,
    net_by_account,
)
from vellet.wallet.banking.store import (
    UNFINISHED_SQL,
    Applied,
    ResultMismatch,
    UnknownTransfer,
    apply_result,
    settle_keys,
)
from vellet.wallet.database import TRANSFER_COLUMNS

log = logging.getLogger(__name__)

#: One outcome's fate: Applied (it finished its transfer), None (already
#: final), or ResultMismatch / UnknownTransfer (never applied).
Fate = Applied | ResultMismatch | UnknownTransfer | None

#: The outcomes' transfers are locked by primary key first (``locked``, in id
#: order) and judged on that locked copy, never found through their state:
#: the planner's idea of how many transfers are unfinished is stale exactly
#: after a bank outage (20,000 queued, statistics from before it), and with
#: ``state IN (...)`` in the UPDATE's own WHERE it scanned every unfinished
#: transfer once per outcome: 0.3-1 s per batch of 200 in ``vellet bench drain``.
FINISH_MANY_SQL: Final = f"""
WITH locked AS MATERIALIZED (
    SELECT id, kind, state, amount, currency, from_account FROM transfers
    WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
), finishing AS MATERIALIZED (
    SELECT r.*, l.kind AS lkind
    FROM unnest($1::uuid[], $2::bool[], $3::text[], $4::uuid[], $5::bigint[], $6::text[],
                $7::text[], $8::text[]) AS r (rid, ok, why, txn, ramount, rcurrency, raccount, rdir)
    JOIN locked l ON l.id = r.rid
    WHERE l.state IN {UNFINISHED_SQL} AND l.kind IN ('deposit', 'withdrawal')
      AND l.amount = r.ramount AND l.currency = r.rcurrency AND l.from_account = r.raccount
      AND l.kind = CASE r.rdir WHEN 'to_wallet' THEN 'deposit'
                               WHEN 'from_wallet' THEN 'withdrawal' END
)
UPDATE transfers SET
    state = CASE WHEN f.ok THEN 'posted' WHEN f.lkind = 'withdrawal' THEN 'voided'
                 ELSE 'failed' END,
    failure_reason = f.why, bank_txn_id = f.txn, updated_at = now(), finished_at = now()
FROM finishing f WHERE id = f.rid
RETURNING {TRANSFER_COLUMNS}, debit_account_id, credit_account_id,
          extract(epoch FROM clock_timestamp() - created_at)::float8 AS age
"""  # noqa: S608 - constants only


class _NotApplicable(Exception):
    """Some outcomes of the batch must change nothing: roll back, apply the rest."""

    def __init__(self, fates: dict[uuid.UUID, Fate]) -> None:
        super().__init__(f"{len(fates)} outcome(s) not applicable")
        self.fates = fates


async def apply_results(pool: Pool, results: Sequence[BankResult]) -> list[Fate]:
    """Apply ``results`` (in one transaction where possible); one fate each, in order.

    A transfer named twice: the first outcome is applied with the batch and
    each later one alone afterwards (already final then, unless the first
    was refused).
    """
    firsts: dict[uuid.UUID, int] = {}
    for i, result in enumerate(results):
        firsts.setdefault(result.transfer_id, i)
    refused: dict[uuid.UUID, Fate] = {}
    batch = [results[i] for i in firsts.values()]
    while True:
        todo = [r for r in batch if r.transfer_id not in refused]
        try:
            fates = await retrying(functools.partial(_apply_once, pool, todo)) if todo else {}
            break
        except _NotApplicable as err:
            refused |= err.fates
    fates |= refused
    out: list[Fate] = []
    for i, result in enumerate(results):
        if firsts[result.transfer_id] == i:
            out.append(fates[result.transfer_id])
            continue
        try:
            out.append(await apply_result(pool, result))
        except (ResultMismatch, UnknownTransfer) as err:
            out.append(err)
    return out


async def _apply_once(pool: Pool, results: list[BankResult]) -> dict[uuid.UUID, Fate]:
    async with pool.acquire() as conn, conn.transaction():
        ids = sorted(r.transfer_id for r in results)
        await conn.execute("DELETE FROM bank_outbox WHERE transfer_id = ANY($1::uuid[])", ids)
        # Any order: FINISH_MANY_SQL locks the transfers in id order itself.
        rows = await conn.fetch(
            FINISH_MANY_SQL,
            [r.transfer_id for r in results], [r.succeeded for r in results],
            [r.failure_reason() for r in results], [r.bank_txn_id for r in results],
            [r.amount for r in results], [r.currency for r in results],
            [r.account_number for r in results], [r.direction for r in results],
        )  # fmt: skip
        by_id = {row["id"]: row for row in rows}
        unchanged = [r for r in results if r.transfer_id not in by_id]
        fates: dict[uuid.UUID, Fate] = await _explain(conn, unchanged)
        if any(fate is not None for fate in fates.values()):
            raise _NotApplicable({t: f for t, f in fates.items() if f is not None})
        finished = [by_id[r.transfer_id] for r in results if r.transfer_id in by_id]
        if finished:
            await _post(conn, finished)
        for row in finished:
            fates[row["id"]] = Applied(row["kind"], row["state"], float(row["age"]))
        return fates


async def _post(conn: Conn, rows: list[asyncpg.Record]) -> None:
    """The ledger side of the finished transfers, ``rows`` in message order."""
    finishes: list[Finish] = []
    settlement: dict[int, int] = {}
    entries: list[tuple[uuid.UUID, int, str, int]] = []
    for row in rows:
        withdrawal, posted = row["kind"] == "withdrawal", row["state"] == "posted"
        user = row["debit_account_id"] if withdrawal else row["credit_account_id"]
        bank = row["credit_account_id"] if withdrawal else row["debit_account_id"]
        finish = Finish.of(user, row["kind"], posted, row["amount"])
        finishes.append(finish)
        if posted:
            settlement[bank] = settlement.get(bank, 0) + finish.settlement
            entries.append((row["id"], row["debit_account_id"], "debit", row["amount"]))
            entries.append((row["id"], row["credit_account_id"], "credit", row["amount"]))
    locked = await conn.fetch(
        "SELECT id, balance - pending AS available FROM ledger_accounts "
        "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
        sorted({f.account for f in finishes}),
    )
    available = available_after_each({r["id"]: r["available"] for r in locked}, finishes)
    net = net_by_account(finishes)
    if net:
        await conn.execute(
            "UPDATE ledger_accounts l SET balance = l.balance + d.balance, "
            "pending = l.pending + d.pending, updated_at = now() "
            "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d (id, balance, pending) "
            "WHERE l.id = d.id",
            list(net), [c[0] for c in net.values()], [c[1] for c in net.values()],
        )  # fmt: skip
    if entries:
        await conn.execute(
            "INSERT INTO entries (transfer_id, account_id, side, amount) "
            "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bigint[])",
            *(list(column) for column in zip(*entries, strict=True)),
        )
    await conn.execute(
        "INSERT INTO outbox (event_id, transfer_id, state, available) "
        "SELECT e, t, s, a::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) "
        "AS x (e, t, s, a)",
        [uuid.uuid4() for _ in rows], [r["id"] for r in rows], [r["state"] for r in rows],
        [json.dumps({"owner": a}) for a in available],
    )  # fmt: skip
    await settle_keys(conn, rows)
    moved = {acct: delta for acct, delta in sorted(settlement.items()) if delta}
    if moved:  # the shared hot rows, last
        await conn.execute(
            "UPDATE ledger_accounts l SET balance = l.balance + d.delta, updated_at = now() "
            "FROM unnest($1::bigint[], $2::bigint[]) AS d (id, delta) WHERE l.id = d.id",
            list(moved), list(moved.values()),
        )  # fmt: skip


async def _explain(conn: Conn, results: list[BankResult]) -> dict[uuid.UUID, Fate]:
    """Why each of ``results`` finished nothing (``store._explain_no_change``, batched)."""
    if not results:
        return {}
    rows = await conn.fetch(
        "SELECT id, kind, state FROM transfers WHERE id = ANY($1::uuid[])",
        [r.transfer_id for r in results],
    )
    known = {row["id"]: row for row in rows}
    fates: dict[uuid.UUID, Fate] = {}
    for result in results:
        tid, row = result.transfer_id, known.get(result.transfer_id)
        if row is None:
            fates[tid] = UnknownTransfer(f"no transfer {tid}")
        elif row["state"] in ("pending", "queued"):
            fates[tid] = ResultMismatch(f"the bank's outcome does not describe transfer {tid}")
        else:
            fates[tid] = None
            if row["state"] != result.final_state(row["kind"]):
                log.error("transfer %s is %s but the bank now reports %s", tid, row["state"],
                          "succeeded" if result.succeeded else "rejected")  # fmt: skip
    return fates
