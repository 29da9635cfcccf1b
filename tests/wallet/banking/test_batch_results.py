"""``apply_results``: a read of the result stream applied in one transaction.

Each outcome of a batch must do exactly what ``apply_result`` does alone:
post, void or fail its transfer once, with its entries, its event (holding
the balance right after *that* transfer) and its stored answer; a mismatch
or an unknown transfer changes nothing while the rest of the batch applies;
a transfer named twice is finished once; and two replicas racing on the
same batch finish every transfer once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.wallet.banking.test_results_applied_twice import open_two_phase
from tests.wallet.ledger_helpers import make_user
from vellet.common.db import Pool, create_pool
from vellet.wallet.banking import batch_store
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking import store as banking_store
from vellet.wallet.ledger import audit


@pytest.fixture
async def pool(wallet_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(wallet_dsn, max_size=4)
    yield pool
    await pool.close()


def result(tid: uuid.UUID, account: str, kind: str, *, ok: bool = True,
           amount: int = 40_00) -> banking_rules.BankResult:  # fmt: skip
    return banking_rules.BankResult(
        transfer_id=tid, bank_txn_id=uuid.uuid4(), succeeded=ok,
        reason=None if ok else "insufficient_funds", account_number=account,
        direction=banking_rules.DIRECTIONS[kind], amount=amount, currency="INR",
    )  # fmt: skip


async def held(pool: Pool, user_id: int) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT balance, pending FROM ledger_accounts WHERE user_id = $1", user_id
    )
    assert row is not None
    return row["balance"], row["pending"]


async def test_a_mixed_batch_applies_each_as_alone_and_refuses_only_the_mismatch(
    pool: Pool,
) -> None:
    alice, bob = await make_user(pool, funds=200_00), await make_user(pool)
    dep = await open_two_phase(pool, alice.id, "deposit")
    wd = await open_two_phase(pool, alice.id, "withdrawal")
    wrong = await open_two_phase(pool, alice.id, "withdrawal")
    refused = await open_two_phase(pool, alice.id, "withdrawal")
    failed = await open_two_phase(pool, bob.id, "deposit")
    done = await open_two_phase(pool, bob.id, "deposit")
    await banking_store.apply_result(pool, result(done, bob.account_number, "deposit"))
    batch = [
        result(dep, alice.account_number, "deposit"),  # +40 available
        result(wd, alice.account_number, "withdrawal"),  # posted: available unchanged
        result(wrong, alice.account_number, "withdrawal", amount=41_00),  # mismatch
        result(uuid.uuid4(), alice.account_number, "deposit"),  # unknown
        result(refused, alice.account_number, "withdrawal", ok=False),  # voided: +40
        result(failed, bob.account_number, "deposit", ok=False),
        result(done, bob.account_number, "deposit"),  # already final: nothing to do
    ]
    fates = await batch_store.apply_results(pool, batch)

    assert [(f.kind, f.state) if isinstance(f, banking_store.Applied) else f for f in fates[:2]] \
        == [("deposit", "posted"), ("withdrawal", "posted")]  # fmt: skip
    assert isinstance(fates[2], banking_store.ResultMismatch)
    assert isinstance(fates[3], banking_store.UnknownTransfer)
    assert isinstance(fates[4], banking_store.Applied)
    assert fates[4].state == "voided"
    assert isinstance(fates[5], banking_store.Applied)
    assert fates[5].state == "failed"
    assert fates[6] is None
    # 200 + 40 deposited - 40 withdrawn; the mismatched withdrawal keeps its reservation.
    assert await held(pool, alice.id) == (200_00, 40_00)
    assert await held(pool, bob.id) == (40_00, 0)
    # The mismatched transfer is untouched, request outbox row included.
    assert await pool.fetchval("SELECT state FROM transfers WHERE id = $1", wrong) == "pending"
    assert await pool.fetchval("SELECT count(*) FROM bank_outbox WHERE transfer_id = $1", wrong)
    assert await pool.fetchval(
        "SELECT count(*) FROM bank_outbox WHERE transfer_id = ANY($1::uuid[])", [dep, wd, refused]
    ) == 0  # fmt: skip
    events = {
        r["transfer_id"]: (r["state"], json.loads(r["available"])["owner"])
        for r in await pool.fetch("SELECT transfer_id, state, available::text FROM outbox")
    }
    # Available before the batch: 200 - 3 x 40 reserved = 80; each event has its own.
    assert events[dep] == ("posted", 120_00)
    assert events[wd] == ("posted", 120_00)
    assert events[refused] == ("voided", 160_00)
    assert events[failed] == ("failed", 40_00)
    assert wrong not in events
    answers = await pool.fetch(
        "SELECT transfer_id, state, response_status FROM idempotency_keys "
        "WHERE transfer_id = ANY($1::uuid[])", [dep, wd, refused, failed],
    )  # fmt: skip
    assert {(r["state"], r["response_status"]) for r in answers} == {("done", 201)}
    assert (await audit.check_invariants(pool)).ok


async def test_a_transfer_named_twice_in_a_batch_is_finished_once(pool: Pool) -> None:
    alice = await make_user(pool)
    dep = await open_two_phase(pool, alice.id, "deposit")
    first = result(dep, alice.account_number, "deposit")
    fates = await batch_store.apply_results(pool, [first, first])
    assert isinstance(fates[0], banking_store.Applied)
    assert fates[1] is None
    assert await held(pool, alice.id) == (40_00, 0)
    assert await pool.fetchval("SELECT count(*) FROM entries WHERE transfer_id = $1", dep) == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE transfer_id = $1", dep) == 1


async def test_two_replicas_racing_on_the_same_batch_finish_each_transfer_once(
    pool: Pool, wallet_dsn: str
) -> None:
    users = [await make_user(pool, funds=100_00) for _ in range(4)]
    batch = []
    for user in users:
        for kind in ("deposit", "withdrawal"):
            tid = await open_two_phase(pool, user.id, kind)
            batch.append(result(tid, user.account_number, kind))
    other = await create_pool(wallet_dsn, max_size=2)
    try:
        mine, theirs = await asyncio.gather(
            batch_store.apply_results(pool, batch),
            batch_store.apply_results(other, list(reversed(batch))),
        )
    finally:
        await other.close()
    for a, b in zip(mine, reversed(theirs), strict=True):
        assert (a is None) != (b is None)  # one applied it, the other found it final
    for user in users:
        assert await held(pool, user.id) == (100_00, 0)
    # Two entries per funding deposit, two per transfer of the batch.
    assert await pool.fetchval("SELECT count(*) FROM entries") == 2 * (len(users) + len(batch))
    assert await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE transfer_id = ANY($1::uuid[])",
        [r.transfer_id for r in batch],
    ) == len(batch)  # fmt: skip
    assert (await audit.check_invariants(pool)).ok
