"""SQL that moves money, and the one query that proves it balances.

P2P transfers are the ``wallet_p2p_batch`` function of migration 0004 (one
round trip, one transaction, any number of transfers); :func:`p2p_batch`
calls it (a transfer alone is a batch of one). ``INVARIANT_SQL`` is
THE ledger invariant, one query, used by the tests, the property-based
test, the benchmark, ``vellet wallet audit`` and anyone auditing a live
database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Final

from vellet.common.db import Conn, Pool
from vellet.wallet import domain
from vellet.wallet.store import SETTLEMENT


@dataclass(frozen=True)
class Answer:
    """What a money-moving call answered: outcome, HTTP status, body (JSON text)."""

    outcome: str
    status: int
    body: str | None


@dataclass(frozen=True)
class P2PJob:
    """One P2P transfer as the ledger takes it: who sends, under which key, what."""

    user_id: int
    #: The sender's account number, from their signed session.
    account_number: str
    key: str
    req: domain.P2PRequest
    transfer_id: uuid.UUID
    event_id: uuid.UUID
    expires_at: datetime | None
    # Rendered when the job is made, while the previous batch still runs,
    # rather than on the way to the database, when it would hold the next
    # batch back.
    fingerprint: str = field(init=False)
    success: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", self.req.fingerprint())
        success = json.dumps(domain.success_template(self.transfer_id, self.req))
        object.__setattr__(self, "success", success)


_BATCH_SQL: Final = (
    "SELECT outcome, status, body::text AS body FROM wallet_p2p_batch("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb[], $13::jsonb) ORDER BY ord"
)


async def p2p_batch(pool: Pool | Conn, jobs: Sequence[P2PJob]) -> list[Answer]:
    """Post P2P transfers in ONE transaction (``wallet_p2p_batch``, migration
    0004): one answer per job, in order. An error rolls back every job."""
    rows = await pool.fetch(
        _BATCH_SQL,
        [j.user_id for j in jobs],
        [j.account_number for j in jobs],
        [j.key for j in jobs],
        [j.fingerprint for j in jobs],
        [j.expires_at for j in jobs],
        [j.transfer_id for j in jobs],
        [j.event_id for j in jobs],
        [j.req.to_account for j in jobs],
        [j.req.amount for j in jobs],
        [j.req.currency for j in jobs],
        [j.req.note for j in jobs],
        [j.success for j in jobs],
        domain.REFUSALS_JSON,
    )
    return [Answer(row["outcome"], row["status"], row["body"]) for row in rows]


async def post_deposit(
    pool: Pool, user_id: int, amount: int, currency: str, note: str | None = None
) -> uuid.UUID:
    """Record a deposit the bank has already settled: settlement -> user.

    Tests and demo seeding fund wallets with it; the bank-facing deposit
    flow posts its pending deposits the same way.
    """
    transfer_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        accounts = await conn.fetchrow(
            "SELECT u.account_number, "
            "(SELECT id FROM ledger_accounts WHERE system_code = $3 AND currency = $2) AS debit, "
            "(SELECT id FROM ledger_accounts WHERE user_id = u.id AND currency = $2) AS credit "
            "FROM users u WHERE u.id = $1",
            user_id,
            currency,
            SETTLEMENT,
        )
        if accounts is None or accounts["debit"] is None or accounts["credit"] is None:
            raise LookupError(f"user {user_id} has no {currency} wallet")
        await conn.execute(
            "INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id, "
            "credit_account_id, to_user_id, from_account, to_account, note) "
            "VALUES ($1, 'deposit', 'posted', $2, $3, $4, $5, $6, $7, $7, $8)",
            transfer_id,
            amount,
            currency,
            accounts["debit"],
            accounts["credit"],
            user_id,
            accounts["account_number"],
            note,
        )
        await _post_entries(conn, transfer_id, accounts["debit"], accounts["credit"], amount)
        available = await conn.fetchval(
            "SELECT balance - pending FROM ledger_accounts WHERE id = $1", accounts["credit"]
        )
        await conn.execute(
            "INSERT INTO outbox (event_id, transfer_id, state, available) "
            "VALUES ($1, $2, 'posted', $3::jsonb)",
            uuid.uuid4(),
            transfer_id,
            json.dumps({"owner": available}),
        )
    return transfer_id


async def _post_entries(
    conn: Conn, transfer_id: uuid.UUID, debit: int, credit: int, amount: int
) -> None:
    """Move ``amount`` from ``debit`` to ``credit`` with its two entries."""
    await conn.execute(
        "UPDATE ledger_accounts SET updated_at = now(), "
        "balance = balance + CASE id WHEN $2 THEN -$1::bigint ELSE $1::bigint END "
        "WHERE id IN ($2, $3)",
        amount,
        debit,
        credit,
    )
    await conn.execute(
        "INSERT INTO entries (transfer_id, account_id, side, amount) "
        "VALUES ($1, $2, 'debit', $4), ($1, $3, 'credit', $4)",
        transfer_id,
        debit,
        credit,
        amount,
    )


# --- the invariant ------------------------------------------------------------

#: Every count must be zero. One query, one snapshot.
INVARIANT_SQL: Final = """
WITH entry_net AS (
    SELECT account_id, sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) AS net
    FROM entries GROUP BY account_id
), per_transfer AS (
    SELECT transfer_id, count(*) AS n,
           sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) AS imbalance
    FROM entries GROUP BY transfer_id
)
SELECT
    -- per currency, all balances (users + system) sum to zero
    (SELECT count(*) FROM (SELECT currency FROM ledger_accounts GROUP BY currency
                           HAVING sum(balance) <> 0) AS c) AS unbalanced_currencies,
    -- every transfer's debits equal its credits
    (SELECT count(*) FROM per_transfer WHERE imbalance <> 0) AS unbalanced_transfers,
    -- no user account below zero, reservations included
    (SELECT count(*) FROM ledger_accounts
      WHERE user_id IS NOT NULL AND (balance < 0 OR balance - pending < 0)) AS overdrawn_accounts,
    -- each balance is exactly what its entries say
    (SELECT count(*) FROM ledger_accounts a LEFT JOIN entry_net e ON e.account_id = a.id
      WHERE a.balance <> coalesce(e.net, 0)) AS drifted_accounts,
    -- posted transfers have exactly two entries, all others none
    (SELECT count(*) FROM transfers t LEFT JOIN per_transfer p ON p.transfer_id = t.id
      WHERE coalesce(p.n, 0) <> CASE t.state WHEN 'posted' THEN 2 ELSE 0 END)
        AS misentered_transfers,
    -- entries sit on their transfer's own legs, for its amount and currency
    (SELECT count(*) FROM entries e JOIN transfers t ON t.id = e.transfer_id
       JOIN ledger_accounts a ON a.id = e.account_id
      WHERE e.amount <> t.amount OR a.currency <> t.currency
         OR e.account_id <> CASE e.side WHEN 'debit' THEN t.debit_account_id
                                        ELSE t.credit_account_id END) AS misposted_entries,
    -- reservations equal the unfinished withdrawals that hold them
    (SELECT count(*) FROM ledger_accounts a
      WHERE a.pending <> coalesce((SELECT sum(t.amount) FROM transfers t
                                    WHERE t.debit_account_id = a.id AND t.kind = 'withdrawal'
                                      AND t.state IN ('pending', 'queued')), 0))
        AS drifted_reservations
"""


@dataclass(frozen=True)
class Invariants:
    unbalanced_currencies: int
    unbalanced_transfers: int
    overdrawn_accounts: int
    drifted_accounts: int
    misentered_transfers: int
    misposted_entries: int
    drifted_reservations: int

    @property
    def ok(self) -> bool:
        return not self.violations()

    def violations(self) -> dict[str, int]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name))}


async def check_invariants(pool: Pool | Conn) -> Invariants:
    row = await pool.fetchrow(INVARIANT_SQL)
    assert row is not None
    return Invariants(**{k: int(v) for k, v in dict(row).items()})
