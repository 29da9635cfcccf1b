"""Redis forgets the queue; the database remembers, and the reconciler re-drives.

Transfers are queued while the bank is down, then the queue is lost: FLUSHALL,
or a Redis without persistence killed and started again. When the bank is
back the reconciler finds them stuck, checks the bank's health and
re-publishes them; each completes exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

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
from tests.wallet.stack import RunningWallet
from vellet.common import metrics, streams
from vellet.common.embedded import EmbeddedRedis, free_port
from vellet.common.settings import HttpSettings
from vellet.wallet.banking.reconciler import reconcile
from vellet.wallet.banking.service import FLOW
from vellet.wallet.banking.wiring import FLOW_METRICS


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """A Redis of this test's own, without persistence, that it may kill."""
    server = EmbeddedRedis(tmp_path / "redis", persistent=False).start()
    yield server
    server.stop()


def sample(app: Any, name: str, **labels: str) -> float:
    value = app[metrics.REGISTRY_KEY].get_sample_value(name, labels or None)
    return float(value or 0.0)


async def stream_length(url: str, stream: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int(await client.xlen(stream))
    finally:
        await client.aclose()


@pytest.mark.parametrize("loss", ["flushall", "restart_without_persistence"])
async def test_lost_queues_are_redriven_once_the_bank_is_back(
    loss: str, own_redis: EmbeddedRedis, bank_db: str, wallet_dsn: str,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    redis_url = own_redis.url
    bank_port = free_port()
    bank: RunningBank = await start_bank(bank_db, redis_url, http=HttpSettings(port=bank_port))
    wallet: RunningWallet = await start_flow_wallet(
        wallet_dsn, redis_url, bank.url, reconciler=True, stuck_after=1.0,
        reconcile_interval=0.2,
    )  # fmt: skip
    try:
        users = await open_accounts(bank.internal_url, wallet.url, http, 4)
        for user in users:
            assert (await move(user, "deposit", "100.00")).body["state"] == "posted"
        await bank.stop()

        replies = [
            await move(users[i % 4], "deposit" if i % 2 else "withdrawal", f"{i % 10 + 1}.00")
            for i in range(40)
        ]
        assert {r.status for r in replies} == {202}
        ids = {r.body["id"] for r in replies}
        await eventually(lambda: stream_length(redis_url, streams.BANK_REQUESTS),
                         lambda n: n >= 40)  # fmt: skip
        # Stuck, and the bank does not answer its health check: reported, nothing re-driven.
        flow = wallet.app[FLOW]
        report = await reconcile(flow.pool, flow.bank.ready, 0.0)
        assert (report.stuck, report.bank_available, report.redriven) == (40, False, 0)
        await eventually(
            lambda: asyncio.sleep(0, sample(wallet.app, "vellet_reconcile_runs_total",
                                            outcome="bank_unavailable")),
            lambda runs: runs > 0,
        )  # fmt: skip

        if loss == "flushall":
            client = aioredis.Redis.from_url(redis_url)
            await client.flushall()
            await client.aclose()
        else:
            own_redis.kill()
            own_redis.start()  # same port, empty: nothing was persisted
        assert await stream_length(redis_url, streams.BANK_REQUESTS) == 0

        bank = await start_bank(bank_db, redis_url, http=HttpSettings(port=bank_port))
        await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)

        assert sample(wallet.app, "vellet_transfers_redriven_total") >= 40
        assert wallet.app[FLOW_METRICS] is flow.metrics
        books = await compare_books(wallet_dsn, bank_db)
        assert books.ok, books.problems
        assert books.by_state == {"posted": 44}
        told = await eventually(lambda: events_per_transfer(redis_url),
                                lambda seen: ids <= set(seen))  # fmt: skip
        assert {told[tid] for tid in ids} == {1}
    finally:
        await wallet.stop()
        await bank.stop()
