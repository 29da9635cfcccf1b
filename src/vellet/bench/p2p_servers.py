"""The servers of ``vellet bench p2p`` (and ``bench scale``): PostgreSQL, Redis, wallets, pgbench.

Apart from :mod:`vellet.bench.p2p` so that each module stays small: this one
starts and stops processes and databases, that one runs the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from vellet.bench import faults, p2p_profile
from vellet.common import keyfiles, redis_acl
from vellet.common.db import create_pool
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from vellet.common.errors import ConfigError
from vellet.wallet.events import store as events_store
from vellet.wallet.ledger import audit
from vellet.wallet.settings import SessionSettings


@dataclass
class Servers:
    admin_url: str
    redis_url: str
    pgbench: Path
    #: Of the embedded servers (None for servers given by URL): for the CPU split.
    postgres_pid: int | None = None
    redis_pid: int | None = None


@contextmanager
def servers(args: argparse.Namespace, tmp: Path) -> Iterator[Servers]:
    pg = redis = None
    try:
        admin_url = args.postgres_url
        if admin_url is None:
            tmp.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
            options = p2p_profile.PG_STATS_OPTIONS if getattr(args, "pg_stats", False) else {}
            pg = EmbeddedPostgres(tmp / "pg", fsync=not args.no_fsync, options=options).start()
            admin_url = pg.admin_url
        redis_url = args.redis_url
        if redis_url is None:
            redis = EmbeddedRedis(tmp / "redis", persistent=False,
                                  passwords=redis_acl.generate_passwords()).start()  # fmt: skip
            redis_url = redis.url_for("wallet")  # the only service it runs
        yield Servers(admin_url, redis_url, EmbeddedPostgres(tmp).pgbench(),
                      pg.pid if pg else None, redis.pid if redis else None)  # fmt: skip
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()


def database_url(admin_url: str, name: str) -> str:
    base, _, query = admin_url.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(admin_url, name)


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    """faults.wait_healthy, with its failure said as one line by the CLI."""
    try:
        await faults.wait_healthy(url, proc)
    except (RuntimeError, TimeoutError) as err:
        raise ConfigError(f"the wallet did not start: {err}") from None


def spawn(
    component: str,
    env: dict[str, str],
    runner: tuple[str, ...] = ("-m", "vellet"),
    *,
    signing: str = "on",
) -> subprocess.Popen[bytes]:
    serve = [*runner, component, "serve"]
    if signing == "off":
        serve = ["-m", "vellet.bench.unsigned_wallet"]
    return subprocess.Popen(
        [sys.executable, *serve],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wallet_env(args: argparse.Namespace, found: Servers, wallet_db: str,
               sessions: SessionSettings) -> dict[str, str]:  # fmt: skip
    """The environment of a benchmark's wallet process (also ``bench scale``'s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env |= {
        # P2P signs no token, but the wallet starts only with its key in hand.
        **keyfiles.pem_env(keyfiles.generate_all(), "wallet"),
        "VELLET_SESSION_SECRET": sessions.secret.get(),
        "VELLET_SESSION_TTL": str(sessions.ttl_seconds),
        "VELLET_REDIS_URL": found.redis_url,
        "VELLET_WALLET_DATABASE_URL": wallet_db,
        # P2P never calls the bank (only sign-up does), so none runs here.
        "VELLET_BANK_URL": f"http://127.0.0.1:{free_port()}",
        "VELLET_WALLET_POOL_SIZE": str(args.pool_size),
        "VELLET_P2P_BATCH_MAX": str(args.batch_max),
        "VELLET_P2P_BATCH_CONCURRENCY": str(args.batch_concurrency),
        "VELLET_LOG_LEVEL": "WARNING",
    }
    return env


async def p2p_count(wallet_db: str) -> int:
    pool = await create_pool(wallet_db, max_size=1)
    try:
        return int(await pool.fetchval("SELECT count(*) FROM transfers WHERE kind = 'p2p'"))
    finally:
        await pool.close()


async def drain_outbox(wallet_db: str) -> None:
    """Let the wallet's relay finish, so pgbench runs on a quiet server."""
    pool = await create_pool(wallet_db, max_size=1)
    try:
        for _ in range(600):
            if await events_store.unpublished_count(pool) == 0:
                return
            await asyncio.sleep(0.1)
    finally:
        await pool.close()


async def invariant_holds(wallet_db: str) -> bool:
    pool = await create_pool(wallet_db, max_size=1)
    try:
        return (await audit.check_invariants(pool, give_up_after=audit.ON_DEMAND_TIMEOUT)).ok
    finally:
        await pool.close()


async def pgbench_init(found: Servers) -> str:
    url = await fresh_database(found.admin_url, "bench_pgbench")
    init = await asyncio.create_subprocess_exec(
        str(found.pgbench), "-i", "-q", url, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await init.communicate()
    if init.returncode != 0:
        raise ConfigError(f"pgbench -i failed: {err.decode(errors='replace')[-500:]}")
    return url


async def pgbench_run(found: Servers, args: argparse.Namespace, url: str) -> float:
    """pgbench's built-in simple-update script; its TPS."""
    seconds = str(max(1, round(args.seconds)))
    proc = await asyncio.create_subprocess_exec(
        str(found.pgbench), "-N", "-c", str(args.pgbench_clients), "-j", "2", "-T", seconds, url,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    match = re.search(r"tps = ([0-9.]+)", out.decode())
    if proc.returncode != 0 or match is None:
        raise ConfigError(f"pgbench failed: {err.decode(errors='replace')[-500:]}")
    return float(match.group(1))
