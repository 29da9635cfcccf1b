"""Two wallet replicas and two bank replicas at once, through an outage.

Both wallets share one database and Redis, each with its own consumer name,
relay, breaker and reconciler; both banks share theirs. Requests land on
either wallet, a key is even raced across both, the banks go away and come
back: every transfer still settles exactly once and the books agree.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import aiohttp

from tests.support.bank import RunningBank, start_bank
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
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings


def on(client: WalletClient, wallet: RunningWallet) -> WalletClient:
    """The same logged-in user, talking to another replica."""
    return WalletClient(client.http, wallet.url, client.token, client.account_number)


async def test_two_wallets_and_two_banks_settle_everything_once(
    bank_db: str, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    ports = [free_port(), free_port()]

    async def banks() -> list[RunningBank]:
        return [
            await start_bank(
                bank_db, redis_url, http=HttpSettings(port=port), consumer_name=f"bank-{i}"
            )
            for i, port in enumerate(ports)
        ]

    bank_pair = await banks()
    wallets = [
        await start_flow_wallet(
            wallet_dsn,
            redis_url,
            bank.url,
            consumer_name=f"wallet-{i}",
            reconciler=True,
            stuck_after=1.0,
        )
        for i, bank in enumerate(bank_pair)
    ]
    try:
        users = await open_accounts(bank_pair[0].internal_url, wallets[0].url, http, 6)
        for user in users:
            assert (await move(user, "deposit", "300.00")).body["state"] == "posted"
        rng = random.Random(11)
        ids: set[str] = set()

        async def burst(n: int, expect: set[int]) -> None:
            gate = asyncio.Semaphore(16)

            async def one(i: int) -> None:
                user = on(users[i % 6], wallets[i % 2])
                kind = "deposit" if rng.random() < 0.5 else "withdrawal"
                async with gate:
                    reply = await move(user, kind, f"{rng.randint(1, 500) / 100:.2f}")
                assert reply.status in expect, reply.body
                ids.add(reply.body["id"])

            await asyncio.gather(*(one(i) for i in range(n)))

        await burst(100, {201})  # both banks up: direct answers through both replicas
        for bank in bank_pair:
            await bank.stop()
        await burst(150, {202})  # both down: queued through both replicas
        # The same key sent to both replicas at once: one transfer.
        key = uuid.uuid4().hex
        raced = await asyncio.gather(*(move(on(users[0], w), "deposit", "1.00", key=key)
                                       for w in wallets))  # fmt: skip
        assert sorted(r.status for r in raced) in ([202, 409], [202, 202])
        winner = {r.body["id"] for r in raced if r.status == 202}
        assert len(winner) == 1
        ids |= winner

        bank_pair = await banks()
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)
        books = await compare_books(wallet_dsn, bank_db)
        assert books.ok, books.problems
        assert sum(books.by_state.values()) == 6 + 251
        told = await eventually(lambda: events_per_transfer(redis_url),
                                lambda seen: ids <= set(seen))  # fmt: skip
        assert {told[tid] for tid in ids} == {1}
    finally:
        for wallet in wallets:
            await wallet.stop()
        for bank in bank_pair:
            await bank.stop()
