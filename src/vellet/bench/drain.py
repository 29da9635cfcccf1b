"""``vellet bench drain``: after a bank outage, how fast the queued backlog becomes final.

The drill's deployment (two banks, two wallets as processes, embedded
PostgreSQL and Redis) with users signed up and funded. Then both banks are
SIGKILLed, ``--transfers`` deposits and withdrawals are sent (the wallets
accept them as ``queued``), the banks come back, and the clock runs from
the moment they answer until no deposit or withdrawal is pending or queued.
The figure is transfers made final per second of that drain.

The check at the end is the drill's: the wallet's ledger invariant, the
bank's audit, both settlements equal, every transfer final and agreeing
with the bank (lost 0), none executed twice (duplicated 0). Peak resident
memory of every bank and wallet process during the drain is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from vellet.bench.books import Books, compare_books
from vellet.bench.drill_load import Step, Tally, plan, run_load, submit
from vellet.bench.drill_stack import Stack, start_stack
from vellet.bench.mail import quiet_sink
from vellet.bench.memory import CpuShare, Peaks
from vellet.bench.report import Row, exit_code
from vellet.common import redis_acl
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis
from vellet.common.errors import ConfigError

#: The issue's goal.
GOAL_PER_S = 2000.0
_UNFINISHED = "SELECT count(*) FROM transfers WHERE kind IN ('deposit', 'withdrawal') " \
              "AND state IN ('pending', 'queued')"  # fmt: skip


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "drain",
        "settled/s when the banks return to a backlog of queued transfers",
        "vellet bench drain --transfers 20000",
        description="SIGKILL both banks, queue deposits and withdrawals, bring the banks "
        "back and time until every one is final; check the books (exit 1 if wrong).",
    )
    parser.add_argument("--transfers", type=int, default=20_000, help="queued while down")
    parser.add_argument("--users", type=int, default=20, help="wallet users sending them")
    parser.add_argument("--parallel", type=int, default=32, help="concurrent clients")
    parser.add_argument("--settle-timeout", type=float, default=600.0,
                        help="seconds to wait for the drain")  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.transfers < 10 or args.users < 4 or args.parallel < 1:
        raise ConfigError("--transfers must be >= 10, --users >= 4 and --parallel >= 1")
    return exit_code(measure(args).rows())


def measure(args: argparse.Namespace) -> DrainResult:
    quiet_sink()
    with tempfile.TemporaryDirectory(prefix="vellet-drain-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
        return run(root, args.transfers, args.users, args.parallel, args.settle_timeout)


@dataclass
class DrainResult:
    transfers: int = 0
    accepted: int = 0
    queued: int = 0
    settled: int = 0
    seconds: float = 0.0
    lost: int = 0
    duplicated: int = 0
    books_ok: bool = False
    problems: list[str] = field(default_factory=list)
    #: Transfers sent to the bank more than once (the reconciler re-drove them).
    republished: int = 0
    memory: Peaks = field(default_factory=Peaks)
    cpu: CpuShare = field(default_factory=CpuShare)

    @property
    def per_s(self) -> float:
        return self.settled / self.seconds if self.seconds else 0.0

    def rows(self) -> list[Row]:
        ok = self.books_ok and self.lost == 0 and self.duplicated == 0 and self.accepted > 0
        problems = f"; {self.problems[0]}" if self.problems else ""
        return [
            Row("backlog drain after a bank outage",
                f"{self.per_s:,.0f} settled/s ({self.settled} of {self.queued} queued "
                f"in {self.seconds:.1f} s; {self.republished} re-sent)",
                f">= {GOAL_PER_S:,.0f} settled/s", self.per_s >= GOAL_PER_S),
            Row("drain books", f"lost {self.lost}, duplicated {self.duplicated}, books "
                f"{'agree' if self.books_ok else 'DISAGREE'}{problems}",
                "lost 0, duplicated 0, books agree", ok, check=True),
            Row("CPU used during the drain (banks include their start)",
                self.cpu.describe() or "-", "-", None),
            *self.memory.rows("backlog drain"),
        ]  # fmt: skip


def run(root: Path, transfers: int, users: int, parallel: int, within: float) -> DrainResult:
    pg = EmbeddedPostgres(root / "pg", fsync=False).start()
    redis = EmbeddedRedis(root / "redis", persistent=False,
                          passwords=redis_acl.generate_passwords()).start()  # fmt: skip
    try:
        return asyncio.run(_drain(root, pg, redis, transfers, users, parallel, within))
    finally:
        redis.stop()
        pg.stop()


async def _drain(root: Path, pg: EmbeddedPostgres, redis: EmbeddedRedis, transfers: int,
                 n_users: int, parallel: int, within: float) -> DrainResult:  # fmt: skip
    result = DrainResult(transfers=transfers)
    stack = await start_stack(root, pg, redis, secrets.token_urlsafe(32))
    try:
        await _with_default_reconciler(stack)
        async with aiohttp.ClientSession() as http:
            users = await stack.open_users(http, n_users)
            funding = Tally()
            for i, user in enumerate(users):
                step = Step(i, user, "deposit", "5000.00", secrets.token_hex(16))
                await submit(http, stack.wallet_urls, step, funding)
            for bank in stack.banks:
                bank.kill()
            tally = Tally()
            await run_load(http, stack.wallet_urls, plan(users, transfers, 7), parallel, tally,
                           _go_on)  # fmt: skip
        result.accepted = len(tally.accepted)
        result.queued = await _count(stack.wallet_db, _UNFINISHED)
        # The clock is the poller's: from the first transfer made final (the
        # banks' boot and migrations are not the drain) to the last.
        result.cpu.start(_groups(stack))
        timing = asyncio.create_task(_time_drain(stack, result, within))
        await stack.start_banks()
        result.seconds, result.settled = await timing
        result.cpu.stop(_groups(stack))
        books = await compare_books(stack.wallet_db, stack.bank_db)
        extra = await stack.evidence(set(tally.accepted.values()))
    finally:
        await stack.stop()
    _judge(result, books, extra, tally, funding)
    return result


def _groups(stack: Stack) -> dict[str, list[int]]:
    def pids(procs: list[Any]) -> list[int]:
        return [p.pid for p in procs if p.pid is not None]

    return {"banks": pids(stack.banks), "wallets": pids(stack.wallets),
            "postgres": pids([stack.pg]), "redis": pids([stack.redis])}  # fmt: skip


#: The drill re-drives anything queued for 3 s, to recover lost queues within
#: its run; a drain with that setting re-sends nearly every queued transfer
#: the moment the banks are back and measures the duplicate work. The drain
#: runs the wallets' defaults instead (see the README's settings table).
_DEFAULT_RECONCILER = {"VELLET_STUCK_AFTER": "60", "VELLET_RECONCILE_INTERVAL": "10"}


async def _with_default_reconciler(stack: Stack) -> None:
    for wallet in stack.wallets:
        wallet.stop()
        wallet.env |= _DEFAULT_RECONCILER
        await wallet.start()


async def _go_on(_index: int) -> None:
    """No fault points: the whole load runs while the banks are down."""


async def _time_drain(stack: Stack, result: DrainResult, within: float) -> tuple[float, int]:
    """Seconds from the first transfer made final to the last, and how many were."""
    deadline = time.perf_counter() + within
    first: tuple[float, int] | None = None
    left = result.queued
    while time.perf_counter() < deadline:
        for name, procs in (("bank", stack.banks), ("wallet", stack.wallets)):
            for proc in procs:
                result.memory.sample(name, proc.pid)
        left = await _count(stack.wallet_db, _UNFINISHED)
        now = time.perf_counter()
        if first is None and left < result.queued:
            first = (now, left)  # some settled in the last poll interval: count from here
        if left == 0:
            break
        await asyncio.sleep(0.05)
    if first is None:
        return 0.0, 0
    return time.perf_counter() - first[0], first[1] - left


def _judge(result: DrainResult, books: Books, extra: dict[str, int], tally: Tally,
           funding: Tally) -> None:  # fmt: skip
    """The drill's verdict (see ``vellet bench drill``), on this run's numbers."""
    accepted = set(tally.accepted.values())
    unfinished = sum(n for s, n in books.by_state.items() if s in ("pending", "queued"))
    result.lost = (
        len(accepted) - extra["accepted_found"] + unfinished
        + sum(1 for p in books.problems if "never saw" in p or "but the bank says" in p)
    )  # fmt: skip
    known = extra["wallet_transfers"] - len(funding.accepted)
    result.duplicated = (max(0, known - len(accepted)) + books.bank_duplicates
                         + extra["misentered"])  # fmt: skip
    result.books_ok = books.ok and extra["acl_denials"] == 0
    result.problems = books.problems[:3]
    result.republished = extra["republished"]


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()
