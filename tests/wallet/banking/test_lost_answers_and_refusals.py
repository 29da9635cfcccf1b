"""The bank did it but its answer was lost; the bank refused and the user is told why."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support.bank import RunningBank, admin_token, auth
from tests.support.tcp_proxy import lossy_proxy_to
from tests.support.waiting import eventually
from tests.wallet.banking.helpers import compare_books, move, start_flow_wallet
from tests.wallet.stack import RunningWallet, WalletClient, registered
from vellet.bench.faults import LossyProxy
from vellet.common import streams
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import audit
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL


@pytest.fixture
async def proxy(bank: RunningBank) -> AsyncIterator[LossyProxy]:
    running = await lossy_proxy_to(bank.url)
    yield running
    await running.stop()


@pytest.fixture
async def lossy_wallet(wallet_dsn: str, redis_url: str,
                       proxy: LossyProxy) -> AsyncIterator[RunningWallet]:  # fmt: skip
    """A wallet whose every call to the bank goes through the lossy proxy."""
    running = await start_flow_wallet(wallet_dsn, redis_url, proxy.url)
    yield running
    await running.stop()


async def state_of(client: WalletClient, transfer_id: str) -> str:
    reply = await client.call("GET", f"/api/v1/transfers/{transfer_id}")
    return str(reply.body["state"])


async def bank_rows(bank_db: str, transfer_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(bank_db)
    try:
        return list(await conn.fetch(
            "SELECT status, reason FROM transactions WHERE transfer_id = $1", uuid.UUID(transfer_id)
        ))  # fmt: skip
    finally:
        await conn.close()


async def test_the_bank_executed_but_the_answer_was_lost_and_it_was_queued_money_moves_once(
    bank: RunningBank, bank_db: str, wallet_dsn: str, proxy: LossyProxy,
    lossy_wallet: RunningWallet, http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    alice = await registered(bank, lossy_wallet, http, balance="500.00")
    assert (await move(alice, "deposit", "100.00")).status == 201

    proxy.drop_responses = True
    withdrawal = await move(alice, "withdrawal", "30.00")
    deposit = await move(alice, "deposit", "20.00")
    # The wallet heard nothing and queued both...
    assert (withdrawal.status, withdrawal.body["state"]) == (202, "queued")
    assert (deposit.status, deposit.body["state"]) == (202, "queued")
    assert proxy.dropped_bytes > 0
    # ...but the bank had executed both already.
    for reply in (withdrawal, deposit):
        assert [r["status"] for r in await bank_rows(bank_db, reply.body["id"])] == ["succeeded"]

    # The queued copies reach the bank's consumer, which replays the first
    # outcome; the wallet applies it once.
    for reply in (withdrawal, deposit):
        await eventually(lambda r=reply: state_of(alice, r.body["id"]), lambda s: s == "posted")
        assert len(await bank_rows(bank_db, reply.body["id"])) == 1
    me = await alice.me()
    assert me.body["balance"] == {"currency": "INR", "available": "90.00", "pending": "0.00"}
    async with http.get(f"{bank.internal_url}/metrics") as resp:
        text = await resp.text()
    assert 'path="stream",replay="true"' in text  # the bank saw the retry and replayed
    books = await compare_books(wallet_dsn, bank_db)
    assert books.ok, books.problems
    assert books.wallet_settlement == books.bank_settlement == 90_00


async def close_account(bank: RunningBank, http: aiohttp.ClientSession, number: str) -> None:
    url = f"{bank.internal_url}/api/v1/accounts/{number}"
    async with http.patch(url, json={"status": "closed"}, headers=auth(admin_token())) as resp:
        assert resp.status == 200


async def events_of(redis_url: str, transfer_id: str) -> list[dict[str, object]]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await client.xrange(streams.TRANSFER_EVENTS)
    finally:
        await client.aclose()
    found = [json.loads(fields["payload"]) for _, fields in entries]
    return [e for e in found if e["transfer_id"] == transfer_id]


async def test_a_withdrawal_to_a_closed_account_is_voided_released_and_explained(
    bank: RunningBank, proxy: LossyProxy, lossy_wallet: RunningWallet,
    http: aiohttp.ClientSession, redis_url: str, wallet_dsn: str, bank_db: str,
) -> None:  # fmt: skip
    alice = await registered(bank, lossy_wallet, http)
    assert (await move(alice, "deposit", "100.00")).status == 201
    await close_account(bank, http, alice.account_number or "")

    direct = await move(alice, "withdrawal", "40.00")  # the bank answers at once
    assert (direct.status, direct.body["state"]) == (201, "voided")
    assert direct.body["failure_reason"] == "account_closed"
    assert (await alice.me()).body["balance"]["available"] == "100.00"

    proxy.drop_responses = True  # now the refusal arrives through the streams
    queued = await move(alice, "withdrawal", "60.00")
    assert queued.status == 202
    assert (await alice.me()).body["balance"] == {
        "currency": "INR", "available": "40.00", "pending": "60.00"}  # fmt: skip
    await eventually(lambda: state_of(alice, queued.body["id"]), lambda s: s == "voided")
    shown = await alice.call("GET", f"/api/v1/transfers/{queued.body['id']}")
    assert shown.body["failure_reason"] == "account_closed"
    assert (await alice.me()).body["balance"] == {
        "currency": "INR", "available": "100.00", "pending": "0.00"}  # fmt: skip
    proxy.drop_responses = False

    refused_deposit = await move(alice, "deposit", "5.00")
    assert (refused_deposit.body["state"], refused_deposit.body["failure_reason"]) == (
        "failed", "account_closed")  # fmt: skip

    # The user is told: one event per refusal, with the reason, for the notifier.
    for reply, final in ((direct, "voided"), (queued, "voided"), (refused_deposit, "failed")):
        told = await eventually(lambda r=reply: events_of(redis_url, r.body["id"]), bool)
        assert [(e["state"], e["failure_reason"]) for e in told] == [(final, "account_closed")]
    books = await compare_books(wallet_dsn, bank_db)
    assert books.ok, books.problems


async def test_a_withdrawal_in_a_currency_the_bank_account_does_not_hold_is_voided(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    bob = await registered(bank, wallet, http)  # an INR bank account
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, bob.account_number or "")
    assert user is not None
    # A EUR wallet for bob, funded inside the ledger: the bank's account stays INR.
    await pool.execute(
        "INSERT INTO ledger_accounts (user_id, currency) VALUES ($1, 'EUR')", user.id
    )
    await pool.execute("INSERT INTO ledger_accounts (system_code, currency) "
                       "VALUES ('bank_settlement', 'EUR')")  # fmt: skip
    await ledger_store.post_deposit(pool, user.id, 50_00, "EUR")

    reply = await move(bob, "withdrawal", "20.00", currency="EUR")
    assert (reply.status, reply.body["state"], reply.body["failure_reason"]) == (
        201, "voided", "currency_mismatch")  # fmt: skip
    assert (
        await pool.fetchval(
            "SELECT balance - pending FROM ledger_accounts WHERE user_id = $1 AND currency = 'EUR'",
            user.id,
        )
        == 50_00
    )
    deposit = await move(bob, "deposit", "1.00", currency="EUR")
    assert (deposit.body["state"], deposit.body["failure_reason"]) == (
        "failed",
        "currency_mismatch",
    )
    assert (await audit.check_invariants(pool)).ok


async def test_a_withdrawal_needs_available_money_and_a_wallet_in_its_currency(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, bank_db: str,
) -> None:  # fmt: skip
    alice = await registered(bank, wallet, http)
    key = "withdraw-too-much"
    too_much = await move(alice, "withdrawal", "0.01", key=key)
    assert (too_much.status, too_much.body["code"]) == (422, "insufficient_funds")
    assert (await move(alice, "withdrawal", "0.01", key=key)).body == too_much.body  # replayed
    other = await move(alice, "withdrawal", "0.01", currency="USD")
    assert (other.status, other.body["code"]) == (422, "currency_mismatch")
    conn = await asyncpg.connect(bank_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM transactions") == 0  # never asked
    finally:
        await conn.close()
