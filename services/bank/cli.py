"""``vellet bank ...``: serve the bank, migrate, seed, audit, mint tokens.

``vellet bank token --admin`` is the only way to an admin token: it signs
with ``VELLET_BANK_ADMIN_KEY[_FILE]``, which no running service holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from vellet.bank import admin
from vellet.bank.app import create_app
from vellet.bank.settings import BankSettings
from vellet.common import keys, tokens, web
from vellet.common.commands import command
from vellet.common.errors import ConfigError
from vellet.common.settings import Env
from vellet.common.web import serve_forever


def register(sub: Any) -> None:
    bank = command(
        sub,
        "bank",
        "the bank service",
        "vellet bank serve",
        "vellet bank audit",
        description="The dummy bank, made honest: accounts, idempotent transfers, cached "
        "look-ups, and the consumer of the wallet's request stream. Configured by VELLET_* "
        "environment variables (VELLET_BANK_DATABASE_URL, VELLET_REDIS_URL, ...).",
    )
    cmds = bank.add_subparsers(dest="bank_command", metavar="COMMAND", required=True)
    command(
        cmds,
        "serve",
        "run the HTTP API (VELLET_BANK_PORT), the admin routes and /metrics "
        "(VELLET_BANK_INTERNAL_PORT) and the request consumer",
        "VELLET_BANK_DATABASE_URL=postgresql://... vellet bank serve",
    ).set_defaults(func=_serve)
    command(
        cmds, "migrate", "apply the bank's database migrations", "vellet bank migrate"
    ).set_defaults(func=_migrate)
    seed = command(
        cmds,
        "seed",
        "create deterministic demo accounts",
        "vellet bank seed --accounts 10 --currency INR",
    )
    seed.add_argument("--accounts", type=int, default=10, help="how many (default 10)")
    seed.add_argument("--currency", default="INR", help="their currency (default INR)")
    seed.set_defaults(func=_seed)
    command(
        cmds,
        "audit",
        "check that the bank's books balance",
        "vellet bank audit",
        description="Check that the bank's books balance; exit 1 and say what is "
        "wrong when they do not.",
    ).set_defaults(func=_audit)
    token = command(
        cmds,
        "token",
        "print a token for the bank's API",
        "VELLET_BANK_ADMIN_KEY_FILE=./bank-admin.key vellet bank token --admin --subject alice",
        "VELLET_WALLET_KEY_FILE=./keys/wallet.key vellet bank token",
        description="Print a token for the bank's API. With --admin, an admin token "
        "(create and close accounts) signed with VELLET_BANK_ADMIN_KEY or "
        "VELLET_BANK_ADMIN_KEY_FILE, the key no running service holds; without it, a "
        "token as the wallet, signed with VELLET_WALLET_KEY[_FILE] (look-ups, transfers).",
    )
    token.add_argument("--admin", action="store_true", help="an admin token (the bank-admin key)")
    token.add_argument("--subject", default="cli",
                       help="who the admin token names (default cli; --admin only)")  # fmt: skip
    token.add_argument(
        "--ttl",
        type=int,
        default=None,
        help=f"lifetime in seconds (default {tokens.SERVICE_TTL}; at most "
        f"{tokens.ADMIN_TTL_MAX} with --admin, {tokens.SERVICE_TTL_MAX} without)",
    )
    token.set_defaults(func=_token)


def _serve(args: argparse.Namespace) -> int:
    settings = BankSettings.from_env(os.environ)
    asyncio.run(admin.migrate(settings.database_url))
    web.run(serve_forever("bank", create_app(settings), settings.http))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = BankSettings.from_env(os.environ)
    applied = asyncio.run(admin.migrate(settings.database_url))
    print(f"bank: applied {len(applied)} migration(s){': ' if applied else ''}{', '.join(applied)}")  # noqa: T201
    return 0


def _seed(args: argparse.Namespace) -> int:
    settings = BankSettings.from_env(os.environ)
    asyncio.run(admin.migrate(settings.database_url))
    created = asyncio.run(admin.seed(settings, args.accounts, args.currency))
    print(f"bank: {created} new demo account(s), {args.accounts - created} already there")  # noqa: T201
    return 0


def _audit(args: argparse.Namespace) -> int:
    settings = BankSettings.from_env(os.environ)
    problems = asyncio.run(admin.audit(settings.database_url))
    for line in problems:
        print(f"bank audit: {line}")  # noqa: T201
    print("bank audit: books balance" if not problems else "bank audit: BOOKS DO NOT BALANCE")  # noqa: T201
    return 0 if not problems else 1


def _token(args: argparse.Namespace) -> int:
    signer = "bank-admin" if args.admin else "wallet"
    cap = tokens.ADMIN_TTL_MAX if args.admin else tokens.SERVICE_TTL_MAX
    ttl = tokens.SERVICE_TTL if args.ttl is None else args.ttl
    if not 0 < ttl <= cap:
        raise ConfigError(f"--ttl must be between 1 and {cap} seconds")
    key = keys.load_private(Env(os.environ), signer)
    token = tokens.mint(
        key,
        signer=signer,
        audience=tokens.BANK_AUDIENCE,
        subject=args.subject if args.admin else "wallet",
        role=tokens.ADMIN_ROLE if args.admin else tokens.SERVICE_ROLE,
        ttl_seconds=ttl,
        max_ttl=cap,
    )
    print(token)  # noqa: T201
    return 0
