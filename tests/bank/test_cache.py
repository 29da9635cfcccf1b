"""The account look-up cache: real Redis, real PostgreSQL, real counts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from vellet.bank import store
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.domain import AccountView, demo_accounts
from vellet.bank.settings import CacheSettings
from vellet.common import db, streams
from vellet.common.embedded import free_port


@pytest.fixture
async def pool(bank_db: str) -> AsyncIterator[db.Pool]:
    pool = await db.create_pool(bank_db)
    for account in demo_accounts(200):
        await store.insert_account(pool, account)
    yield pool
    await pool.close()


def _cache(redis_url: str, pool: db.Pool, settings: CacheSettings | None = None,
           registry: CollectorRegistry | None = None) -> AccountCache:  # fmt: skip
    async def load(number: str) -> AccountView | None:
        return await store.account_view(pool, number)

    return AccountCache(streams.connect(redis_url), load, settings or CacheSettings(),
                        CacheMetrics(registry or CollectorRegistry()))  # fmt: skip


def zipf_numbers(count: int, accounts: int, s: float, seed: int = 7) -> list[str]:
    weights = [1 / (rank**s) for rank in range(1, accounts + 1)]
    picks = random.Random(seed).choices(range(1, accounts + 1), weights, k=count)
    return [f"{100000000000 + p}" for p in picks]


async def test_zipf_lookups_rarely_reach_the_database(redis_url: str, pool: db.Pool) -> None:
    registry = CollectorRegistry()
    cache = _cache(redis_url, pool, registry=registry)
    numbers = zipf_numbers(5000, 220, 1.1)  # 20 of the 220 ranks do not exist

    found = [await cache.get(n) for n in numbers]

    distinct = len(set(numbers))
    assert cache.loads <= distinct, "each account reaches the database at most once"
    assert cache.loads / len(numbers) < 0.1
    assert sum(v is None for v in found) == sum(int(n) > 100000000200 for n in numbers)
    lru_hits = registry.get_sample_value(
        "vellet_cache_requests_total", {"cache": "bank_account_lru", "result": "hit"}
    )
    lru_misses = registry.get_sample_value(
        "vellet_cache_requests_total", {"cache": "bank_account_lru", "result": "miss"}
    )
    assert lru_hits is not None
    assert lru_misses is not None
    assert lru_hits + lru_misses == len(numbers)


async def test_a_second_replica_is_served_by_redis(redis_url: str, pool: db.Pool) -> None:
    first, second = _cache(redis_url, pool), _cache(redis_url, pool)
    numbers = zipf_numbers(500, 100, 1.1)
    for n in numbers:
        await first.get(n)
    for n in numbers:
        await second.get(n)
    assert second.loads == 0


async def test_invalidation_beats_a_slow_reader(redis_url: str, pool: db.Pool) -> None:
    """A reader that loaded before a change must not re-cache the old answer."""
    number = "100000000001"
    release = asyncio.Event()

    async def slow_load(n: str) -> AccountView | None:
        view = await store.account_view(pool, n)  # read before the change...
        await release.wait()  # ...and delivered after it
        return view

    slow = AccountCache(streams.connect(redis_url), slow_load, CacheSettings(),
                        CacheMetrics(CollectorRegistry()))  # fmt: skip
    reading = asyncio.create_task(slow.get(number))
    await asyncio.sleep(0.2)
    writer = _cache(redis_url, pool)
    await store.set_status(pool, number, "closed")
    await writer.invalidate(number)
    release.set()
    assert (await reading) is not None

    fresh = _cache(redis_url, pool)
    view = await fresh.get(number)
    assert view is not None
    assert view.status == "closed"


async def test_redis_down_degrades_to_the_database(pool: db.Pool) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    cache = _cache(dead_redis, pool)
    view = await cache.get("100000000001")
    assert view is not None
    assert view.account_number == "100000000001"
    assert cache.loads == 1
