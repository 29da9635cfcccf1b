"""The request-stream consumer under failure: killed, poisoned, replicated.

The killed-consumer tests use a real `vellet bank serve` process and SIGKILL
it while it holds a message it has read but not acknowledged: it is blocked
on a row lock this test holds, so it dies mid-transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.bank.helpers import audit, db_fetchval, publish_raw, results_for, transfer
from tests.support.bank import RunningBank, bank_env, bank_process, new_port, start_bank
from tests.support.keys import TEST_KEYS
from tests.support.waiting import eventually
from vellet.bench.faults import ServiceProcess
from vellet.common import streams

GROUP = "bank"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = streams.connect(redis_url)
    yield client
    await client.aclose()


async def _pending_owner(redis: aioredis.Redis) -> list[str]:
    try:
        rows = await redis.xpending_range(streams.BANK_REQUESTS, GROUP, "-", "+", 10)
    except aioredis.ResponseError:
        return []
    return [str(r["consumer"]) for r in rows]


async def _wait_blocked_on_lock(dsn: str) -> None:
    await eventually(
        lambda: db_fetchval(dsn, "SELECT count(*) FROM pg_stat_activity "
                                 "WHERE wait_event_type = 'Lock' AND datname = current_database()"),
        lambda n: n >= 1,
    )  # fmt: skip


@pytest.mark.parametrize("recovery", ["claimed-by-another", "drained-on-restart"])
async def test_consumer_killed_before_ack_executes_exactly_once(
    bank_db: str, redis_url: str, redis: aioredis.Redis, recovery: str, tmp_path: Path
) -> None:
    api = await start_bank(bank_db, redis_url, consume=False)
    await api.create_account("333333333", balance="500.00")
    body = transfer("333333333", "120.00")
    env = bank_env(
        bank_db,
        redis_url,
        new_port(),
        VELLET_CONSUMER_NAME="doomed",
        VELLET_STREAM_CLAIM_IDLE_MS="600000",
    )
    doomed = bank_process(env, tmp_path)
    locker = await asyncpg.connect(bank_db)
    rescuer: RunningBank | ServiceProcess | None = None
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("SELECT 1 FROM accounts WHERE account_number = '333333333' FOR UPDATE")
        await doomed.start()
        await streams.publish(redis, streams.BANK_REQUESTS, body, TEST_KEYS["wallet"])
        await eventually(lambda: _pending_owner(redis), lambda owners: owners == ["doomed"])
        await _wait_blocked_on_lock(bank_db)
        doomed.kill()  # read, not acknowledged, transaction in flight
        await tx.rollback()
        assert await db_fetchval(bank_db, "SELECT count(*) FROM transactions") == 0

        if recovery == "claimed-by-another":
            rescuer = await start_bank(bank_db, redis_url, consumer_name="rescuer")
        else:  # the same consumer name comes back and drains its own pending entries
            rescuer = await bank_process(env, tmp_path).start()
        found = await eventually(
            lambda: results_for(redis_url, body["transfer_id"]), lambda r: len(r) >= 1
        )
    finally:
        doomed.kill()
        await locker.close()
        if isinstance(rescuer, RunningBank):
            await rescuer.stop()
        elif rescuer is not None:
            rescuer.stop()
        await api.stop()

    assert {r["status"] for r in found} == {"succeeded"}
    assert await db_fetchval(bank_db, "SELECT count(*) FROM transactions") == 1
    assert await db_fetchval(bank_db, "SELECT balance FROM accounts") == 38000
    assert await _pending_owner(redis) == []
    assert await audit(bank_db) == []


async def test_poison_messages_are_dead_lettered_and_do_not_block_others(
    bank: RunningBank, bank_db: str, redis_url: str, redis: aioredis.Redis
) -> None:
    await bank.create_account("444444444", balance="100.00")
    first, last = transfer("444444444", "1.00"), transfer("444444444", "2.00")
    await streams.publish(redis, streams.BANK_REQUESTS, first, TEST_KEYS["wallet"])
    await publish_raw(redis_url, streams.BANK_REQUESTS, {"payload": "{not json"})
    await streams.publish(
        redis, streams.BANK_REQUESTS, transfer("444444444", "-5"), TEST_KEYS["wallet"]
    )
    await publish_raw(redis_url, streams.BANK_REQUESTS, {"something": "else"})
    await streams.publish(redis, streams.BANK_REQUESTS, last, TEST_KEYS["wallet"])

    for good in (first, last):
        await eventually(
            lambda g=good: results_for(redis_url, g["transfer_id"]),  # type: ignore[misc]
            lambda r: len(r) == 1,
        )
    dead_stream = streams.dead_letter_stream(streams.BANK_REQUESTS)
    dead = await eventually(lambda: redis.xrange(dead_stream), lambda d: len(d) == 3)
    # Refused at their first delivery: none of them could ever succeed.
    assert all(int(f["deliveries"]) == 1 for _, f in dead)
    assert sorted(f["reason"] for _, f in dead) == ["malformed", "unsigned", "unsigned"]
    assert {f["origin_stream"] for _, f in dead} == {streams.BANK_REQUESTS}
    assert await _pending_owner(redis) == []
    assert await db_fetchval(bank_db, "SELECT balance FROM accounts") == 9700


async def test_two_replicas_share_the_stream_and_execute_each_request_once(
    bank_db: str, redis_url: str, redis: aioredis.Redis
) -> None:
    one = await start_bank(bank_db, redis_url, consumer_name="replica-1")
    two = await start_bank(bank_db, redis_url, consumer_name="replica-2")
    try:
        for n in range(4):
            await one.create_account(f"55555555{n}", balance="1000.00")
        requests = [
            transfer(f"55555555{i % 4}", "1.00", transfer_id=str(uuid.uuid4())) for i in range(200)
        ]
        await asyncio.gather(
            *(
                streams.publish(redis, streams.BANK_REQUESTS, r, TEST_KEYS["wallet"])
                for r in requests
            )
        )
        await eventually(lambda: redis.xlen(streams.BANK_RESULTS), lambda n: n >= 200)
        await eventually(lambda: _pending_owner(redis), lambda owners: owners == [])
        handled = await redis.xinfo_consumers(streams.BANK_REQUESTS, GROUP)
    finally:
        await one.stop()
        await two.stop()
    assert {c["name"] for c in handled} == {"replica-1", "replica-2"}
    assert await db_fetchval(bank_db, "SELECT count(*) FROM transactions") == 200
    assert await db_fetchval(bank_db, "SELECT sum(balance) FROM accounts") == 400000 - 20000
    assert await audit(bank_db) == []
