"""``vellet wallet ...``: serve the wallet, migrate its database, audit its ledger."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from vellet.common.db import create_pool
from vellet.common.web import serve_forever
from vellet.wallet import ledger, store
from vellet.wallet.app import create_app
from vellet.wallet.settings import WalletSettings


def register(sub: Any) -> None:
    wallet: argparse.ArgumentParser = sub.add_parser("wallet", help="the wallet service")
    cmds = wallet.add_subparsers(dest="wallet_command", metavar="COMMAND", required=True)
    cmds.add_parser("serve", help="migrate, then run the public API").set_defaults(func=_serve)
    cmds.add_parser("migrate", help="apply the wallet's database migrations").set_defaults(
        func=_migrate
    )
    cmds.add_parser("audit", help="check the ledger invariant on the live database").set_defaults(
        func=_audit
    )


def _serve(args: argparse.Namespace) -> int:
    settings = WalletSettings.from_env(os.environ)
    asyncio.run(store.migrate(settings.database_url))
    asyncio.run(serve_forever("wallet", create_app(settings), settings.http))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    database_url = WalletSettings.from_env(os.environ).database_url
    applied = asyncio.run(store.migrate(database_url))
    names = ", ".join(applied) or "none"
    print(f"wallet: applied {len(applied)} migration(s): {names}")  # noqa: T201
    return 0


async def _check(database_url: str) -> ledger.Invariants:
    pool = await create_pool(database_url, max_size=1)
    try:
        return await ledger.check_invariants(pool)
    finally:
        await pool.close()


def _audit(args: argparse.Namespace) -> int:
    report = asyncio.run(_check(WalletSettings.from_env(os.environ).database_url))
    for name, count in report.violations().items():
        print(f"wallet audit: {name} = {count}")  # noqa: T201
    print("wallet audit: ledger balances" if report.ok else "wallet audit: LEDGER DOES NOT BALANCE")  # noqa: T201
    return 0 if report.ok else 1
