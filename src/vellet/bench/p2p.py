"""``vellet bench p2p``: P2P transfers over HTTP, measured against pgbench.

One run, one PostgreSQL: first N concurrent clients send P2P transfers
between random pairs of funded wallets through a real wallet process for
the given seconds (after a short warm-up); then pgbench's built-in
simple-update script (``-N``) runs with 32 clients against the same server.
The ratio tells how close a full transfer (HTTP, session check, JSON, one
ledger transaction with its entries, idempotency record and outbox row) gets
to the database's raw small-transaction rate on this machine.

Embedded PostgreSQL and Redis are started unless URLs are given. Users are
written straight into the ledger with settled deposits and sessions minted
with the wallet's session key (the bench measures P2P, not sign-up or the
bank), and the ledger invariant is checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from vellet.bench import faults
from vellet.common.db import create_pool
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from vellet.common.errors import ConfigError
from vellet.common.settings import Secret
from vellet.wallet import ledger, store
from vellet.wallet.sessions import mint as mint_session
from vellet.wallet.settings import SessionSettings


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "p2p", help="P2P transfers/s over HTTP vs pgbench on the same PostgreSQL"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument(
        "--users", type=int, default=1000, help="wallets that send to each other at random"
    )
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument("--pool-size", type=int, default=20, help="the wallet's DB pool")
    parser.add_argument("--postgres-url", help="a superuser URL (default: embedded)")
    parser.add_argument("--redis-url", help="default: embedded")
    parser.add_argument("--no-fsync", action="store_true", help="embedded PG without fsync")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.clients < 1 or args.seconds <= 0 or args.users < 2:
        raise ConfigError("--clients must be >= 1, --seconds > 0 and --users >= 2")
    with (
        tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp,
        servers(args, Path(tmp)) as found,
    ):
        result = asyncio.run(_run(args, found))
    print(result.table(args))
    return 0 if result.invariant_ok else 1


@dataclass
class Result:
    transfers: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    pgbench_tps: float = 0.0
    invariant_ok: bool = False

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[int(p * 10) - 1]

    def table(self, args: argparse.Namespace) -> str:
        rate = self.transfers / self.seconds if self.seconds else 0.0
        ratio = rate / self.pgbench_tps if self.pgbench_tps else float("nan")
        return "\n".join(
            [
                "| clients | seconds | transfers | errors | transfers/s | p50 ms | p99 ms "
                f"| pgbench -N TPS ({args.pgbench_clients} clients) | ratio | invariant |",
                "|---|---|---|---|---|---|---|---|---|---|",
                f"| {args.clients} | {self.seconds:.1f} | {self.transfers} | {self.errors} "
                f"| {rate:.0f} | {self.percentile(50) * 1000:.1f} "
                f"| {self.percentile(99) * 1000:.1f} | {self.pgbench_tps:.0f} "
                f"| {ratio:.2f} | {'holds' if self.invariant_ok else 'BROKEN'} |",
            ]
        )


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
            redis = EmbeddedRedis(tmp / "redis", persistent=False).start()
            redis_url = redis.url
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


def spawn(component: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vellet", component, "serve"],
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


async def _run(args: argparse.Namespace, found: Servers) -> Result:
    wallet_db = await fresh_database(found.admin_url, "bench_wallet")
    wallet_port = free_port()
    sessions = SessionSettings(secret=Secret(secrets.token_urlsafe(32)), ttl_seconds=3600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env |= {
        "VELLET_JWT_SECRET": secrets.token_urlsafe(32),
        "VELLET_SESSION_SECRET": sessions.secret.get(),
        "VELLET_SESSION_TTL": str(sessions.ttl_seconds),
        "VELLET_REDIS_URL": found.redis_url,
        "VELLET_WALLET_DATABASE_URL": wallet_db,
        "VELLET_WALLET_PORT": str(wallet_port),
        # P2P never calls the bank (only sign-up does), so none runs here.
        "VELLET_BANK_URL": f"http://127.0.0.1:{free_port()}",
        "VELLET_WALLET_POOL_SIZE": str(args.pool_size),
        "VELLET_LOG_LEVEL": "WARNING",
    }
    wallet = spawn("wallet", env)
    try:
        wallet_url = f"http://127.0.0.1:{wallet_port}"
        await wait_healthy(wallet_url, wallet)
        users = await setup_users(args.users, wallet_db, sessions)
        result = await drive(args, wallet_url, users)
        await drain_outbox(wallet_db)
        result.invariant_ok = await invariant_holds(wallet_db)
    finally:
        stop(wallet)
    result.pgbench_tps = await pgbench(found, args)
    return result


@dataclass
class User:
    number: str
    token: str


async def setup_users(count: int, wallet_db: str, sessions: SessionSettings) -> list[User]:
    """Funded wallets and their session tokens, straight from the ledger: what
    sign-up and login would produce, without paying for them in the bench."""
    users = []
    pool = await create_pool(wallet_db, max_size=2)
    try:
        for i in range(count):
            number = str(900_000_000_000 + i)
            new = store.NewUser(number, f"Bench {i}", f"b{i}@example.test", "INR", "-")
            user = await store.insert_user(pool, new)
            assert user is not None
            await ledger.post_deposit(pool, user.id, 10**12, "INR", "bench funding")
            token, _ = mint_session(sessions, user.id, number)
            users.append(User(number, token))
    finally:
        await pool.close()
    return users


class Connection:
    """A deliberately lean HTTP/1.1 keep-alive client: the instrument must not
    eat the CPU the wallet needs (aiohttp's client costs several times more
    per request than this on a 2-core machine)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, path: str, headers: str, body: bytes) -> int:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{headers}\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = re.search(rb"(?i)content-length: *([0-9]+)", head)
        if match is None:
            raise ConfigError("the wallet answered without Content-Length")
        await self.reader.readexactly(int(match.group(1)))
        return status

    def close(self) -> None:
        self.writer.close()


async def drive(args: argparse.Namespace, wallet_url: str, users: list[User]) -> Result:
    result = Result()
    host, _, port = wallet_url.removeprefix("http://").partition(":")

    async def client(seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        conn = await Connection.open(host, int(port))
        try:
            while time.perf_counter() < deadline:
                sender, recipient = rng.sample(users, 2)
                body = (
                    f'{{"kind":"p2p","amount":"{rng.randint(1, 999)}.00","currency":"INR",'
                    f'"to_account":"{recipient.number}"}}'
                ).encode()
                headers = (
                    f"Authorization: Bearer {sender.token}\r\n"
                    f"Idempotency-Key: {uuid.uuid4().hex}\r\n"
                )
                started = time.perf_counter()
                status = await conn.post("/api/v1/transfers", headers, body)
                elapsed = time.perf_counter() - started
                if status == 201:
                    result.transfers += 1
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
        finally:
            conn.close()

    warmup_end = time.perf_counter() + min(2.0, args.seconds / 5)
    await asyncio.gather(*(client(-i - 1, warmup_end) for i in range(args.clients)))
    result.transfers, result.errors, result.latencies = 0, 0, []
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(*(client(i, deadline) for i in range(args.clients)))
    result.seconds = time.perf_counter() - started
    return result


async def drain_outbox(wallet_db: str) -> None:
    """Let the wallet's relay finish, so pgbench runs on a quiet server."""
    pool = await create_pool(wallet_db, max_size=1)
    try:
        for _ in range(600):
            if await store.unpublished_count(pool) == 0:
                return
            await asyncio.sleep(0.1)
    finally:
        await pool.close()


async def invariant_holds(wallet_db: str) -> bool:
    pool = await create_pool(wallet_db, max_size=1)
    try:
        return (await ledger.check_invariants(pool)).ok
    finally:
        await pool.close()


async def pgbench(found: Servers, args: argparse.Namespace) -> float:
    url = await fresh_database(found.admin_url, "bench_pgbench")
    binary = str(found.pgbench)
    init = await asyncio.create_subprocess_exec(
        binary, "-i", "-q", url, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await init.communicate()
    if init.returncode != 0:
        raise ConfigError(f"pgbench -i failed: {err.decode(errors='replace')[-500:]}")
    seconds = str(max(1, round(args.seconds)))
    proc = await asyncio.create_subprocess_exec(
        binary, "-N", "-c", str(args.pgbench_clients), "-j", "2", "-T", seconds, url,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    match = re.search(r"tps = ([0-9.]+)", out.decode())
    if proc.returncode != 0 or match is None:
        raise ConfigError(f"pgbench failed: {err.decode(errors='replace')[-500:]}")
    return float(match.group(1))
