"""Fixtures for deposits and withdrawals: a real bank and a real wallet, wired.

In-process apps (fast, same event loop) for behaviour; ``tests.support.
processes`` for anything that must die by SIGKILL. Every wallet here runs
with fast streams and short thresholds so failure paths finish in seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.bank import RunningBank, start_bank
from tests.wallet.banking.helpers import start_flow_wallet
from tests.wallet.stack import RunningWallet
from vellet.bank import admin as bank_admin
from vellet.wallet import database


@pytest.fixture
async def wallet_dsn(clean_databases) -> str:  # type: ignore[no-untyped-def]
    return await clean_databases.create("wallet", database.MIGRATIONS)


@pytest.fixture
async def bank_db(clean_databases) -> str:  # type: ignore[no-untyped-def]
    return await clean_databases.create("bank", bank_admin.MIGRATIONS)


@pytest.fixture
async def bank(bank_db: str, redis_url: str) -> AsyncIterator[RunningBank]:
    running = await start_bank(bank_db, redis_url)
    yield running
    await running.stop()


@pytest.fixture
async def wallet(wallet_dsn: str, redis_url: str,
                 bank: RunningBank) -> AsyncIterator[RunningWallet]:  # fmt: skip
    running = await start_flow_wallet(wallet_dsn, redis_url, bank.url)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
