"""Wallet fixtures: a fresh wallet database per test, and ledger helpers.

Store-level tests insert users straight into the wallet database
(:func:`make_user`); everything that signs up over HTTP goes through the real
bank (see ``stack.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.bank import RunningBank, start_bank
from tests.wallet.stack import RunningWallet, start_wallet
from vellet.bank import admin as bank_admin
from vellet.common.db import Pool, create_pool
from vellet.wallet import database


@pytest.fixture
async def wallet_dsn(clean_databases) -> str:  # type: ignore[no-untyped-def]
    return await clean_databases.create("wallet", database.MIGRATIONS)


@pytest.fixture
async def pool(wallet_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(wallet_dsn, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def bank_db(clean_databases) -> str:  # type: ignore[no-untyped-def]
    return await clean_databases.create("bank", bank_admin.MIGRATIONS)


@pytest.fixture
async def bank(bank_db: str, redis_url: str) -> AsyncIterator[RunningBank]:
    """The real bank, in this event loop, on a random port."""
    running = await start_bank(bank_db, redis_url)
    yield running
    await running.stop()


@pytest.fixture
async def wallet(
    wallet_dsn: str, redis_url: str, bank: RunningBank
) -> AsyncIterator[RunningWallet]:
    running = await start_wallet(wallet_dsn, redis_url, bank.url)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
