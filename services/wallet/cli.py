"""``vellet wallet ...``: serve the wallet, migrate its database, audit its ledger."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from vellet.common import web
from vellet.common.commands import command
from vellet.common.db import create_pool
from vellet.common.web import serve_forever
from vellet.wallet import database
from vellet.wallet.app import create_app
from vellet.wallet.ledger import audit
from vellet.wallet.settings import WalletSettings


def register(sub: Any) -> None:
    wallet = command(
        sub,
        "wallet",
        "the wallet service",
        "vellet wallet serve",
        "vellet wallet audit",
        description="The public API and the ledger: users, P2P transfers, deposits and "
        "withdrawals with the bank. Configured by VELLET_* environment variables "
        "(VELLET_WALLET_DATABASE_URL, VELLET_REDIS_URL, VELLET_BANK_URL, ...).",
    )
    cmds = wallet.add_subparsers(dest="wallet_command", metavar="COMMAND", required=True)
    command(
        cmds,
        "serve",
        "migrate, then serve the public API (VELLET_WALLET_PORT) and the internal API and "
        "/metrics (VELLET_WALLET_INTERNAL_PORT)",
        "VELLET_WALLET_DATABASE_URL=postgresql://... vellet wallet serve",
    ).set_defaults(func=_serve)
    command(
        cmds, "migrate", "apply the wallet's database migrations", "vellet wallet migrate"
    ).set_defaults(func=_migrate)
    command(
        cmds,
        "audit",
        "check the ledger invariant on the live database",
        "vellet wallet audit",
        description="Check the ledger invariant on the live database: balanced "
        "transfers, no overdraft, balances equal to their entries. Exit 1 and name each "
        "broken counter when it does not hold.",
    ).set_defaults(func=_audit)


def _serve(args: argparse.Namespace) -> int:
    settings = WalletSettings.from_env(os.environ)
    asyncio.run(database.migrate(settings.database_url))
    web.run(serve_forever("wallet", create_app(settings), settings.http))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    database_url = WalletSettings.from_env(os.environ).database_url
    applied = asyncio.run(database.migrate(database_url))
    names = ", ".join(applied) or "none"
    print(f"wallet: applied {len(applied)} migration(s): {names}")  # noqa: T201
    return 0


async def _check(database_url: str) -> audit.Invariants:
    pool = await create_pool(database_url, max_size=1)
    try:
        # Asked for by a person, who can interrupt it: not cut at the pool's
        # 30 s (the check reads whole tables, ~20 s per million transfers).
        return await audit.check_invariants(pool, give_up_after=audit.ON_DEMAND_TIMEOUT)
    finally:
        await pool.close()


def _audit(args: argparse.Namespace) -> int:
    report = asyncio.run(_check(WalletSettings.from_env(os.environ).database_url))
    for name, count in report.violations().items():
        print(f"wallet audit: {name} = {count}")  # noqa: T201
    print("wallet audit: ledger balances" if report.ok else "wallet audit: LEDGER DOES NOT BALANCE")  # noqa: T201
    return 0 if report.ok else 1
