"""Fixtures for bank tests: a fresh bank database and a running bank."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import Databases
from tests.support.bank import RunningBank, start_bank
from vellet.bank.admin import MIGRATIONS


@pytest.fixture
async def bank_db(clean_databases: Databases) -> str:
    return await clean_databases.create("bank", MIGRATIONS)


@pytest.fixture
async def bank(bank_db: str, redis_url: str) -> AsyncIterator[RunningBank]:
    running = await start_bank(bank_db, redis_url)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
