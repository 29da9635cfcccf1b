"""The request stream executes only what the wallet signed for it.

The attack from issue 10: anyone who can XADD to ``vellet:bank:requests``
asked the bank to pay 600.00 out of the settlement account into an
outsider's account, and it did. Here every way of dressing that request up
(unsigned, forged with another key, a genuine request altered or re-aimed
at another transfer, a message signed for another stream) is sent to a real
bank on real Redis and PostgreSQL: no bank balance moves, each one lands in
the dead-letter stream with its reason, and each is counted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.bank.helpers import db_fetchval, results_for, transfer
from tests.support.bank import RunningBank
from tests.support.forgery import dead_reasons, tricks, without, xadd_all
from tests.support.keys import TEST_KEYS
from tests.support.waiting import eventually
from vellet.common import metrics, streams

DEPOSITOR, OUTSIDER = "610000000001", "610000000002"
REFUSED = "vellet_stream_messages_refused_total"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = streams.connect(redis_url)
    yield client
    await client.aclose()


def refused_count(bank: RunningBank, reason: str) -> float:
    """The bank's own counter (read from its registry: the same numbers /metrics shows)."""
    registry = bank.app[metrics.REGISTRY_KEY]
    labels = {"stream": streams.BANK_REQUESTS, "reason": reason}
    return registry.get_sample_value(REFUSED, labels) or 0.0


async def balances(bank_db: str) -> tuple[int, int, int]:
    sql = "SELECT balance FROM accounts WHERE account_number = $1"
    depositor = await db_fetchval(bank_db, sql, DEPOSITOR)
    outsider = await db_fetchval(bank_db, sql, OUTSIDER)
    settlement = await db_fetchval(bank_db, "SELECT balance FROM settlement WHERE currency='INR'")
    return depositor, outsider, settlement


async def test_no_forged_altered_unsigned_or_replayed_request_pays_an_outsider(
    bank: RunningBank, bank_db: str, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = TEST_KEYS["wallet"]
    await bank.create_account(DEPOSITOR, balance="1000.00")
    await bank.create_account(OUTSIDER, balance="0.00")
    deposit = transfer(DEPOSITOR, "1000.00")  # the depositor's real deposit, signed
    await streams.publish(redis, streams.BANK_REQUESTS, deposit, wallet)
    await eventually(lambda: results_for(redis_url, deposit["transfer_id"]), lambda r: len(r) == 1)
    assert await balances(bank_db) == (0, 0, 100000)

    payout = transfer(OUTSIDER, "600.00", "from_wallet", transfer_id=str(uuid.uuid4()))
    attacks = tricks(streams.BANK_REQUESTS, wallet, deposit, payout, TEST_KEYS["bank"])
    # A request the wallet signed but that lacks a field: refused, never defaulted.
    attacks["missing a field"] = ("missing_field", streams.message(
        wallet, streams.BANK_REQUESTS, without(payout, "currency")))  # fmt: skip
    sent = await xadd_all(redis, streams.BANK_REQUESTS, attacks)
    # One genuine request after them: once its result is out, every attack was handled.
    last = transfer(DEPOSITOR, "1.00", "from_wallet")
    await streams.publish(redis, streams.BANK_REQUESTS, last, wallet)
    await eventually(lambda: results_for(redis_url, last["transfer_id"]), lambda r: len(r) == 1)

    assert await balances(bank_db) == (100, 0, 99900)  # only the genuine 1.00 moved
    assert await results_for(redis_url, payout["transfer_id"]) == []
    dead = await eventually(
        lambda: dead_reasons(redis, streams.BANK_REQUESTS, set(sent)),
        lambda d: len(d) == len(sent),
    )
    assert dead == sent
    assert await db_fetchval(bank_db, "SELECT count(*) FROM transactions WHERE transfer_id = $1",
                             uuid.UUID(payout["transfer_id"])) == 0  # fmt: skip
    for reason in set(sent.values()):
        expected = sum(1 for r in sent.values() if r == reason)
        assert refused_count(bank, reason) == expected, reason


async def test_the_bank_signs_every_result_with_its_own_key(
    bank: RunningBank, redis_url: str, redis: aioredis.Redis
) -> None:
    await bank.create_account("610000000003", balance="5.00")
    body = transfer("610000000003", "5.00")
    await streams.publish(redis, streams.BANK_REQUESTS, body, TEST_KEYS["wallet"])
    await eventually(lambda: results_for(redis_url, body["transfer_id"]), lambda r: len(r) == 1)
    entries: Any = await redis.xrange(streams.BANK_RESULTS)
    mine = [f for _, f in entries if json.loads(f["payload"])["transfer_id"] == body["transfer_id"]]
    streams.verify(streams.BANK_RESULTS, mine[0], (TEST_KEYS["bank"].public(),))
    assert json.loads(mine[0]["payload"]) | {"bank_txn_id": None} == {
        "transfer_id": body["transfer_id"], "bank_txn_id": None, "status": "succeeded",
        "reason": None, "account_number": "610000000003", "direction": "to_wallet",
        "amount": "5.00", "currency": "INR",
    }  # fmt: skip
