"""``compare_books`` on a real wallet database and a real bank database.

The books start out agreeing: a real bank and wallet (the deposit/withdrawal
test stack) settle a deposit, a withdrawal and a refused deposit. Then one
disagreement is forged in one of the two databases, the way a lost message,
a double execution or a bug would leave it, and ``compare_books`` must
report exactly what is wrong (and so ``ok`` must be false).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from tests.support.bank import RunningBank
from tests.wallet.banking.helpers import compare_books, move
from tests.wallet.stack import RunningWallet, registered
from vellet.wallet.auth import store as auth_store
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking import store as banking_store
from vellet.wallet.state import POOL


@dataclass
class Settled:
    """Agreeing books and what is in them."""

    account: str
    deposit: uuid.UUID
    withdrawal: uuid.UUID
    wallet: asyncpg.Connection
    bank: asyncpg.Connection


@pytest.fixture
async def settled(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession,
    wallet_dsn: str, bank_db: str,
) -> AsyncIterator[Settled]:  # fmt: skip
    alice = await registered(bank, wallet, http)  # 1000.00 at the bank
    deposit = await move(alice, "deposit", "100.00")
    withdrawal = await move(alice, "withdrawal", "30.00")
    refused = await move(alice, "deposit", "5000.00")
    states = [r.body["state"] for r in (deposit, withdrawal, refused)]
    assert states == ["posted", "posted", "failed"], [
        r.body for r in (deposit, withdrawal, refused)
    ]
    books = await compare_books(wallet_dsn, bank_db)
    assert books.ok, books.problems
    assert books.by_state == {"posted": 2, "failed": 1}
    assert books.wallet_settlement == books.bank_settlement == 70_00
    wallet_conn = await asyncpg.connect(wallet_dsn)
    bank_conn = await asyncpg.connect(bank_db)
    yield Settled(
        alice.account_number or "",
        uuid.UUID(deposit.body["id"]),
        uuid.UUID(withdrawal.body["id"]),
        wallet_conn,
        bank_conn,
    )
    await wallet_conn.close()
    await bank_conn.close()


async def problems(wallet_dsn: str, bank_db: str) -> list[str]:
    """What ``compare_books`` finds wrong, having said the books are not ok."""
    books = await compare_books(wallet_dsn, bank_db)
    assert not books.ok
    return books.problems


async def test_a_bank_transaction_the_wallet_does_not_know(
    settled: Settled, wallet_dsn: str, bank_db: str
) -> None:
    stranger = uuid.uuid4()
    await settled.bank.execute(
        "INSERT INTO transactions (bank_txn_id, transfer_id, account_number, direction, amount, "
        "currency, status, reason) VALUES ($1, $2, $3, 'to_wallet', 100, 'INR', 'rejected', "
        "'insufficient_funds')",
        uuid.uuid4(), stranger, settled.account,
    )  # fmt: skip
    assert await problems(wallet_dsn, bank_db) == [
        f"the bank executed {stranger}, unknown to the wallet"
    ]


async def test_a_transfer_still_queued(
    settled: Settled, wallet: RunningWallet, wallet_dsn: str, bank_db: str
) -> None:
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, settled.account)
    assert user is not None
    req = banking_rules.parse_bank_transfer(
        {"kind": "withdrawal", "amount": "10.00", "currency": "INR"}
    )
    # Recorded, its request due in an hour (so nothing sends it during the test).
    opened = await banking_store.open_transfer(
        pool, user.id, "stuck", req, transfer_id=uuid.uuid4(), expires_at=None, grace=3600
    )
    assert opened.transfer is not None
    tid = opened.transfer["id"]
    await settled.wallet.execute("UPDATE transfers SET state = 'queued' WHERE id = $1", tid)
    assert await problems(wallet_dsn, bank_db) == [f"{tid} still queued"]


async def test_posted_in_the_wallet_rejected_at_the_bank(
    settled: Settled, wallet_dsn: str, bank_db: str
) -> None:
    # The bank's record of the withdrawal says rejected, its money put back,
    # so the bank's own audit still balances.
    async with settled.bank.transaction():
        await settled.bank.execute(
            "UPDATE transactions SET status = 'rejected', reason = 'account_closed' "
            "WHERE transfer_id = $1",
            settled.withdrawal,
        )
        await settled.bank.execute(
            "UPDATE accounts SET balance = balance - 3000 WHERE account_number = $1",
            settled.account,
        )
        await settled.bank.execute("UPDATE settlement SET balance = balance + 3000")
    assert await problems(wallet_dsn, bank_db) == [
        "settlement: wallet 7000 != bank 10000",
        f"{settled.withdrawal} is posted but the bank says rejected",
    ]


async def test_a_settlement_mismatch(settled: Settled, wallet_dsn: str, bank_db: str) -> None:
    opening = await settled.bank.fetchval(
        "SELECT sum(opening_balance) FROM accounts WHERE currency = 'INR'"
    )
    await settled.bank.execute("UPDATE settlement SET balance = balance + 1")
    assert await problems(wallet_dsn, bank_db) == [
        f"bank audit: currency INR: expected {opening}, found {opening + 1}",
        "settlement: wallet 7000 != bank 7001",
    ]


async def test_a_transfer_the_bank_executed_twice(
    settled: Settled, wallet_dsn: str, bank_db: str
) -> None:
    # The UNIQUE on transfer_id makes this impossible; dropped in this test's
    # own bank database, so the copy can be made (with its money moved, so
    # the bank's own audit balances).
    name = await settled.bank.fetchval(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'transactions'::regclass "
        "AND contype = 'u'"
    )
    await settled.bank.execute(f'ALTER TABLE transactions DROP CONSTRAINT "{name}"')
    async with settled.bank.transaction():
        await settled.bank.execute(
            "INSERT INTO transactions (bank_txn_id, transfer_id, account_number, direction, "
            "amount, currency, status, reason) SELECT $1, transfer_id, account_number, "
            "direction, amount, currency, status, reason FROM transactions WHERE transfer_id = $2",
            uuid.uuid4(), settled.deposit,
        )  # fmt: skip
        await settled.bank.execute(
            "UPDATE accounts SET balance = balance - 10000 WHERE account_number = $1",
            settled.account,
        )
        await settled.bank.execute("UPDATE settlement SET balance = balance + 10000")
    books = await compare_books(wallet_dsn, bank_db)
    assert books.bank_duplicates == 1
    assert books.problems == [
        "settlement: wallet 7000 != bank 17000",
        "the bank executed 1 transfer(s) twice",
    ]
    assert not books.ok


async def test_a_wallet_ledger_that_does_not_balance(
    settled: Settled, wallet_dsn: str, bank_db: str
) -> None:
    await settled.wallet.execute(
        "UPDATE ledger_accounts SET balance = balance + 1 WHERE user_id IS NOT NULL"
    )
    assert await problems(wallet_dsn, bank_db) == [
        "wallet invariant unbalanced_currencies=1",
        "wallet invariant drifted_accounts=1",
    ]
