"""``execute_many``: a batch of the request stream in one transaction, every rule kept.

Against the real database: the outcomes are those of the same requests
executed one at a time, each transfer id moves money at most once (inside a
batch, across batches, and when two replicas run the same batch at the
same time), and the bank's books stay balanced.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.bank.helpers import audit
from vellet.bank import store
from vellet.bank.domain import NewAccount, TransferRequest
from vellet.bank.executor import execute, execute_many
from vellet.common.db import Pool, create_pool
from vellet.common.errors import Conflict


@pytest.fixture
async def pool(bank_db: str) -> AsyncIterator[Pool]:
    pool = await create_pool(bank_db, max_size=4)
    for number, balance in (("111111111", 1_000_00), ("222222222", 50_00)):
        await store.insert_account(pool, NewAccount(number, "A Holder", "a@example.test", "INR",
                                                    balance))  # fmt: skip
    yield pool
    await pool.close()


def req(account: str, amount: int, direction: str = "to_wallet") -> TransferRequest:
    return TransferRequest(uuid.uuid4(), account, direction, amount, "INR")  # type: ignore[arg-type]


async def test_a_mixed_batch_decides_each_in_order_and_rejects_only_what_it_must(
    pool: Pool, bank_db: str
) -> None:
    reqs = [
        req("222222222", 30_00),  # moves: 20.00 left
        req("222222222", 30_00),  # insufficient now
        req("999999999", 1_00),  # unknown
        req("222222222", 20_00),  # exactly what is left
        req("111111111", 40_00, "from_wallet"),  # settlement holds 50.00 by now
    ]
    executed = await execute_many(pool, reqs)
    outcomes = [e[0] for e in executed if isinstance(e, tuple)]
    assert [(o.status, o.reason) for o in outcomes] == [
        ("succeeded", None),
        ("rejected", "insufficient_funds"),
        ("rejected", "unknown_account"),
        ("succeeded", None),
        ("succeeded", None),
    ]
    assert [e[1] for e in executed if isinstance(e, tuple)] == [False] * 5
    assert await store.balance(pool, "222222222") == 0
    assert await store.balance(pool, "111111111") == 1_040_00
    assert await pool.fetchval("SELECT balance FROM settlement WHERE currency = 'INR'") == 10_00
    # The stored rows are the outcomes: a later single execute replays each.
    for r, outcome in zip(reqs, outcomes, strict=True):
        assert await execute(pool, r) == (outcome, True)
    assert await audit(bank_db) == []


async def test_replays_and_duplicates_inside_a_batch_move_money_once(pool: Pool) -> None:
    first = req("111111111", 10_00)
    (done,) = await execute_many(pool, [first])
    assert isinstance(done, tuple)
    fresh = req("111111111", 5_00)
    executed = await execute_many(pool, [first, fresh, fresh, first])
    assert all(isinstance(e, tuple) for e in executed)
    assert [e[1] for e in executed if isinstance(e, tuple)] == [True, False, True, True]
    assert executed[0] == (done[0], True)
    assert await store.balance(pool, "111111111") == 1_000_00 - 15_00
    assert await pool.fetchval("SELECT count(*) FROM transactions") == 2


async def test_a_reused_transfer_id_fails_that_message_alone(pool: Pool) -> None:
    first = req("111111111", 10_00)
    await execute_many(pool, [first])
    reused = TransferRequest(first.transfer_id, "111111111", "to_wallet", 99_00, "INR")
    twin = TransferRequest(uuid.uuid4(), "111111111", "to_wallet", 1_00, "INR")
    inner = TransferRequest(twin.transfer_id, "222222222", "to_wallet", 1_00, "INR")
    executed = await execute_many(pool, [reused, twin, inner])
    assert isinstance(executed[0], Conflict)
    assert isinstance(executed[1], tuple)
    assert executed[1][0].status == "succeeded"
    assert isinstance(executed[2], Conflict)  # the same id again, for another transfer
    assert await store.balance(pool, "111111111") == 1_000_00 - 11_00


async def test_a_request_the_database_refuses_fails_alone_and_the_rest_is_executed(
    pool: Pool,
) -> None:
    # amount > 0 is the parser's rule; a zero slipping past it meets the CHECK
    # constraint, which fails the batch: each is then executed alone.
    good, bad = req("111111111", 1_00), req("111111111", 0)
    executed = await execute_many(pool, [good, bad])
    assert isinstance(executed[0], tuple)
    assert executed[0][0].status == "succeeded"
    assert isinstance(executed[1], Exception)
    assert await store.balance(pool, "111111111") == 1_000_00 - 1_00


async def test_two_replicas_racing_on_the_same_batch_settle_each_transfer_once(
    pool: Pool, bank_db: str
) -> None:
    reqs = [req("111111111", 1_00) for _ in range(20)] + [req("222222222", 50_00)]
    other = await create_pool(bank_db, max_size=2)
    try:
        mine, theirs = await asyncio.gather(
            execute_many(pool, reqs), execute_many(other, list(reversed(reqs)))
        )
    finally:
        await other.close()
    for a, b in zip(mine, reversed(theirs), strict=True):
        assert isinstance(a, tuple)
        assert isinstance(b, tuple)
        assert a[0] == b[0]  # one outcome, the other side replays it
        assert a[1] != b[1]
    assert await store.balance(pool, "111111111") == 1_000_00 - 20_00
    assert await store.balance(pool, "222222222") == 0
    assert await pool.fetchval("SELECT count(*) FROM transactions") == 21
    assert await audit(bank_db) == []
