"""The same bank result applied twice changes nothing the second time.

The direct answer and the result stream both deliver every outcome, a
message can be redelivered, and two replicas can race: ``apply_result`` must
move the ledger only the first time, because its UPDATE only finishes a
transfer that is still ``pending`` or ``queued``. Checked directly on the
wallet's database (the Redis-loss and SIGKILL tests check it only through
heavy fault runs).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.wallet.ledger_helpers import make_user
from vellet.common.db import Pool, create_pool
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking import store as banking_store
from vellet.wallet.ledger import audit


@pytest.fixture
async def pool(wallet_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(wallet_dsn, max_size=4)
    yield pool
    await pool.close()


async def snapshot(pool: Pool, transfer_id: uuid.UUID) -> dict[str, Any]:
    """Everything a result can change: balances, entries, the transfer, its events, its key."""
    return {
        "accounts": [
            tuple(r)
            for r in await pool.fetch(
                "SELECT id, balance, pending, updated_at FROM ledger_accounts ORDER BY id"
            )
        ],
        "entries": await pool.fetchval("SELECT count(*) FROM entries"),
        "transfer": dict(
            await pool.fetchrow("SELECT * FROM transfers WHERE id = $1", transfer_id) or {}
        ),
        "events": await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE transfer_id = $1", transfer_id
        ),
        "keys": [tuple(r) for r in await pool.fetch("SELECT * FROM idempotency_keys ORDER BY key")],
    }


async def open_two_phase(pool: Pool, user_id: int, kind: str) -> uuid.UUID:
    """A pending 40.00 deposit or withdrawal, its bank request due in an hour."""
    req = banking_rules.parse_bank_transfer({"kind": kind, "amount": "40.00", "currency": "INR"})
    opened = await banking_store.open_transfer(
        pool, user_id, uuid.uuid4().hex, req, transfer_id=uuid.uuid4(), expires_at=None,
        grace=3600,
    )  # fmt: skip
    assert opened.transfer is not None
    return uuid.UUID(str(opened.transfer["id"]))


@pytest.mark.parametrize(
    ("kind", "succeeded", "final"),
    [
        ("deposit", True, "posted"),
        ("deposit", False, "failed"),
        ("withdrawal", True, "posted"),
        ("withdrawal", False, "voided"),
    ],
)
async def test_a_result_applied_twice_moves_the_money_once(
    pool: Pool, kind: str, succeeded: bool, final: str
) -> None:
    alice = await make_user(pool, funds=100_00)
    # Another withdrawal holds a reservation too, so a second application could
    # take its pending amount without tripping the CHECK (pending >= 0): only
    # the state guard stands in the way.
    tid = await open_two_phase(pool, alice.id, kind)
    await open_two_phase(pool, alice.id, "withdrawal")
    result = banking_rules.BankResult(
        transfer_id=tid,
        bank_txn_id=uuid.uuid4(),
        succeeded=succeeded,
        reason=None if succeeded else "account_closed",
        account_number=alice.account_number,
        direction=banking_rules.DIRECTIONS[kind],
        amount=40_00,
        currency="INR",
    )

    first = await banking_store.apply_result(pool, result)
    after_first = await snapshot(pool, tid)
    second = await banking_store.apply_result(pool, result)

    assert first is not None
    assert (first.kind, first.state) == (kind, final)
    assert second is None
    assert await snapshot(pool, tid) == after_first
    moved = 40_00 if succeeded else 0
    held = await pool.fetchrow(
        "SELECT balance, pending FROM ledger_accounts WHERE user_id = $1", alice.id
    )
    assert held is not None
    assert tuple(held) == (100_00 + (moved if kind == "deposit" else -moved), 40_00)
    assert after_first["transfer"]["state"] == final
    assert after_first["events"] == 1
    assert (await audit.check_invariants(pool)).ok
