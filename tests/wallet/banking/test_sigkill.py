"""A bank or a wallet process SIGKILLed mid-batch: nothing lost, nothing twice.

Both services are real processes here (``vellet bank serve``, ``vellet
wallet serve``). A client that loses its connection retries with the same
Idempotency-Key, as any client should; the test then proves every accepted
request is one transfer that settled exactly once, and the books agree.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.support.flow_processes import bank_process, wallet_process
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


async def count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


@dataclass
class Load:
    """Mixed deposits and withdrawals, each with its own key, retried on connection loss."""

    users: list[WalletClient]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    answered: dict[str, str] = field(default_factory=dict)  # key -> transfer id
    unanswered: list[tuple[WalletClient, str, str, str]] = field(default_factory=list)

    def plan(self, n: int) -> list[tuple[WalletClient, str, str, str]]:
        steps = []
        for i in range(n):
            kind = "deposit" if i % 2 else "withdrawal"
            amount = f"{self.rng.randint(1, 300) / 100:.2f}"
            steps.append((self.users[i % len(self.users)], kind, amount, uuid.uuid4().hex))
        return steps

    async def send(self, step: tuple[WalletClient, str, str, str]) -> None:
        user, kind, amount, key = step
        try:
            reply = await move(user, kind, amount, key=key)
        except (aiohttp.ClientError, TimeoutError):
            self.unanswered.append(step)
            return
        assert reply.status in (201, 202), reply.body
        self.answered[key] = reply.body["id"]

    async def run(self, steps: list[tuple[WalletClient, str, str, str]], parallel: int = 10,
                  when: Callable[[int], bool] | None = None,
                  then: Callable[[], None] | None = None) -> None:  # fmt: skip
        """Send ``steps``; call ``then`` once ``when(answers so far)`` holds."""
        gate = asyncio.Semaphore(parallel)
        fired = False

        async def one(step: tuple[WalletClient, str, str, str]) -> None:
            nonlocal fired
            async with gate:
                await self.send(step)
                if when is not None and then is not None and not fired and when(len(self.answered)):
                    fired = True
                    then()

        await asyncio.gather(*(one(step) for step in steps))

    async def retry_unanswered(self) -> None:
        """Same key again until the wallet answers for good (409 while still in flight)."""
        pending, self.unanswered = self.unanswered, []
        for user, kind, amount, key in pending:
            reply = await eventually(lambda u=user, k=kind, a=amount, y=key: move(u, k, a, key=y),
                                     lambda r: r.status != 409, interval=0.2)  # fmt: skip
            assert reply.status in (201, 202), reply.body
            self.answered[key] = reply.body["id"]


async def test_a_bank_killed_mid_batch_loses_nothing_and_repeats_nothing(
    bank_proc: ServiceProcess, wallet_dsn: str, bank_db: str, redis_url: str,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    wallet: RunningWallet = await start_flow_wallet(wallet_dsn, redis_url, bank_proc.url)
    try:
        users = await open_accounts(bank_proc.internal_url, wallet.url, http, 6)
        for user in users:
            assert (await move(user, "deposit", "500.00")).body["state"] == "posted"
        load = Load(users)

        # 1. Killed while answering direct calls: in-flight calls fail over to the queue.
        await load.run(load.plan(120), when=lambda n: n >= 30, then=bank_proc.kill)
        assert not bank_proc.alive()
        assert len(load.answered) == 120
        await bank_proc.start()
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)

        # 2. Killed while draining the request stream, in the middle of its batches.
        bank_proc.kill()
        await load.run(load.plan(300), parallel=20)
        before = await count(bank_db, "SELECT count(*) FROM transactions")
        await bank_proc.start()
        executed = await eventually(
            lambda: count(bank_db, "SELECT count(*) FROM transactions"),
            lambda n: n >= before + 20, interval=0.005,
        )  # fmt: skip
        bank_proc.kill()
        assert executed < before + 300, "the bank finished before it could be killed"
        await bank_proc.start()
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)

        books = await compare_books(wallet_dsn, bank_db)
        assert books.ok, books.problems
        assert sum(books.by_state.values()) == 6 + 420
        ids = set(load.answered.values())
        assert len(ids) == 420
        told = await eventually(lambda: events_per_transfer(redis_url),
                                lambda seen: ids <= set(seen))  # fmt: skip
        assert {told[tid] for tid in ids} == {1}
    finally:
        await wallet.stop()


async def test_a_wallet_killed_mid_batch_loses_nothing_and_repeats_nothing(
    tmp_path: Path, bank_proc: ServiceProcess, wallet_dsn: str, bank_db: str, redis_url: str,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    # Small reads: a read of results is applied in one transaction, so with the
    # default 200 the 200 results below would be one all-or-nothing commit and
    # the kill could not land between applied and unapplied ones.
    wallet = await wallet_process(tmp_path, wallet_dsn, redis_url, bank_proc.url,
                                  VELLET_STREAM_BATCH_SIZE="8").start()  # fmt: skip
    try:
        users = await open_accounts(bank_proc.internal_url, wallet.url, http, 6)
        for user in users:
            assert (await move(user, "deposit", "500.00")).body["state"] == "posted"
        load = Load(users)

        # 1. Killed with requests in flight: some were never answered; clients retry.
        await load.run(load.plan(150), when=lambda n: n >= 40, then=wallet.kill)
        assert load.unanswered, "the wallet answered everything before it died"
        await wallet.start()
        await load.retry_unanswered()
        assert len(load.answered) == 150
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)

        # 2. Killed while applying the bank's results, in the middle of a batch.
        bank_proc.kill()
        await load.run(load.plan(200))
        finished = "SELECT count(*) FROM transfers WHERE finished_at IS NOT NULL"
        before = await count(wallet_dsn, finished)
        await bank_proc.start()
        applied = await eventually(lambda: count(wallet_dsn, finished),
                                   lambda n: n >= before + 20, interval=0.005)  # fmt: skip
        wallet.kill()
        assert applied < before + 200, "the wallet applied everything before it could be killed"
        await wallet.start()
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)

        books = await compare_books(wallet_dsn, bank_db)
        assert books.ok, books.problems
        ids = set(load.answered.values())
        assert len(ids) == 350  # one transfer per key, retries included
        assert sum(books.by_state.values()) == 6 + 350
        told = await eventually(lambda: events_per_transfer(redis_url),
                                lambda seen: ids <= set(seen))  # fmt: skip
        assert {told[tid] for tid in ids} == {1}
    finally:
        wallet.stop()
