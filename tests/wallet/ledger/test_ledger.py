"""The P2P ledger transaction, on a real PostgreSQL: money moves once or not at all."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.wallet.ledger_helpers import available, make_user, new_account_number, send
from vellet.common.db import Pool
from vellet.wallet.ledger import audit


async def test_p2p_moves_money_with_balanced_entries_and_one_outbox_event(pool: Pool) -> None:
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)

    answer = await send(pool, alice, bob.account_number, 2_550, note="dinner")

    assert (answer.outcome, answer.status) == ("posted", 201)
    body = json.loads(answer.body or "")
    assert body["amount"] == "25.50"
    assert body["from_account"] == alice.account_number
    assert body["to_account"] == bob.account_number
    assert body["state"] == "posted"
    assert body["note"] == "dinner"
    assert await available(pool, alice) == 7_450
    assert await available(pool, bob) == 2_550
    entries = await pool.fetch(
        "SELECT side, amount FROM entries WHERE transfer_id = $1 ORDER BY side",
        uuid.UUID(body["id"]),
    )
    assert [(e["side"], e["amount"]) for e in entries] == [("credit", 2_550), ("debit", 2_550)]
    outbox = await pool.fetchrow(
        "SELECT state, available FROM outbox WHERE transfer_id = $1", uuid.UUID(body["id"])
    )
    assert outbox is not None
    assert json.loads(outbox["available"]) == {"sender": 7_450, "recipient": 2_550}
    assert (await audit.check_invariants(pool)).ok


@pytest.mark.parametrize(
    ("case", "code", "status"),
    [
        ("unknown", "unknown_recipient", 404),
        ("self", "same_account", 422),
        ("other_currency_recipient", "currency_mismatch", 422),
        ("other_currency_request", "currency_mismatch", 422),
        ("too_much", "insufficient_funds", 422),
    ],
)
async def test_refusals_move_nothing_and_are_replayed(
    pool: Pool, case: str, code: str, status: int
) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    euro = await make_user(pool, currency="EUR")
    to, amount, currency = {
        "unknown": (new_account_number(), 100, "INR"),
        "self": (alice.account_number, 100, "INR"),
        "other_currency_recipient": (euro.account_number, 100, "INR"),
        "other_currency_request": (bob.account_number, 100, "EUR"),
        "too_much": (bob.account_number, 1_001, "INR"),
    }[case]

    first = await send(pool, alice, to, amount, key="k1", currency=currency)
    again = await send(pool, alice, to, amount, key="k1", currency=currency)

    assert (first.outcome, first.status) == (code, status)
    assert json.loads(first.body or "")["code"] == code
    assert (again.outcome, again.status, again.body) == ("replayed", status, first.body)
    assert await available(pool, alice) == 1_000
    assert await pool.fetchval("SELECT count(*) FROM transfers WHERE kind = 'p2p'") == 0
    assert (await audit.check_invariants(pool)).ok


async def test_same_key_same_payload_replays_the_first_answer_forever(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    first = await send(pool, alice, bob.account_number, 400, key="pay-1")
    # Funds run out in between: the replay still says what the first call did.
    await send(pool, alice, bob.account_number, 600, key="pay-2")

    again = await send(pool, alice, bob.account_number, 400, key="pay-1")

    assert (again.outcome, again.status, again.body) == ("replayed", 201, first.body)
    assert await available(pool, alice) == 0
    assert await pool.fetchval("SELECT count(*) FROM transfers WHERE kind = 'p2p'") == 2


async def test_same_key_other_payload_is_a_mismatch(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    await send(pool, alice, bob.account_number, 400, key="pay-1")

    other = await send(pool, alice, bob.account_number, 401, key="pay-1")

    assert (other.outcome, other.status, other.body) == ("mismatch", 422, None)
    assert await available(pool, alice) == 600


async def test_keys_are_scoped_per_user(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool, funds=1_000)
    a = await send(pool, alice, bob.account_number, 100, key="same")
    b = await send(pool, bob, alice.account_number, 300, key="same")
    assert (a.outcome, b.outcome) == ("posted", "posted")
    assert await available(pool, alice) == 1_200


async def test_a_key_held_by_a_running_request_answers_in_flight(
    pool: Pool, wallet_dsn: str
) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    holder = await asyncpg.connect(wallet_dsn)
    try:
        async with holder.transaction():
            # Exactly the lock a running wallet_p2p_batch call holds for this key.
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))", "busy", alice.id
            )
            busy = await send(pool, alice, bob.account_number, 100, key="busy")
        after = await send(pool, alice, bob.account_number, 100, key="busy")
    finally:
        await holder.close()
    assert (busy.outcome, busy.status) == ("in_flight", 409)
    assert after.outcome == "posted"


async def test_a_two_phase_key_still_in_flight_answers_409(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    probe = await send(pool, alice, bob.account_number, 100, key="probe")
    fingerprint = await pool.fetchval(
        "SELECT fingerprint FROM idempotency_keys WHERE key = 'probe'"
    )
    await pool.execute(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, state) "
        "VALUES ($1, 'running', $2, 'in_flight')",
        alice.id,
        fingerprint,
    )
    answer = await send(pool, alice, bob.account_number, 100, key="running")
    assert probe.outcome == "posted"
    assert (answer.outcome, answer.status) == ("in_flight", 409)


async def test_200_concurrent_transfers_post_exactly_the_affordable_number(pool: Pool) -> None:
    """The Must-show race: one account, 200 concurrent debits, only 37 affordable."""
    sender = await make_user(pool, funds=37 * 250 + 249)
    recipients = [await make_user(pool) for _ in range(5)]
    answers = await asyncio.gather(
        *(
            send(pool, sender, recipients[i % 5].account_number, 250, key=f"race-{i}")
            for i in range(200)
        )
    )
    outcomes = [a.outcome for a in answers]
    assert outcomes.count("posted") == 37
    assert outcomes.count("insufficient_funds") == 163
    assert await available(pool, sender) == 249
    assert sum([await available(pool, r) for r in recipients]) == 37 * 250
    report = await audit.check_invariants(pool)
    assert report.ok, report.violations()


async def test_opposite_transfers_at_once_do_not_deadlock(pool: Pool) -> None:
    alice = await make_user(pool, funds=100_000)
    bob = await make_user(pool, funds=100_000)
    answers = await asyncio.gather(
        *(
            send(pool, alice, bob.account_number, 7)
            if i % 2
            else send(pool, bob, alice.account_number, 5)
            for i in range(100)
        )
    )
    assert {a.outcome for a in answers} == {"posted"}
    assert await available(pool, alice) + await available(pool, bob) == 200_000
    assert (await audit.check_invariants(pool)).ok


async def test_the_ledger_refuses_to_edit_history(pool: Pool) -> None:
    alice = await make_user(pool, funds=100)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE entries SET amount = 1")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM entries")
    assert await available(pool, alice) == 100


async def test_the_check_constraint_backs_the_conditional_debit(pool: Pool) -> None:
    alice = await make_user(pool, funds=100)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "UPDATE ledger_accounts SET balance = balance - 101 WHERE user_id = $1", alice.id
        )


async def test_the_invariant_query_catches_a_forged_balance(pool: Pool) -> None:
    alice = await make_user(pool, funds=100)
    assert (await audit.check_invariants(pool)).ok
    await pool.execute(
        "UPDATE ledger_accounts SET balance = balance + 1 WHERE user_id = $1", alice.id
    )
    report = await audit.check_invariants(pool)
    assert report.violations() == {"unbalanced_currencies": 1, "drifted_accounts": 1}
