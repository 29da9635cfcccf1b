"""``vellet bench cache``: how much database work the account cache saves.

Look-ups follow a Zipf distribution over the accounts (a few accounts are
looked up very often, most rarely), as sign-ups and transfer checks do.
Each replica has its own in-process LRU and they share Redis, so the run
shows both levels. The figure of merit is database queries per look-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry

from vellet.bank import store
from vellet.bank.admin import migrate
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.domain import AccountView, demo_accounts
from vellet.bank.settings import CacheSettings
from vellet.common import db, streams
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "cache",
        "how much database work the bank's account cache saves",
        "vellet bench cache --accounts 10000 --lookups 100000 --zipf 1.1",
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent s (default 1.1)")
    parser.add_argument("--replicas", type=int, default=2, help="bank replicas (own LRUs)")
    parser.add_argument("--lru-size", type=int, default=CacheSettings.local_size)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp:
        Path(tmp).chmod(0o755)
        pg_url, redis_url = (
            os.environ.get("VELLET_BANK_DATABASE_URL"),
            os.environ.get("VELLET_REDIS_URL"),
        )
        servers: list[EmbeddedPostgres | EmbeddedRedis] = []
        if not pg_url:
            pg = EmbeddedPostgres(Path(tmp) / "pg", fsync=False).start()
            servers.append(pg)
            pg_url = pg.url("postgres")
        if not redis_url:
            redis = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
            servers.append(redis)
            redis_url = redis.url
        try:
            asyncio.run(_bench(args, pg_url, redis_url))
        finally:
            for server in servers:
                server.stop()
    return 0


async def _bench(args: argparse.Namespace, pg_url: str, redis_url: str) -> None:
    await migrate(pg_url)
    pool = await db.create_pool(pg_url, max_size=4)
    conn = await asyncpg.connect(pg_url)
    await conn.copy_records_to_table(
        "accounts",
        records=[(a.account_number, a.name, a.email, a.currency, a.balance, a.balance)
                 for a in demo_accounts(args.accounts)],
        columns=["account_number", "holder_name", "email", "currency", "balance",
                 "opening_balance"],
    )  # fmt: skip
    await conn.close()

    async def load(number: str) -> AccountView | None:
        return await store.account_view(pool, number)

    settings = CacheSettings(local_size=args.lru_size, local_ttl=3600, redis_ttl=3600)
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    caches = [AccountCache(streams.connect(redis_url), load, settings, metrics)
              for _ in range(args.replicas)]  # fmt: skip
    rng = random.Random(42)
    weights = [1 / rank**args.zipf for rank in range(1, args.accounts + 1)]
    picks = rng.choices(range(1, args.accounts + 1), weights, k=args.lookups)
    started = time.perf_counter()
    for i, pick in enumerate(picks):
        await caches[i % len(caches)].get(f"{100000000000 + pick}")
    elapsed = time.perf_counter() - started
    await pool.close()

    def sample(cache: str, result: str) -> int:
        value = registry.get_sample_value(
            "vellet_cache_requests_total", {"cache": cache, "result": result}
        )
        return int(value or 0)

    queries = sum(c.loads for c in caches)
    lru_hits = sample("bank_account_lru", "hit")
    redis_hits = sample("bank_account_redis", "hit")
    print(f"accounts            {args.accounts}")
    print(f"look-ups            {args.lookups} (Zipf s={args.zipf}, {args.replicas} replicas)")
    print(f"distinct accounts   {len(set(picks))}")
    print(f"LRU hits            {lru_hits} ({lru_hits / args.lookups:.1%})")
    print(f"Redis hits          {redis_hits}")
    print(f"database queries    {queries} ({queries / args.lookups:.4f} per look-up)")
    print(f"hit ratio           {1 - queries / args.lookups:.2%}")
    print(f"queries saved       {args.lookups - queries} of {args.lookups}")
    print(f"throughput          {args.lookups / elapsed:,.0f} look-ups/s")
