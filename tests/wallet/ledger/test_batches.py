"""P2P group commit: many transfers in one ledger call keep every per-transfer rule.

The batch is one transaction, but each transfer in it is judged on its own,
in request order, on the balances the ones before it left; a key used
twice in one batch is in flight for its second use; one transfer that
cannot be written fails alone; and the batch's plans stay index probes as
the tables grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.wallet.ledger_helpers import available, make_user, new_account_number
from vellet.common.db import Pool
from vellet.common.errors import Unavailable
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import audit
from vellet.wallet.ledger import rules as ledger_rules
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.ledger.batcher import P2PBatcher
from vellet.wallet.settings import BatchSettings


def job(
    sender: auth_store.User, to: str, amount: int, *, key: str | None = None, currency: str = "INR"
) -> ledger_store.P2PJob:
    return ledger_store.P2PJob(
        sender.id,
        sender.account_number,
        key or uuid.uuid4().hex,
        ledger_rules.P2PRequest(to, amount, currency, None),
        uuid.uuid4(),
        uuid.uuid4(),
        None,
    )


@contextlib.asynccontextmanager
async def account_held(pool: Pool, user: auth_store.User) -> AsyncIterator[None]:
    """Keep a user's account row locked, as a long transaction would: a batch
    that touches it waits, and what arrives meanwhile queues behind it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM ledger_accounts WHERE user_id = $1 FOR UPDATE", user.id)
        yield


async def test_a_batch_applies_transfers_in_order_on_the_balances_before_them(
    pool: Pool,
) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    carol = await make_user(pool)
    euro = await make_user(pool, currency="EUR")

    answers = await ledger_store.p2p_batch(
        pool,
        [
            job(alice, bob.account_number, 600),  # posts: alice 400 left
            job(alice, carol.account_number, 500),  # refused: only 400 left
            job(bob, carol.account_number, 600),  # posts: bob was paid just before
            job(alice, new_account_number(), 1),  # unknown recipient
            job(alice, alice.account_number, 1),  # self
            job(alice, euro.account_number, 1),  # currency mismatch
            job(alice, carol.account_number, 400),  # posts: exactly what is left
        ],
    )

    assert [a.outcome for a in answers] == [
        "posted",
        "insufficient_funds",
        "posted",
        "unknown_recipient",
        "same_account",
        "currency_mismatch",
        "posted",
    ]
    assert [a.status for a in answers] == [201, 422, 201, 404, 422, 422, 201]
    assert (await available(pool, alice), await available(pool, bob)) == (0, 0)
    assert await available(pool, carol) == 1_000
    # Each posted transfer's event tells the balances right after IT, not after the batch.
    events = {
        str(r["transfer_id"]): json.loads(r["available"])
        for r in await pool.fetch("SELECT transfer_id, available FROM outbox")
    }
    first, third = json.loads(answers[0].body or ""), json.loads(answers[2].body or "")
    assert events[first["id"]] == {"sender": 400, "recipient": 600}
    assert events[third["id"]] == {"sender": 0, "recipient": 600}
    assert (await audit.check_invariants(pool)).ok


async def test_a_key_used_twice_in_one_batch_is_in_flight_the_second_time(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    first, twin = (
        job(alice, bob.account_number, 100, key="k"),
        job(alice, bob.account_number, 100, key="k"),
    )

    answers = await ledger_store.p2p_batch(pool, [first, twin])

    assert [(a.outcome, a.status) for a in answers] == [("posted", 201), ("in_flight", 409)]
    assert await available(pool, bob) == 100
    # After the commit, the same key replays the first answer.
    (again,) = await ledger_store.p2p_batch(pool, [twin])
    assert (again.outcome, again.body) == ("replayed", answers[0].body)


async def test_stored_keys_in_a_batch_replay_or_mismatch(pool: Pool) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    (posted,) = await ledger_store.p2p_batch(pool, [job(alice, bob.account_number, 100, key="a")])

    answers = await ledger_store.p2p_batch(
        pool,
        [
            job(alice, bob.account_number, 100, key="a"),  # same payload
            job(alice, bob.account_number, 999, key="a"),  # same key, other payload
            job(alice, bob.account_number, 100, key="b"),  # new
        ],
    )

    assert [a.outcome for a in answers] == ["replayed", "mismatch", "posted"]
    assert answers[0].body == posted.body
    assert await available(pool, bob) == 200


async def test_the_batcher_groups_concurrent_transfers_and_answers_each(pool: Pool) -> None:
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)
    sizes: list[int] = []
    batcher = P2PBatcher(pool, BatchSettings(max_size=16, concurrency=1), sizes.append)

    answers = await asyncio.gather(
        *(batcher.post(job(alice, bob.account_number, 100)) for _ in range(60))
    )
    await batcher.close()

    assert [a.outcome for a in answers] == ["posted"] * 60
    assert len({json.loads(a.body or "")["id"] for a in answers}) == 60
    assert sum(sizes) == 60
    assert max(sizes) == 16  # they queued behind the first call and shared commits
    assert len(sizes) < 60
    assert await available(pool, bob) == 6_000
    assert (await audit.check_invariants(pool)).ok


async def test_one_transfer_that_cannot_be_written_fails_alone(pool: Pool) -> None:
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)
    # A fault only one transfer meets: the database refuses amount 666.
    await pool.execute(
        "CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.amount = 666 THEN RAISE EXCEPTION 'no 666'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER refuse_666 BEFORE INSERT ON transfers "
        "FOR EACH ROW EXECUTE FUNCTION refuse_666()"
    )
    sizes: list[int] = []
    batcher = P2PBatcher(pool, BatchSettings(max_size=8, concurrency=1), sizes.append)
    # Alice's account held: the first call waits and the rest queue as one batch.
    async with account_held(pool, alice):
        first = asyncio.ensure_future(batcher.post(job(alice, bob.account_number, 1)))
        await asyncio.sleep(0.2)
        rest = [
            asyncio.ensure_future(batcher.post(job(alice, bob.account_number, amount)))
            for amount in (100, 666, 200)
        ]
        await asyncio.sleep(0.1)
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    await batcher.close()

    assert sizes[:2] == [1, 3]  # the three went as one batch first
    assert [getattr(r, "outcome", None) for r in results] == ["posted", "posted", None, "posted"]
    assert isinstance(results[2], asyncpg.RaiseError)
    assert await available(pool, bob) == 301
    assert (await audit.check_invariants(pool)).ok


async def test_past_the_queue_limit_a_transfer_is_refused_at_once_and_nothing_moves(
    pool: Pool,
) -> None:
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)
    batcher = P2PBatcher(pool, BatchSettings(max_size=8, concurrency=1, max_queue=2))
    # Alice's account held: the first call waits, two more fill the queue.
    async with account_held(pool, alice):
        first = asyncio.ensure_future(batcher.post(job(alice, bob.account_number, 1)))
        await asyncio.sleep(0.2)
        queued = [
            asyncio.ensure_future(batcher.post(job(alice, bob.account_number, 10)))
            for _ in range(2)
        ]
        await asyncio.sleep(0.1)
        with pytest.raises(Unavailable, match="overloaded"):  # at once, not after the wait
            await asyncio.wait_for(batcher.post(job(alice, bob.account_number, 100)), 5)
    answers = await asyncio.gather(first, *queued)
    await batcher.close()

    assert [a.outcome for a in answers] == ["posted"] * 3
    assert await available(pool, bob) == 21
    assert (await audit.check_invariants(pool)).ok


async def test_a_closed_batcher_refuses_new_transfers(pool: Pool) -> None:
    alice = await make_user(pool, funds=100)
    bob = await make_user(pool)
    batcher = P2PBatcher(pool, BatchSettings())
    await batcher.close()

    with pytest.raises(Unavailable):
        await batcher.post(job(alice, bob.account_number, 1))
    assert await available(pool, bob) == 0


async def test_batches_probe_indexes_however_big_the_tables_grow(pool: Pool) -> None:
    """PL/pgSQL caches a generic plan after five calls and keeps it while the
    tables grow. Planned on small tables, a batch that hashed or scanned
    whole tables got slower with every transfer; its lookups must stay index
    probes whatever the tables looked like when the plan was made."""
    users = [await make_user(pool, funds=10**9) for _ in range(20)]

    def batch(round_: int) -> list[ledger_store.P2PJob]:
        return [
            job(users[(round_ + i) % 20], users[(round_ + i + 1) % 20].account_number, 1)
            for i in range(10)
        ]

    tables = ("idempotency_keys", "users", "ledger_accounts")
    count = "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname = ANY($1::text[])"
    async with pool.acquire() as conn:  # one backend: its cached plans are reused
        for round_ in range(8):  # plans made while the tables are small
            await ledger_store.p2p_batch(conn, batch(round_))
        await pool.execute(
            "INSERT INTO users (account_number, name, email, currency, password_hash) "
            "SELECT (500000000000 + g)::text, 'u', 'u@example.test', 'INR', 'x' "
            "FROM generate_series(1, 3000) AS g; "
            "INSERT INTO ledger_accounts (user_id, currency) "
            "SELECT id, 'INR' FROM users WHERE account_number LIKE '5000%'; "
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, response_status, "
            "response_body) SELECT u.id, 'old-' || g, 'f', 'done', 201, '{}' "
            "FROM users u, generate_series(1, 3) AS g"
        )
        async with conn.transaction():
            # The transaction's own statistics count what these calls scanned
            # (from a baseline: they may hold earlier, unflushed counts).
            before = {r["relname"]: r["seq_scan"] for r in await conn.fetch(count, tables)}
            for round_ in range(8, 12):
                outcomes = {a.outcome for a in await ledger_store.p2p_batch(conn, batch(round_))}
                assert outcomes == {"posted"}
            after = {r["relname"]: r["seq_scan"] for r in await conn.fetch(count, tables)}
    assert {t: after.get(t, 0) - before.get(t, 0) for t in tables} == dict.fromkeys(tables, 0)
