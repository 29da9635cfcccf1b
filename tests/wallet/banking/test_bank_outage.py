"""The bank is down: transfers are accepted, reserved, and settle once it is back.

The bank is a real ``vellet bank serve`` process, SIGKILLed and started again
on the same port and database; the wallet runs in this event loop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.flow_processes import bank_process
from tests.support.waiting import eventually
from tests.wallet.banking.helpers import (
    compare_books,
    events_per_transfer,
    move,
    open_accounts,
    start_flow_wallet,
    unfinished,
)
from tests.wallet.stack import RunningWallet, WalletClient
from vellet.bench.faults import ServiceProcess


@pytest.fixture
async def bank_proc(tmp_path: Path, bank_db: str, redis_url: str) -> AsyncIterator[ServiceProcess]:
    proc = await bank_process(tmp_path, bank_db, redis_url).start()
    yield proc
    proc.stop()


@pytest.fixture
async def wallet_on_proc(wallet_dsn: str, redis_url: str,
                         bank_proc: ServiceProcess) -> AsyncIterator[RunningWallet]:  # fmt: skip
    running = await start_flow_wallet(wallet_dsn, redis_url, bank_proc.url)
    yield running
    await running.stop()


async def test_500_transfers_wait_out_a_dead_bank_and_settle_exactly_once(
    bank_proc: ServiceProcess, wallet_on_proc: RunningWallet, http: aiohttp.ClientSession,
    wallet_dsn: str, bank_db: str, redis_url: str,
) -> None:  # fmt: skip
    wallet = wallet_on_proc
    users = await open_accounts(bank_proc.internal_url, wallet.url, http, 10, balance="10000.00")
    for user in users:
        assert (await move(user, "deposit", "1000.00")).body["state"] == "posted"
    carol, dave = await open_accounts(bank_proc.internal_url, wallet.url, http, 2, balance="100.00")
    assert (await move(carol, "deposit", "100.00")).body["state"] == "posted"

    bank_proc.kill()
    rng = random.Random(4)
    plan = []
    for i in range(500):
        kind = "deposit" if i % 2 == 0 else "withdrawal"
        amount = f"{rng.randint(1, 2000) / 100:.2f}"
        if i % 100 == 0:
            amount = "20000.00"  # more than the bank account holds: the bank will refuse it
        plan.append((users[i % len(users)], kind, amount))
    gate = asyncio.Semaphore(25)

    async def send(user: WalletClient, kind: str, amount: str) -> tuple[int, str, str]:
        async with gate:
            reply = await move(user, kind, amount)
        return reply.status, reply.body.get("state", reply.body.get("code")), reply.body.get("id")

    answers = await asyncio.gather(*(send(*step) for step in plan))
    assert {(status, state) for status, state, _ in answers} == {(202, "queued")}
    ids = {tid for _, _, tid in answers}
    assert len(ids) == 500

    # Reserved money cannot be spent twice while the bank is away.
    all_in = await move(carol, "withdrawal", "100.00")
    assert (all_in.status, all_in.body["state"]) == (202, "queued")
    assert (await carol.me()).body["balance"] == {
        "currency": "INR", "available": "0.00", "pending": "100.00"}  # fmt: skip
    spend = await carol.send(dave.account_number or "", "0.01")
    assert (spend.status, spend.body["code"]) == (422, "insufficient_funds")
    again = await move(carol, "withdrawal", "0.01")
    assert (again.status, again.body["code"]) == (422, "insufficient_funds")

    await bank_proc.start()
    await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=90)

    books = await compare_books(wallet_dsn, bank_db)
    assert books.ok, books.problems
    assert books.by_state == {"posted": 10 + 1 + 1 + 495, "failed": 5}
    assert books.wallet_settlement == books.bank_settlement
    assert (await carol.me()).body["balance"] == {
        "currency": "INR", "available": "0.00", "pending": "0.00"}  # fmt: skip
    # One final transition each: exactly one event per transfer for the notifier.
    told = await eventually(lambda: events_per_transfer(redis_url),
                            lambda seen: ids <= set(seen))  # fmt: skip
    assert {told[tid] for tid in ids} == {1}
