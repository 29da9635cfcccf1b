"""``vellet bench p2p``: P2P transfers over HTTP, measured against pgbench.

One run, one PostgreSQL, in rounds: N concurrent clients send P2P transfers
between random pairs of funded wallets through a real wallet process for
the given seconds (the first round after a short warm-up); then pgbench's
built-in simple-update script (``-N``) runs with 32 clients against the same
server for as long. Alternating the two, and printing each round and their
median, keeps a busy moment of a shared machine from deciding the ratio.
The ratio tells how close a full transfer (HTTP, session check, JSON, its
share of a ledger transaction with its entries, idempotency record and
outbox row) gets to the database's raw small-transaction rate on this
machine. ``--batch-max 1`` turns group commit off, for comparison.
``--signing both`` runs a second set of wallets that publish their events
unsigned (``vellet.bench.unsigned_wallet``) and alternates the two in every
round, so the cost of signing stream messages is read from one run.

Embedded PostgreSQL and Redis are started unless URLs are given. Users are
written straight into the ledger with settled deposits and sessions minted
with the wallet's session key (the bench measures P2P, not sign-up or the
bank), and the ledger invariant is checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from vellet.bench import faults, profiled
from vellet.bench.memory import sampling
from vellet.bench.p2p_load import drive, setup_users
from vellet.bench.p2p_result import Result
from vellet.common import keyfiles, redis_acl
from vellet.common.commands import command
from vellet.common.db import create_pool
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from vellet.common.errors import ConfigError
from vellet.common.settings import Secret
from vellet.wallet.events import store as events_store
from vellet.wallet.ledger import audit
from vellet.wallet.settings import SessionSettings


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "p2p",
        "P2P transfers/s over HTTP vs pgbench on the same PostgreSQL",
        "vellet bench p2p --clients 32 --seconds 15 --rounds 3",
        description="Measure P2P transfers per second over HTTP against pgbench -N on the "
        "same PostgreSQL, in alternated rounds, and print each round, the median ratio, the "
        "p99 latency and whether the ledger invariant holds.",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument(
        "--users", type=int, default=1000, help="wallets that send to each other at random"
    )
    parser.add_argument("--rounds", type=int, default=3, help="P2P and pgbench phases, alternated")
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument(
        "--wallets", type=int, default=1, help="wallet processes (replicas); clients spread"
    )
    parser.add_argument("--pool-size", type=int, default=20, help="the wallet's DB pool")
    parser.add_argument(
        "--batch-max", type=int, default=32, help="VELLET_P2P_BATCH_MAX (1: no batching)"
    )
    parser.add_argument(
        "--batch-concurrency", type=int, default=1, help="VELLET_P2P_BATCH_CONCURRENCY"
    )
    parser.add_argument(
        "--signing", choices=("on", "off", "both"), default="on",
        help="sign stream messages (on, as deployed), not (off), or alternate both",
    )  # fmt: skip
    parser.add_argument("--postgres-url", help="a superuser URL (default: embedded)")
    parser.add_argument("--redis-url", help="default: embedded")
    parser.add_argument("--no-fsync", action="store_true", help="embedded PG without fsync")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the wallet under cProfile, write FILE, print ms per transfer by stage "
        "(one wallet only; the figures are then not comparable)",
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.clients < 1 or args.seconds <= 0 or args.users < 2 or args.rounds < 1:
        raise ConfigError("--clients and --rounds must be >= 1, --seconds > 0 and --users >= 2")
    if args.profile and (args.wallets != 1 or args.signing != "on"):
        # The unsigned wallet is its own module, not ``vellet wallet serve``.
        raise ConfigError("--profile profiles one signing wallet: use --wallets 1 --signing on")
    with (
        tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp,
        servers(args, Path(tmp)) as found,
    ):
        results = asyncio.run(_run(args, found))
    for mode, result in results.items():
        if len(results) > 1:
            print(f"signing {mode}:")
        print(result.table(args))
        print(f"RSS per wallet process under load: {result.memory.describe()}")
    if len(results) > 1:
        on, off = (statistics.median(r.ratio for r in results[m].rounds) for m in ("on", "off"))
        print(f"median ratio signed {on:.2f}, unsigned {off:.2f}: {(on / off - 1) * 100:+.1f} %")
    if args.profile:
        print(profiled.summary(args.profile, results[args.signing].p2p_total))
    return 0 if all(r.invariant_ok for r in results.values()) else 1


def measure(args: argparse.Namespace) -> Result:
    """One whole run (for ``vellet bench all``): the signing wallets' result if both ran."""
    with (
        tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp,
        servers(args, Path(tmp)) as found,
    ):
        results = asyncio.run(_run(args, found))
    return results.get("on") or results["off"]


@dataclass
class Servers:
    admin_url: str
    redis_url: str
    pgbench: Path


@contextmanager
def servers(args: argparse.Namespace, tmp: Path) -> Iterator[Servers]:
    pg = redis = None
    try:
        admin_url = args.postgres_url
        if admin_url is None:
            tmp.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
            pg = EmbeddedPostgres(tmp / "pg", fsync=not args.no_fsync).start()
            admin_url = pg.admin_url
        redis_url = args.redis_url
        if redis_url is None:
            redis = EmbeddedRedis(tmp / "redis", persistent=False,
                                  passwords=redis_acl.generate_passwords()).start()  # fmt: skip
            redis_url = redis.url_for("wallet")  # the only service it runs
        yield Servers(admin_url, redis_url, EmbeddedPostgres(tmp).pgbench())
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


async def _run(args: argparse.Namespace, found: Servers) -> dict[str, Result]:
    wallet_db = await fresh_database(found.admin_url, "bench_wallet")
    sessions = SessionSettings(secret=Secret(secrets.token_urlsafe(32)), ttl_seconds=3600)
    env = wallet_env(args, found, wallet_db, sessions)
    modes = ["on", "off"] if args.signing == "both" else [args.signing]
    ports = {mode: [(free_port(), free_port()) for _ in range(args.wallets)] for mode in modes}
    profile = getattr(args, "profile", None)
    runner = ("-m", "vellet.bench.profiled", profile) if profile else ("-m", "vellet")
    by_mode = {
        mode: [
            spawn(
                "wallet",
                env | {"VELLET_WALLET_PORT": str(pub), "VELLET_WALLET_INTERNAL_PORT": str(inner)},
                runner,
                signing=mode,
            )
            for pub, inner in ports[mode]
        ]
        for mode in modes
    }
    wallets = [wallet for mode in modes for wallet in by_mode[mode]]
    results = {mode: Result() for mode in modes}
    try:
        urls = {mode: [f"http://127.0.0.1:{pub}" for pub, _ in ports[mode]] for mode in modes}
        metrics_urls = {
            mode: [f"http://127.0.0.1:{inner}" for _, inner in ports[mode]] for mode in modes
        }
        for url, wallet in zip([u for m in modes for u in urls[m]], wallets, strict=True):
            await wait_healthy(url, wallet)
        users = await setup_users(args.users, wallet_db, sessions)
        pgbench_db = await pgbench_init(found)
        # Rounds alternate the loads, so each sees the machine as it is then.
        for n in range(args.rounds):
            for mode in modes:
                pids: dict[str, list[int | None]] = {"wallet": [w.pid for w in by_mode[mode]]}
                async with sampling(results[mode].memory, functools.partial(dict, pids)):
                    round_ = await drive(args, urls[mode], users, n, metrics_urls[mode])
                await drain_outbox(wallet_db)
                round_.pgbench_tps = await pgbench_run(found, args, pgbench_db)
                results[mode].rounds.append(round_)
        ok = await invariant_holds(wallet_db)
        total = await _p2p_count(wallet_db)
        for result in results.values():
            result.invariant_ok = ok
            result.p2p_total = total
    finally:
        for wallet in wallets:
            stop(wallet)
    return results


async def _p2p_count(wallet_db: str) -> int:
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
        return (await audit.check_invariants(pool)).ok
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
