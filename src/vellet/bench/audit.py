"""``vellet bench audit``: what one background check of the books costs.

The wallet runs its ledger invariant every ``VELLET_AUDIT_INTERVAL`` seconds
(``vellet_audit_*``). This fills a wallet database with a balanced ledger of
``--transfers`` posted P2P transfers (two entries each, written in bulk with
SQL, not through the API: only the ledger's size matters here) and times the
check as the service runs it, in its read-only snapshot, a few times over.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from vellet.common import audits, db
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedPostgres
from vellet.wallet import database
from vellet.wallet.ledger import audit

#: Users get wallets with 1,000.00 each; transfers move 0.01 round a ring.
_FILL = """
INSERT INTO users (account_number, name, email, currency, password_hash)
SELECT (100000000000 + g)::text, 'Bench ' || g, 'bench' || g || '@example.test', 'INR', 'x'
FROM generate_series(1, $1) g;
INSERT INTO ledger_accounts (system_code, currency) VALUES ('bank_settlement', 'INR');
INSERT INTO ledger_accounts (user_id, currency) SELECT id, 'INR' FROM users;
CREATE TEMP TABLE legs AS
SELECT gen_random_uuid() AS id, a.id AS debit, b.id AS credit, a.user_id AS du, b.user_id AS cu
FROM generate_series(0, $2 - 1) g
JOIN ledger_accounts a ON a.user_id = 1 + g % $1
JOIN ledger_accounts b ON b.user_id = 1 + (g + 1) % $1;
INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id, credit_account_id,
                       from_user_id, to_user_id)
SELECT id, 'p2p', 'posted', 1, 'INR', debit, credit, du, cu FROM legs;
INSERT INTO entries (transfer_id, account_id, side, amount)
SELECT id, debit, 'debit', 1 FROM legs UNION ALL SELECT id, credit, 'credit', 1 FROM legs;
UPDATE ledger_accounts a SET balance = n.net
FROM (SELECT account_id, sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) AS net
      FROM entries GROUP BY account_id) n
WHERE a.id = n.account_id;
ANALYZE;
"""


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "audit",
        "what one background check of the wallet's books costs",
        "vellet bench audit --transfers 1000000 --users 10000",
    )
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("VELLET_WALLET_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp:
        Path(tmp).chmod(0o755)
        pg = None
        if not url:
            pg = EmbeddedPostgres(Path(tmp) / "pg", fsync=False).start()
            url = pg.url("postgres")
        try:
            asyncio.run(_bench(args, url))
        finally:
            if pg is not None:
                pg.stop()
    return 0


async def _bench(args: argparse.Namespace, url: str) -> None:
    await database.migrate(url)
    pool = await db.create_pool(url, max_size=2)
    try:
        started = time.perf_counter()
        await _fill(pool, args.users, args.transfers)
        print(f"ledger              {args.transfers:,} transfers, {args.users:,} users "
              f"(filled in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            async with audits.snapshot(pool, 600) as conn:
                report = await audit.check_invariants(conn, give_up_after=600)
            times.append(time.perf_counter() - started)
            assert report.ok, report.violations()
        size = await pool.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"database size       {size}")
        print(f"one check           median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s over {args.runs} runs (books balance)")  # fmt: skip
    finally:
        await pool.close()


async def _fill(pool: db.Pool, users: int, transfers: int) -> None:
    async with pool.acquire() as conn:
        # The ledger is append-only by trigger; a bench database is filled once.
        for statement in filter(str.strip, _FILL.split(";")):
            sql = statement.replace("$1", str(users)).replace("$2", str(transfers))
            await conn.execute(sql, timeout=3600)
