"""``vellet bench drain``: after a bank outage, how fast the queued backlog becomes final.

The drill's deployment (two banks, two wallets and a notifier as processes,
a PostgreSQL for the banks and one for the wallets, Redis with an ACL user
per service, signed streams) with users signed up and funded. Then both
banks are SIGKILLed, ``--transfers`` deposits and withdrawals are sent (the
wallets accept them as ``queued``), the banks come back, and the clock runs
from the moment they answer until no deposit or withdrawal is pending or
queued. The figure is transfers made final per second of that drain.

The notifier is stopped for the timed drain (its mail for the settled
transfers would take CPU from the banks and wallets on a small machine, and
the drain is about money) and started again afterwards: it then works off a
backlog of its own, and the drill's mail books are held to the sink.

The verdict at the end is the drill's own (:class:`DrillResult`, no fault
injected): the wallet's ledger invariant, the bank's audit, both settlements
equal, every transfer final and agreeing with the bank (lost 0), none
executed twice (duplicated 0), no 500, no Redis ACL denial, every party's
mail delivered within the one-extra-copy bound. Peak resident memory of
every bank and wallet process during the drain, and of the notifier during
its mail backlog, is reported too.
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

from vellet.bench import p2p_profile
from vellet.bench.books import compare_books
from vellet.bench.drill import dead_recipients
from vellet.bench.drill_load import Step, Tally, plan, run_load, submit
from vellet.bench.drill_mail import MailBooks, mail_books, wait_for_mail
from vellet.bench.drill_report import DrillResult
from vellet.bench.drill_stack import Stack, start_stack
from vellet.bench.mail import quiet_sink
from vellet.bench.memory import CpuShare, Peaks, sampling
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
    parser.add_argument("--mail-timeout", type=float, default=300.0,
                        help="seconds to wait for every mail after the drain")  # fmt: skip
    parser.add_argument("--pg-stats", action="store_true",
                        help="print both databases' statements by time (drain only)")  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.transfers < 10 or args.users < 4 or args.parallel < 1:
        raise ConfigError("--transfers must be >= 10, --users >= 4 and --parallel >= 1")
    result = measure(args)
    code = exit_code(result.rows())
    if result.statements:
        print(result.statements)
    return code


def measure(args: argparse.Namespace) -> DrainResult:
    quiet_sink()
    with tempfile.TemporaryDirectory(prefix="vellet-drain-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
        return run(root, args.transfers, args.users, args.parallel,
                   (args.settle_timeout, args.mail_timeout), pg_stats=args.pg_stats)  # fmt: skip


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
    #: 500 answers and Redis ACL denials (both must be 0, as in the drill).
    server_errors: int = 0
    acl_denials: int = 0
    mail: MailBooks = field(default_factory=MailBooks)
    #: The drill's whole verdict (what the two check rows add up to).
    verdict_ok: bool = False
    #: Seconds the restarted notifier took to deliver the last expected mail.
    mail_wait: float = 0.0
    #: Transfers sent to the bank more than once (the reconciler re-drove them).
    republished: int = 0
    memory: Peaks = field(default_factory=Peaks)
    cpu: CpuShare = field(default_factory=CpuShare)
    #: ``--pg-stats``: both databases' statements by time during the drain.
    statements: str = ""

    @property
    def per_s(self) -> float:
        return self.settled / self.seconds if self.seconds else 0.0

    def rows(self) -> list[Row]:
        # With the mail row, exactly the drill's verdict: whatever else it ever
        # judges fails this row (unless the mail, failing its own row, is why).
        ok = (self.books_ok and self.lost == 0 and self.duplicated == 0 and self.accepted > 0
              and (self.verdict_ok or not self.mail.ok))  # fmt: skip
        problems = f"; {self.problems[0]}" if self.problems else ""
        mail = self.mail
        return [
            Row("backlog drain after a bank outage",
                f"{self.per_s:,.0f} settled/s ({self.settled} of {self.queued} queued "
                f"in {self.seconds:.1f} s; {self.republished} re-sent)",
                f">= {GOAL_PER_S:,.0f} settled/s", self.per_s >= GOAL_PER_S),
            Row("drain books", f"lost {self.lost}, duplicated {self.duplicated}, 500s "
                f"{self.server_errors}, ACL denials {self.acl_denials}, books "
                f"{'agree' if self.books_ok else 'DISAGREE'}{problems}",
                "lost 0, duplicated 0, books agree", ok, check=True),
            Row("drain mail (notifier restarted after the drain)",
                f"{mail.sent} of {mail.expected} sent in {self.mail_wait:.1f} s, missing "
                f"{mail.missing}, over the bound {mail.over_bound}, unexpected "
                f"{mail.unexpected}", "every party mailed, at most one extra copy",
                mail.ok, check=True),
            Row("CPU used during the drain (banks include their start)",
                self.cpu.describe() or "-", "-", None),
            *self.memory.rows("backlog drain"),
        ]  # fmt: skip


def run(root: Path, transfers: int, users: int, parallel: int,
        within: tuple[float, float], pg_stats: bool = False) -> DrainResult:  # fmt: skip
    """``within``: seconds to wait for the drain, then for the mail."""
    # The drill's servers: the banks' and the wallets' PostgreSQL, Redis with ACL users.
    options = p2p_profile.PG_STATS_OPTIONS if pg_stats else {}
    pg = EmbeddedPostgres(root / "pg-bank", fsync=False, options=options).start()
    wallet_pg = EmbeddedPostgres(root / "pg-wallet", fsync=False, options=options)
    redis = EmbeddedRedis(root / "redis", persistent=False,
                          passwords=redis_acl.generate_passwords())  # fmt: skip
    try:
        wallet_pg.start()
        redis.start()
        return asyncio.run(_drain(root, (pg, wallet_pg), redis, transfers, users, parallel, within,
                                  pg_stats))  # fmt: skip
    finally:
        redis.stop()
        wallet_pg.stop()
        pg.stop()


async def _drain(root: Path, pgs: tuple[EmbeddedPostgres, EmbeddedPostgres],
                 redis: EmbeddedRedis, transfers: int, n_users: int, parallel: int,
                 within: tuple[float, float], pg_stats: bool) -> DrainResult:  # fmt: skip
    result = DrainResult(transfers=transfers)
    stack = await start_stack(root, pgs[0], redis, pgs[1])
    started = time.monotonic()
    try:
        await _with_default_reconciler(stack)
        async with aiohttp.ClientSession() as http:
            users = await stack.open_users(http, n_users)
            funding = Tally()
            for i, user in enumerate(users):
                step = Step(i, user, "deposit", "5000.00", secrets.token_hex(16))
                await submit(http, stack.wallet_urls, step, funding)
            stack.links.notifier.stop()  # back after the timed drain (see above)
            for bank in stack.banks:
                bank.kill()
            tally = Tally()
            await run_load(http, stack.wallet_urls, plan(users, transfers, 7), parallel, tally,
                           _go_on)  # fmt: skip
        result.accepted = len(tally.accepted)
        result.queued = await _count(stack.wallet_db, _UNFINISHED)
        # The clock is the poller's: from the first transfer made final (the
        # banks' boot and migrations are not the drain) to the last.
        if pg_stats:
            for dsn in (stack.bank_db, stack.wallet_db):
                await p2p_profile.reset_statements(dsn)
        result.cpu.start(_groups(stack))
        timing = asyncio.create_task(_time_drain(stack, result, within[0]))
        await stack.start_banks()
        result.seconds, result.settled = await timing
        result.cpu.stop(_groups(stack))
        if pg_stats:
            banks = await p2p_profile.top_statements(stack.bank_db, result.queued, "banks'")
            wallets = await p2p_profile.top_statements(stack.wallet_db, result.queued, "wallets'")
            result.statements = f"{banks}\n{wallets}"
        await stack.links.notifier.start()
        async with sampling(result.memory, lambda: {"notifier": [stack.links.notifier.pid]}):
            _, mail_wait = await wait_for_mail(stack.wallet_db, stack.links.maildir, within[1])
        books = await compare_books(stack.wallet_db, stack.bank_db)
        extra = await stack.evidence(set(tally.accepted.values()))
        extra["dropped_bytes"] = stack.proxy.dropped_bytes
        mail = await mail_books(stack.wallet_db, stack.links.maildir,
                                await dead_recipients(stack))  # fmt: skip
    finally:
        await stack.stop()
    _judge(result, DrillResult(transfers, tally, funding, books, extra, mail, [], mail_wait,
                               time.monotonic() - started))  # fmt: skip
    return result


def _groups(stack: Stack) -> dict[str, list[int]]:
    def pids(procs: list[Any]) -> list[int]:
        return [p.pid for p in procs if p.pid is not None]

    return {"banks": pids(stack.banks), "wallets": pids(stack.wallets),
            "postgres": pids([stack.pg, stack.wallet_pg]),
            "redis": pids([stack.redis])}  # fmt: skip


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


def _judge(result: DrainResult, drill: DrillResult) -> None:
    """The drill's own verdict (no fault injected), copied into the drain's rows."""
    result.lost, result.duplicated = drill.lost, drill.duplicated
    # drill.ok, split in two rows: the money's part here, the mail's in ``mail``.
    result.books_ok = (drill.books.ok and drill.server_errors == 0
                       and drill.extra["acl_denials"] == 0
                       and drill.tally.gave_up == 0)  # fmt: skip
    result.verdict_ok = drill.ok
    result.problems = drill.books.problems[:3]
    result.republished = drill.extra["republished"]
    result.server_errors = drill.server_errors
    result.acl_denials = drill.extra["acl_denials"]
    result.mail, result.mail_wait = drill.mail, drill.mail_wait


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()
