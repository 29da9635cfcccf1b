"""Do the wallet and the bank agree, to the unit? (the drill's and the tests' verdict)

:func:`compare_books` reads both databases directly and lists every
disagreement:

* the wallet's ledger invariant (``audit.INVARIANT_SQL``: balanced
  currencies and transfers, no overdraft, balances equal to their entries,
  two entries per posted transfer, reservations equal to unfinished
  withdrawals);
* the bank's own audit (``AUDIT_SQL``: every account and currency add up);
* the wallet's settlement account equals the bank's settlement balance;
* transfer by transfer: every deposit/withdrawal is final, the bank has
  exactly one transaction for it with the same amount and account, and
  "posted" on one side is "succeeded" on the other; the bank executed
  nothing the wallet does not know.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from vellet.bank.store import AUDIT_SQL
from vellet.wallet.ledger import audit


@dataclass
class Books:
    wallet_settlement: int = 0
    bank_settlement: int = 0
    #: Deposits and withdrawals by wallet state.
    by_state: dict[str, int] = field(default_factory=dict)
    #: Transfers the bank executed more than once (the UNIQUE constraint says 0).
    bank_duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def compare_books(wallet_dsn: str, bank_dsn: str, currency: str = "INR") -> Books:
    books = Books()
    wallet = await asyncpg.connect(wallet_dsn)
    bank = await asyncpg.connect(bank_dsn)
    try:
        invariants = await audit.check_invariants(wallet)
        books.problems += [f"wallet invariant {k}={v}" for k, v in invariants.violations().items()]
        bank_audit = await bank.fetch(AUDIT_SQL)
        books.problems += [
            f"bank audit: {r['what']}: expected {r['expected']}, found {r['actual']}"
            for r in bank_audit
        ]
        books.wallet_settlement = -int(
            await wallet.fetchval(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts "
                "WHERE system_code = 'bank_settlement' AND currency = $1",
                currency,
            )
        )
        books.bank_settlement = int(
            await bank.fetchval(
                "SELECT coalesce(sum(balance), 0) FROM settlement WHERE currency = $1", currency
            )
        )
        if books.wallet_settlement != books.bank_settlement:
            books.problems.append(
                f"settlement: wallet {books.wallet_settlement} != bank {books.bank_settlement}"
            )
        ours = {
            r["id"]: r
            for r in await wallet.fetch(
                "SELECT id, kind, state, amount, from_account FROM transfers "
                "WHERE kind IN ('deposit', 'withdrawal')"
            )
        }
        rows = await bank.fetch(
            "SELECT transfer_id, direction, amount, status, account_number FROM transactions"
        )
        theirs: dict[uuid.UUID, Any] = {}
        for row in rows:
            if row["transfer_id"] in theirs:
                books.bank_duplicates += 1
            theirs[row["transfer_id"]] = row
        if books.bank_duplicates:
            books.problems.append(f"the bank executed {books.bank_duplicates} transfer(s) twice")
        for row in ours.values():
            books.by_state[row["state"]] = books.by_state.get(row["state"], 0) + 1
        books.problems += disagreements(ours, theirs)
    finally:
        await wallet.close()
        await bank.close()
    return books


def disagreements(ours: dict[uuid.UUID, Any], theirs: dict[uuid.UUID, Any]) -> list[str]:
    problems = []
    for tid, row in ours.items():
        bank_row = theirs.get(tid)
        if row["state"] in ("pending", "queued"):
            problems.append(f"{tid} still {row['state']}")
        elif bank_row is None:
            problems.append(f"{tid} is {row['state']} but the bank never saw it")
        elif (row["state"] == "posted") != (bank_row["status"] == "succeeded"):
            problems.append(f"{tid} is {row['state']} but the bank says {bank_row['status']}")
        elif (bank_row["amount"], bank_row["account_number"]) != (
            row["amount"],
            row["from_account"],
        ):
            problems.append(f"{tid}: the bank moved another amount or account")
    problems += [f"the bank executed {tid}, unknown to the wallet" for tid in theirs.keys() - ours]
    return problems
