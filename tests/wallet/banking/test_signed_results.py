"""The wallet settles a deposit only on a result the bank signed, for that very transfer.

Issue 10: one forged ``{"transfer_id": <a queued deposit>, "status":
"succeeded"}`` on ``vellet:bank:results`` posted a deposit the bank never
made. Here a real wallet holds a deposit queued while the bank is away, and
every dressed-up "succeeded" (unsigned, signed with another key, a genuine
result altered or re-aimed at this transfer, a bank message for another
stream) is refused: dead-lettered with its reason, counted, the deposit
still queued. So is a result the bank *did* sign that describes another
movement (amount, account, direction, currency) or lacks a field. When the
bank comes back, the real result settles the deposit, once, even replayed.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from tests.support.bank import start_bank
from tests.support.forgery import dead_reasons, tricks, without, xadd_all
from tests.support.keys import TEST_KEYS
from tests.support.waiting import eventually
from tests.wallet.banking.helpers import move, open_accounts, start_flow_wallet
from vellet.common import metrics, streams
from vellet.wallet import state as wallet_state
from vellet.wallet.ledger import audit

REFUSED = "vellet_stream_messages_refused_total"


async def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def state(wallet_dsn: str, tid: str) -> str:
    return str(await fetchval(wallet_dsn, "SELECT state FROM transfers WHERE id = $1",
                              uuid.UUID(tid)))  # fmt: skip


async def handled(redis: aioredis.Redis) -> bool:
    """Every result delivered to the wallet's group and acknowledged."""
    groups: Any = await redis.xinfo_groups(streams.BANK_RESULTS)
    info = next(g for g in groups if g["name"] == "wallet")
    last: Any = await redis.xrevrange(streams.BANK_RESULTS, count=1)
    return int(info["pending"]) == 0 and info["last-delivered-id"] == last[0][0]


async def test_a_forged_success_leaves_a_queued_deposit_queued_until_the_real_one_settles_it(
    bank_db: str, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    bank = await start_bank(bank_db, redis_url)
    wallet = await start_flow_wallet(wallet_dsn, redis_url, bank.url)
    redis = streams.connect(redis_url)
    try:
        [alice] = await open_accounts(bank.internal_url, wallet.url, http, 1, balance="1000.00")
        earlier = await move(alice, "deposit", "10.00")
        assert earlier.body["state"] == "posted"
        await bank.stop()  # the bank is away: the next deposit waits, queued
        queued = await move(alice, "deposit", "100.00")
        assert (queued.status, queued.body["state"]) == (202, "queued")
        tid = queued.body["id"]
        await eventually(lambda: redis.xlen(streams.BANK_REQUESTS), lambda n: n >= 1)

        bank_key, number = TEST_KEYS["bank"], str(alice.account_number)
        # A result the bank really signed (for the earlier deposit), as read off the stream...
        real_earlier = {"transfer_id": earlier.body["id"], "bank_txn_id": str(uuid.uuid4()),
                        "status": "succeeded", "reason": None, "account_number": number,
                        "direction": "to_wallet", "amount": "10.00", "currency": "INR"}  # fmt: skip
        # ...and what the attacker wants applied: the queued deposit, succeeded.
        wanted = real_earlier | {"transfer_id": tid, "amount": "100.00"}
        attacks = tricks(streams.BANK_RESULTS, bank_key, real_earlier, wanted, TEST_KEYS["wallet"])
        # Signed by the bank, yet not this transfer's movement, or not saying what it moved.
        for name, change in {"amount": {"amount": "1000.00"}, "currency": {"currency": "EUR"},
                             "account": {"account_number": "999999999999"},
                             "direction": {"direction": "from_wallet"},
                             "transfer": {"transfer_id": str(uuid.uuid4())}}.items():  # fmt: skip
            attacks[f"another {name}"] = (
                "mismatch",
                streams.message(bank_key, streams.BANK_RESULTS, wanted | change),
            )
        for field in ("amount", "account_number", "direction", "currency"):
            attacks[f"without {field}"] = ("missing_field", streams.message(
                bank_key, streams.BANK_RESULTS, without(wanted, field)))  # fmt: skip
        sent = await xadd_all(redis, streams.BANK_RESULTS, attacks)
        await eventually(lambda: handled(redis), bool)  # every forged result handled

        assert await state(wallet_dsn, tid) == "queued"
        assert await fetchval(wallet_dsn, "SELECT count(*) FROM entries WHERE transfer_id = $1",
                              uuid.UUID(tid)) == 0  # fmt: skip
        assert await dead_reasons(redis, streams.BANK_RESULTS, set(sent)) == sent
        registry = wallet.app[metrics.REGISTRY_KEY]
        for reason in set(sent.values()):
            labels = {"stream": streams.BANK_RESULTS, "reason": reason}
            expected = sum(1 for r in sent.values() if r == reason)
            assert registry.get_sample_value(REFUSED, labels) == expected, reason

        bank = await start_bank(bank_db, redis_url)  # back: it executes the real request
        await eventually(lambda: state(wallet_dsn, tid), lambda s: s == "posted")
        entries: Any = await redis.xrange(streams.BANK_RESULTS)
        [real] = [f for msg_id, f in entries if msg_id not in sent
                  and streams.payload_of(f)["transfer_id"] == tid]  # fmt: skip
        await redis.xadd(streams.BANK_RESULTS, real)  # the genuine result, replayed
        await eventually(lambda: handled(redis), bool)  # the replay handled

        assert await state(wallet_dsn, tid) == "posted"
        # Posted once: one debit and one credit; the bank moved 10.00 and 100.00, once each.
        assert await fetchval(wallet_dsn, "SELECT count(*) FROM entries WHERE transfer_id = $1",
                              uuid.UUID(tid)) == 2  # fmt: skip
        assert await fetchval(bank_db, "SELECT balance FROM accounts WHERE account_number = $1",
                              number) == 89000  # fmt: skip
        pool = wallet.app[wallet_state.POOL]
        assert (await audit.check_invariants(pool)).ok
    finally:
        await redis.aclose()
        await wallet.stop()
        await bank.stop()
