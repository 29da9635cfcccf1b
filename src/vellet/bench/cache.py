"""``vellet bench cache``: how much database work the account cache saves.

Look-ups follow a Zipf distribution over the accounts (a few accounts are
looked up very often, most rarely), as sign-ups and transfer checks do.
Each replica has its own in-process LRU and they share Redis, so the run
shows both levels. The figure of merit is database queries per look-up.

The first ``--warmup`` look-ups fill the caches and are reported apart:
every distinct account costs exactly one query the first time, so a ratio
over a run from cold mostly measures the run's length. The steady-state
ratio is over the ``--lookups`` after it. TTLs are set to an hour, so the
run measures capacity (LRU size, the Zipf tail), not expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry

from vellet.bank import store
from vellet.bank.admin import migrate
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.domain import AccountView, demo_accounts
from vellet.bank.settings import CacheSettings
from vellet.bench.report import Row, exit_code
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
    parser.add_argument("--lookups", type=int, default=100_000, help="measured, after warm-up")
    parser.add_argument("--warmup", type=int, default=None,
                        help="look-ups before measuring (default: 10 x --accounts)")  # fmt: skip
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent s (default 1.1)")
    parser.add_argument("--replicas", type=int, default=2, help="bank replicas (own LRUs)")
    parser.add_argument("--lru-size", type=int, default=CacheSettings.local_size)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = measure(args)
    result.print()
    return exit_code(result.rows())


def measure(args: argparse.Namespace) -> CacheResult:
    """One whole run on its own servers (unless URLs are in the environment)."""
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
            result = asyncio.run(_bench(args, pg_url, redis_url))
        finally:
            for server in servers:
                server.stop()
    return result


#: The issue's goal for the steady state.
GOAL_HIT_RATIO = 0.95


@dataclass
class Phase:
    lookups: int = 0
    queries: int = 0
    lru_hits: int = 0
    redis_hits: int = 0
    distinct: int = 0
    seconds: float = 0.0

    @property
    def hit_ratio(self) -> float:
        return 1 - self.queries / self.lookups if self.lookups else 0.0


@dataclass
class CacheResult:
    accounts: int
    zipf: float
    replicas: int
    warmup: Phase = field(default_factory=Phase)
    steady: Phase = field(default_factory=Phase)
    #: Look-ups that returned no account or the wrong one (must be 0).
    wrong: int = 0

    def print(self) -> None:
        print(f"accounts            {self.accounts} (Zipf s={self.zipf}, {self.replicas} replicas)")
        for name, ph in (("warm-up", self.warmup), ("steady state", self.steady)):
            print(f"{name:<19} {ph.lookups} look-ups, {ph.distinct} distinct accounts, "
                  f"{ph.queries} database queries, LRU hits {ph.lru_hits}, Redis hits "
                  f"{ph.redis_hits}, hit ratio {ph.hit_ratio:.2%}, "
                  f"{ph.lookups / ph.seconds if ph.seconds else 0:,.0f} look-ups/s")  # fmt: skip

    def rows(self) -> list[Row]:
        w, st = self.warmup, self.steady
        return [
            Row(f"bank cache hit ratio, warm-up ({self.accounts:,} accounts, Zipf "
                f"s={self.zipf})", f"{w.hit_ratio:.3f} over {w.lookups:,} look-ups", "-", None),
            Row(f"bank cache hit ratio, steady state ({self.accounts:,} accounts, Zipf "
                f"s={self.zipf})", f"{st.hit_ratio:.3f} over {st.lookups:,} look-ups "
                f"(LRU {st.lru_hits:,}, Redis {st.redis_hits:,}, DB {st.queries:,})",
                f">= {GOAL_HIT_RATIO}", st.hit_ratio >= GOAL_HIT_RATIO),
            Row("bank cache answers", f"wrong {self.wrong}", "0", self.wrong == 0, check=True),
        ]  # fmt: skip


async def _bench(args: argparse.Namespace, pg_url: str, redis_url: str) -> CacheResult:
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
    warmup = args.accounts * 10 if args.warmup is None else args.warmup
    result = CacheResult(args.accounts, args.zipf, args.replicas)

    def sample(cache: str, hit: str) -> int:
        value = registry.get_sample_value(
            "vellet_cache_requests_total", {"cache": cache, "result": hit}
        )
        return int(value or 0)

    for phase, count in ((result.warmup, warmup), (result.steady, args.lookups)):
        picks = rng.choices(range(1, args.accounts + 1), weights, k=count)
        before = (sum(c.loads for c in caches), sample("bank_account_lru", "hit"),
                  sample("bank_account_redis", "hit"))  # fmt: skip
        started = time.perf_counter()
        for i, pick in enumerate(picks):
            number = f"{100000000000 + pick}"
            view = await caches[i % len(caches)].get(number)
            if view is None or view.account_number != number:
                result.wrong += 1
        phase.seconds = time.perf_counter() - started
        phase.lookups, phase.distinct = count, len(set(picks))
        phase.queries = sum(c.loads for c in caches) - before[0]
        phase.lru_hits = sample("bank_account_lru", "hit") - before[1]
        phase.redis_hits = sample("bank_account_redis", "hit") - before[2]
    await pool.close()
    return result
