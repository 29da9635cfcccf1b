"""``vellet bench scale``: P2P with a big, old ledger against P2P on an empty one.

One run, one wallet process, one PostgreSQL: the same ``--active-users``
send P2P transfers for ``--seconds`` on an empty ledger; then ``--users``
more wallets and ``--past-transfers`` past transfers are written by
set-based SQL (:mod:`vellet.bench.seed`), and the same load runs again.
The figure is the second rate over the first (goal >= 0.9). Then one
active user, who has more than a hundred pages of history, reads its first
and its hundredth page of ``GET /api/v1/transfers`` ``--history-requests``
times each: p99 of each (goal < 10 ms). The ledger invariant is checked at
the end, over all of it.

The issue's full size (1,000,000 users, 10,000,000 transfers) takes long to
write on a small machine; ``vellet bench all`` runs a size that fits its
ten minutes and says which in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from vellet.bench.memory import Peaks, sampling
from vellet.bench.p2p_load import User, drive, setup_users
from vellet.bench.p2p_servers import (
    drain_outbox,
    fresh_database,
    invariant_holds,
    servers,
    spawn,
    stop,
    wait_healthy,
    wallet_env,
)
from vellet.bench.report import Row, exit_code
from vellet.bench.seed import Seeded, seed
from vellet.common.commands import command
from vellet.common.db import create_pool
from vellet.common.embedded import free_port
from vellet.common.errors import ConfigError
from vellet.common.settings import Secret
from vellet.wallet.settings import SessionSettings

GOAL_RATIO = 0.9
GOAL_HISTORY_MS = 10.0


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "scale",
        "P2P with many users and past transfers vs an empty ledger; history pages",
        "vellet bench scale --users 1000000 --past-transfers 10000000",
        description="Run the same P2P load on an empty ledger and again after writing many "
        "users and past transfers with set-based SQL; print the ratio of the two rates, the "
        "p99 of the first and the 100th history page, and whether the invariant holds.",
    )
    parser.add_argument("--users", type=int, default=1_000_000, help="wallets written by SQL")
    parser.add_argument("--past-transfers", type=int, default=10_000_000,
                        help="past P2P transfers written by SQL")  # fmt: skip
    parser.add_argument("--active-users", type=int, default=1000, help="users sending P2P")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each P2P phase")
    parser.add_argument("--history-requests", type=int, default=200,
                        help="timed reads of each history page")  # fmt: skip
    parser.add_argument("--pool-size", type=int, default=20, help="the wallet's DB pool")
    parser.add_argument("--postgres-url", help="a superuser URL (default: embedded)")
    parser.add_argument("--redis-url", help="default: embedded")
    parser.add_argument("--no-fsync", action="store_true", help="embedded PG without fsync")
    parser.set_defaults(func=_main, batch_max=32, batch_concurrency=1)


def _main(args: argparse.Namespace) -> int:
    return exit_code(measure(args).rows())


@dataclass
class ScaleResult:
    empty_rate: float = 0.0
    full_rate: float = 0.0
    errors: int = 0
    seeded: Seeded | None = None
    first_page: list[float] = field(default_factory=list)
    page_100: list[float] = field(default_factory=list)
    invariant_ok: bool = False
    #: autovacuum and autoanalyze runs that overlapped the big-ledger phase.
    maintenance: int = 0
    memory: Peaks = field(default_factory=Peaks)

    def rows(self) -> list[Row]:
        ratio = self.full_rate / self.empty_rate if self.empty_rate else 0.0
        size = (f"{self.seeded.users:,} users + {self.seeded.past:,} past transfers, written "
                f"in {self.seeded.seconds:.0f} s") if self.seeded else "not written"  # fmt: skip
        first, hundredth = _p99(self.first_page), _p99(self.page_100)
        return [
            Row(f"P2P rate, big ledger / empty ledger ({size})",
                f"{ratio:.2f} ({self.full_rate:,.0f} vs {self.empty_rate:,.0f} transfers/s, "
                f"{self.errors} errors)", f">= {GOAL_RATIO}", ratio >= GOAL_RATIO),
            Row("history, first page p99", f"{first:.1f} ms ({len(self.first_page)} reads)",
                f"< {GOAL_HISTORY_MS:.0f} ms", first < GOAL_HISTORY_MS),
            Row("history, 100th page p99", f"{hundredth:.1f} ms ({len(self.page_100)} reads)",
                f"< {GOAL_HISTORY_MS:.0f} ms", hundredth < GOAL_HISTORY_MS),
            Row("big ledger: ledger invariant", "holds" if self.invariant_ok else "BROKEN",
                "holds", self.invariant_ok, check=True),
            Row("autovacuum/autoanalyze runs overlapping the big-ledger phase",
                str(self.maintenance), "-", None),
            *self.memory.rows("P2P on the big ledger"),
        ]  # fmt: skip


def _p99(samples: list[float]) -> float:
    if len(samples) < 2:
        return float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000


def measure(args: argparse.Namespace) -> ScaleResult:
    if args.users < 2 or args.active_users < 2 or args.past_transfers < 0:
        raise ConfigError("--users and --active-users must be >= 2, --past-transfers >= 0")
    with tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp, \
            servers(args, Path(tmp)) as found:  # fmt: skip
        return asyncio.run(_run(args, found))


async def _run(args: argparse.Namespace, found: Any) -> ScaleResult:
    wallet_db = await fresh_database(found.admin_url, "bench_scale")
    sessions = SessionSettings(secret=Secret(secrets.token_urlsafe(32)), ttl_seconds=7200)
    public, internal = free_port(), free_port()
    env = wallet_env(args, found, wallet_db, sessions)
    wallet = spawn("wallet", env | {"VELLET_WALLET_PORT": str(public),
                                    "VELLET_WALLET_INTERNAL_PORT": str(internal)})  # fmt: skip
    result = ScaleResult()
    url, metrics_url = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}"
    try:
        await wait_healthy(url, wallet)
        users = await setup_users(args.active_users, wallet_db, sessions)
        empty = await drive(args, [url], users, 0, [metrics_url])
        await drain_outbox(wallet_db)
        result.seeded = await seed(wallet_db, args.users, args.past_transfers,
                                   await _user_id(wallet_db, users[0]))  # fmt: skip
        before = await _maintenance_runs(wallet_db)
        async with sampling(result.memory, lambda: {"wallet": [wallet.pid]}):
            full = await drive(args, [url], users, 1, [metrics_url])
        result.maintenance = await _maintenance_runs(wallet_db, running=True) - before
        await drain_outbox(wallet_db)
        result.empty_rate, result.full_rate = empty.rate, full.rate
        result.errors = empty.errors + full.errors
        result.first_page, result.page_100 = await _history(url, users[0], args.history_requests)
        result.invariant_ok = await invariant_holds(wallet_db)
    finally:
        stop(wallet)
    return result


_MAINTENANCE_SQL = """
SELECT (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables)
     + CASE WHEN $1 THEN (SELECT count(*) FROM pg_stat_progress_vacuum
                          WHERE datname = current_database())
                       + (SELECT count(*) FROM pg_stat_progress_analyze
                          WHERE datname = current_database())
            ELSE 0 END
"""


async def _maintenance_runs(wallet_db: str, *, running: bool = False) -> int:
    """Autovacuum and autoanalyze runs ended so far on the wallet's tables, and
    with ``running`` those still going: after minus before is what overlapped."""
    pool = await create_pool(wallet_db, max_size=1)
    try:
        return int(await pool.fetchval(_MAINTENANCE_SQL, running))
    finally:
        await pool.close()


async def _user_id(wallet_db: str, user: User) -> int:
    pool = await create_pool(wallet_db, max_size=1)
    try:
        return int(await pool.fetchval("SELECT id FROM users WHERE account_number = $1",
                                       user.number))  # fmt: skip
    finally:
        await pool.close()


async def _history(url: str, user: User, requests: int) -> tuple[list[float], list[float]]:
    """Seconds per read of the first and of the 100th page (20 items a page)."""
    headers = {"Authorization": f"Bearer {user.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def page(cursor: str | None) -> tuple[float, str | None]:
            query = "" if cursor is None else f"?cursor={cursor}"
            started = time.perf_counter()
            async with http.get(f"{url}/api/v1/transfers{query}") as resp:
                body = await resp.json()
                if resp.status != 200:
                    raise ConfigError(f"history answered {resp.status}: {body}")
            return time.perf_counter() - started, body["next_cursor"]

        cursor: str | None = None
        for _ in range(99):  # the cursor that opens page 100
            _, cursor = await page(cursor)
            if cursor is None:
                raise ConfigError("the history user has fewer than 100 pages")
        first = [(await page(None))[0] for _ in range(requests)]
        hundredth = [(await page(cursor))[0] for _ in range(requests)]
    return first, hundredth
