"""The bank's SQL for a batch of transfers in one transaction, and nothing else.

Set-based counterparts of ``store``'s single-transfer statements, taking
row locks in the same order as the single path, so a batch and a single
transfer (or two batches) cannot deadlock each other: the transfer ids'
rows first (claimed in transfer-id order), then customer accounts in
account-number order, then the settlement rows in currency order. The
CHECK constraints (no balance below zero) stay behind every UPDATE.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from vellet.bank.domain import AccountState, Outcome, TransferRequest
from vellet.bank.store import find_transaction
from vellet.common.db import Conn

Claim = tuple[uuid.UUID, TransferRequest]  # (a new bank_txn_id, the request)


async def claim_many(conn: Conn, claims: Sequence[Claim]) -> set[uuid.UUID]:
    """Record each transfer as succeeded unless known; return the transfer ids claimed.

    ``claims`` in transfer-id order: two batches sharing ids wait on each
    other in that order instead of deadlocking. A claim that meets a
    concurrent one waits for it and is skipped if it commits (the caller
    then reads that row as a replay, as the single path does).
    """
    rows = await conn.fetch(
        "INSERT INTO transactions (bank_txn_id, transfer_id, account_number, direction, "
        "amount, currency, status) SELECT *, 'succeeded' FROM unnest($1::uuid[], $2::uuid[], "
        "$3::text[], $4::text[], $5::bigint[], $6::text[]) "
        "ON CONFLICT (transfer_id) DO NOTHING RETURNING transfer_id",
        [c[0] for c in claims], [c[1].transfer_id for c in claims],
        [c[1].account_number for c in claims], [c[1].direction for c in claims],
        [c[1].amount for c in claims], [c[1].currency for c in claims],
    )  # fmt: skip
    return {r["transfer_id"] for r in rows}


async def find_many(conn: Conn, transfer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Outcome]:
    """The stored outcomes of transfers known already (a fresh snapshot sees the winners)."""
    found = {}
    for tid in transfer_ids:  # rare (replays and lost races): the single look-up suffices
        known = await find_transaction(conn, tid)
        if known is not None:
            found[tid] = known
    return found


async def lock_accounts(conn: Conn, numbers: Sequence[str]) -> dict[str, AccountState]:
    rows = await conn.fetch(
        "SELECT account_number, currency, balance, status FROM accounts "
        "WHERE account_number = ANY($1::text[]) ORDER BY account_number FOR UPDATE",
        sorted(numbers),
    )
    return {r[0]: AccountState(r[1], r[2], r[3]) for r in rows}


async def lock_settlement(conn: Conn, currencies: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT currency, balance FROM settlement WHERE currency = ANY($1::text[]) "
        "ORDER BY currency FOR UPDATE",
        sorted(currencies),
    )
    return {r[0]: r[1] for r in rows}


async def move(conn: Conn, accounts: Mapping[str, int], settlement: Mapping[str, int],
               existing: Mapping[str, int]) -> None:  # fmt: skip
    """Apply net balance changes; ``existing``: the settlement rows that were locked."""
    if accounts:
        await conn.execute(
            "UPDATE accounts a SET balance = a.balance + d.delta, updated_at = now() "
            "FROM unnest($1::text[], $2::bigint[]) AS d (number, delta) "
            "WHERE a.account_number = d.number",
            list(accounts), list(accounts.values()),
        )  # fmt: skip
    updates = {c: d for c, d in settlement.items() if c in existing}
    if updates:
        await conn.execute(
            "UPDATE settlement s SET balance = s.balance + d.delta, updated_at = now() "
            "FROM unnest($1::text[], $2::bigint[]) AS d (currency, delta) "
            "WHERE s.currency = d.currency",
            list(updates), list(updates.values()),
        )  # fmt: skip
    # A currency without a row yet only received deposits (a net credit); a
    # concurrent first deposit may insert it meanwhile, hence the upsert.
    inserts = {c: d for c, d in settlement.items() if c not in existing}
    if inserts:
        await conn.execute(
            "INSERT INTO settlement (currency, balance) "
            "SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (currency) DO UPDATE "
            "SET balance = settlement.balance + EXCLUDED.balance, updated_at = now()",
            list(inserts), list(inserts.values()),
        )  # fmt: skip


async def mark_rejected_many(conn: Conn, rejected: Mapping[uuid.UUID, str]) -> None:
    if rejected:
        await conn.execute(
            "UPDATE transactions t SET status = 'rejected', reason = r.reason "
            "FROM unnest($1::uuid[], $2::text[]) AS r (id, reason) WHERE t.transfer_id = r.id",
            list(rejected), list(rejected.values()),
        )  # fmt: skip
