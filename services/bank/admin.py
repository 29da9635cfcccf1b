"""Operator tasks for the bank: migrate, seed demo accounts, audit the books."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from vellet.bank import domain, store
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.settings import BankSettings
from vellet.common import db, streams

MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(database_url: str) -> list[str]:
    return await db.migrate(database_url, "bank", MIGRATIONS)


async def seed(settings: BankSettings, count: int, currency: str = "INR") -> int:
    """Create the demo accounts that do not exist yet; return how many were new."""
    accounts = domain.demo_accounts(count, currency)
    pool = await db.create_pool(settings.database_url, max_size=2)
    redis = streams.connect(settings.redis_url)
    try:

        async def load(number: str) -> domain.AccountView | None:
            return await store.account_view(pool, number)

        cache = AccountCache(redis, load, settings.cache, CacheMetrics(CollectorRegistry()))
        created = 0
        for account in accounts:
            if await store.insert_account(pool, account) is not None:
                created += 1
                await cache.invalidate(account.account_number)
        return created
    finally:
        await redis.aclose()
        await pool.close()


async def audit(database_url: str) -> list[str]:
    pool = await db.create_pool(database_url, max_size=1)
    try:
        return await store.audit(pool)
    finally:
        await pool.close()
