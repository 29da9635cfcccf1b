"""The load half of ``vellet bench p2p``: users, clients, and what one round measured.

The clients are deliberately lean (see :class:`Connection`): on two cores
the instrument must not eat the CPU the wallet and PostgreSQL need.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from vellet.common.db import create_pool
from vellet.common.errors import ConfigError
from vellet.wallet.auth import store as auth_store
from vellet.wallet.auth.sessions import mint as mint_session
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.settings import SessionSettings


@dataclass
class Round:
    """One P2P phase over HTTP, and the pgbench phase run right after it."""

    transfers: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    pgbench_tps: float = 0.0
    #: Mean P2P transfers per ledger call (the wallet's vellet_p2p_batch_size).
    mean_batch: float = math.nan

    @property
    def rate(self) -> float:
        return self.transfers / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.pgbench_tps if self.pgbench_tps else math.nan

    @property
    def p50(self) -> float:
        return self._percentile(50)

    @property
    def p99(self) -> float:
        return self._percentile(99)

    def _percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return math.nan
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


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
            new = auth_store.NewUser(number, f"Bench {i}", f"b{i}@example.test", "INR", "-")
            user = await auth_store.insert_user(pool, new)
            assert user is not None
            await ledger_store.post_deposit(pool, user.id, 10**12, "INR", "bench funding")
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


async def drive(
    args: argparse.Namespace,
    wallet_urls: list[str],
    users: list[User],
    round_no: int,
    metrics_urls: list[str],
    on_start: Callable[[], None] = lambda: None,
) -> Round:
    """One measured P2P phase (the first one after a short warm-up); client
    i talks to wallet i modulo their number, as a round-robin balancer would.
    The batch sizes are read from ``metrics_urls``, the wallets' internal ports;
    ``on_start`` is called as the measured phase begins (the CPU split)."""
    result = Round()
    addresses = [url.removeprefix("http://").partition(":") for url in wallet_urls]

    async def client(seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        host, _, port = addresses[seed % len(addresses)]
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

    if round_no == 0:
        warmup_end = time.perf_counter() + min(2.0, args.seconds / 5)
        await asyncio.gather(*(client(-i - 1, warmup_end) for i in range(args.clients)))
        result.transfers, result.errors, result.latencies = 0, 0, []
    sum_before, count_before = await batch_sizes(metrics_urls)
    on_start()
    started = time.perf_counter()
    deadline = started + args.seconds
    seeds = range(round_no * args.clients, (round_no + 1) * args.clients)
    await asyncio.gather(*(client(seed, deadline) for seed in seeds))
    result.seconds = time.perf_counter() - started
    sum_after, count_after = await batch_sizes(metrics_urls)
    if count_after > count_before:
        result.mean_batch = (sum_after - sum_before) / (count_after - count_before)
    return result


async def batch_sizes(metrics_urls: list[str]) -> tuple[float, float]:
    """(sum, count) of the wallets' P2P batch-size histograms so far."""
    total, count = 0.0, 0.0
    async with aiohttp.ClientSession() as http:
        for url in metrics_urls:
            async with http.get(f"{url}/metrics") as resp:
                text = await resp.text()
            found = dict(re.findall(r"(?m)^vellet_p2p_batch_size_(sum|count) ([0-9.e+]+)$", text))
            total += float(found.get("sum", 0))
            count += float(found.get("count", 0))
    return total, count
