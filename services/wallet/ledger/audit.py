"""The one query that proves the books balance: the ledger invariant.

Run by ``vellet wallet audit``, by the benchmarks and the fault drill after
every run, and by the tests. Every counter must be zero; each names one
way the books could be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from vellet.common.db import Conn, Pool

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


#: Seconds a check asked for on demand (``vellet wallet audit``, the
#: benchmarks) may take: it reads whole tables, about 20 s per million
#: transfers on a small machine, far beyond a pool's per-statement timeout.
ON_DEMAND_TIMEOUT: Final = 3600.0


async def check_invariants(pool: Pool | Conn, give_up_after: float | None = None) -> Invariants:
    """``give_up_after``: seconds before the client gives up (None: the pool's command timeout)."""
    row = await pool.fetchrow(INVARIANT_SQL, timeout=give_up_after)
    assert row is not None
    return Invariants(**{k: int(v) for k, v in dict(row).items()})
