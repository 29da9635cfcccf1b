"""``vellet bench drill``: deposits and withdrawals through every fault, then the books.

Two banks, two wallets and a notifier run as real ``vellet ... serve``
processes; the banks and the wallets have a PostgreSQL each (embedded), and
share a Redis without persistence (a restart loses the queues for real),
each process as its own ACL user, every stream message signed by its producer.
Clients send ``--transfers`` mixed deposits and withdrawals to both wallets,
retrying with the same key like real clients, while the drill injects, one
after the other, every fault of :func:`vellet.bench.drill_faults.plan_faults`:
lost answers, SIGKILLed banks, wallets and notifier, a Redis FLUSHALL and a
Redis restarted empty, both PostgreSQLs fast-restarted and down, SIGSTOP
pauses of PostgreSQL, Redis, a bank and a wallet (longer than the clients'
timeout), wallet-a cut off from bank-a, from Redis and from its database
(dropped traffic), a bank slower than the wallet's timeout, and the SMTP
relay down. The load reaches each fault's point and is then spread over
the fault, so traffic flows through every one of them.

Then it waits for every transfer to settle and for the mail, and prints:
accepted, posted, voided, failed, lost (must be 0), duplicated (must be 0),
500 answers (must be 0), Redis ACL denials (must be 0), the invariant
(the wallet's ledger invariant, the bank's audit, wallet settlement == bank
settlement, transfer-by-transfer agreement), mails expected / sent /
duplicated / dead, and per fault how long it lasted, what its probe saw and
how soon traffic recovered. Exit status 0 only if all of that holds.
Passwords are hashed at a low argon2 cost here: the drill is about money,
not log-in cost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from vellet.bench.books import compare_books
from vellet.bench.drill_faults import Ctx, Durations, Fault, FaultRun, plan_faults
from vellet.bench.drill_load import Step, Tally, User, plan, run_load, submit
from vellet.bench.drill_mail import mail_books, wait_for_mail
from vellet.bench.drill_report import DrillResult, report
from vellet.bench.drill_stack import Stack, start_stack
from vellet.common import redis_acl
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis
from vellet.common.errors import ConfigError
from vellet.notifier.store import DEAD_RECIPIENTS

#: The longest timeout inside a service: ``vellet.common.db``'s ``command_timeout``
#: (the wallet's bank call gives up after 1 s, SMTP after 10 s). A default pause
#: outlasts it and the clients', so the paused side wakes up to abandoned work.
SERVICE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Options:
    transfers: int = 3000
    users: int = 40
    parallel: int = 32
    seed: int = 1
    settle_timeout: float = 300.0
    mail_timeout: float = 600.0
    client_timeout: float = 15.0
    times: Durations = field(default_factory=lambda: Durations(outage=30.0, pause=35.0, cut=10.0))


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "drill",
        "deposits/withdrawals through crashes, pauses, partitions and outages",
        "vellet bench drill --transfers 10000 --users 50",
        description="Send deposits and withdrawals through lost answers, SIGKILLs, pauses, "
        "partitions, PostgreSQL/Redis/SMTP outages and a slow bank, then print whether every "
        "one moved money exactly once and mailed its owner (exit 1 if not).",
    )
    parser.add_argument("--transfers", type=int, default=3000, help="deposits + withdrawals")
    parser.add_argument("--users", type=int, default=40, help="wallet users sending them")
    parser.add_argument("--parallel", type=int, default=32, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=1, help="of the random plan")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for every transfer to settle",
    )
    parser.add_argument(
        "--mail-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for every mail after the transfers settled",
    )
    parser.add_argument(
        "--client-timeout",
        type=float,
        default=15.0,
        help="seconds a client waits for an answer before retrying",
    )
    parser.add_argument(
        "--outage", type=float, default=30.0, help="seconds PostgreSQL and the SMTP relay stay down"
    )
    parser.add_argument(
        "--pause", type=float, default=None, help="seconds of SIGSTOP (default: client timeout + 5)"
    )
    parser.add_argument("--cut", type=float, default=10.0,
                        help="seconds a partition or the slow bank lasts")  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    pause = args.pause
    if pause is None:
        pause = max(args.client_timeout, SERVICE_TIMEOUT) + 5
    opts = Options(args.transfers, args.users, args.parallel, args.seed, args.settle_timeout,
                   args.mail_timeout, args.client_timeout,
                   Durations(outage=args.outage, pause=pause, cut=args.cut))  # fmt: skip
    if opts.transfers < 100 or opts.users < 4 or opts.parallel < 1:
        raise ConfigError("--transfers must be >= 100, --users >= 4 and --parallel >= 1")
    if opts.times.pause <= opts.client_timeout:
        raise ConfigError("--pause must be longer than --client-timeout (a pause, not a blip)")
    # The banks' sign-up sink runs in this process: its per-command INFO lines
    # would bury the drill's own output.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="vellet-drill-") as tmp:
        result = asyncio.run(run_drill(opts, Path(tmp)))
    print(report(result))
    return 0 if result.ok else 1


async def run_drill(opts: Options, root: Path) -> DrillResult:
    """The whole drill in ``root``: servers, stack, load, faults, books."""
    await asyncio.to_thread(root.chmod, 0o755)  # PostgreSQL runs as 'nobody' when we are root
    pg = await asyncio.to_thread(EmbeddedPostgres(root / "pg-bank", fsync=False).start)
    wallet_pg = EmbeddedPostgres(root / "pg-wallet", fsync=False)
    # Each bank, wallet and notifier process connects as its own ACL user; the
    # drill itself (FLUSHALL, the dead-letter and ACL-log counts) as the admin.
    redis = EmbeddedRedis(root / "redis", persistent=False,
                          passwords=redis_acl.generate_passwords())  # fmt: skip
    try:
        await asyncio.to_thread(wallet_pg.start)
        redis.start()
        return await _drill(opts, root, pg, wallet_pg, redis)
    finally:
        redis.stop()
        await asyncio.to_thread(wallet_pg.stop)
        await asyncio.to_thread(pg.stop)


def _pacer(faults: list[Fault], transfers: int) -> tuple[Any, Any, list[FaultRun]]:
    """The load's gate: at each fault's point wait until it began, then spread the
    steps up to the next point over the fault's nominal length."""
    points = [(k + 1) * transfers // (len(faults) + 1) for k in range(len(faults))]
    ends = [*points[1:], transfers]
    reached = [asyncio.Event() for _ in faults]
    begun = [asyncio.Event() for _ in faults]
    runs = [FaultRun(f.name) for f in faults]

    async def before_send(index: int) -> None:
        k = max((k for k, at in enumerate(points) if index >= at), default=-1)
        if k < 0:
            return
        if not begun[k].is_set():
            reached[k].set()
            await begun[k].wait()
        frac = (index - points[k]) / max(1, ends[k] - points[k])
        delay = runs[k].started + frac * faults[k].seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    return before_send, (reached, begun), runs


async def _drill(opts: Options, root: Path, pg: EmbeddedPostgres, wallet_pg: EmbeddedPostgres,
                 redis: EmbeddedRedis) -> DrillResult:  # fmt: skip
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"  +{time.monotonic() - started:6.1f}s  {text}", flush=True)

    print(
        f"vellet bench drill: {opts.transfers} transfers, {opts.users} users, 2 wallets + "
        "2 banks + a notifier as processes, a PostgreSQL for the wallets and one for the "
        "banks, Redis (no persistence), an SMTP sink"
    )
    faults = plan_faults(opts.times)
    stack = await start_stack(root, pg, redis, wallet_pg)
    try:
        async with aiohttp.ClientSession() as http:
            users = await stack.open_users(http, opts.users)
            funding = Tally(timeout=opts.client_timeout)
            for i, user in enumerate(users):
                step = Step(i, user, "deposit", "1000.00", secrets.token_hex(16))
                await submit(http, stack.wallet_urls, step, funding)
            await stack.close_bank_accounts(http, users[-2:])  # refused from now on
            say(f"{len(users)} users signed up and funded; 2 bank accounts closed")
            tally = Tally(timeout=opts.client_timeout)
            steps = plan(users, opts.transfers, opts.seed)
            before_send, (reached, begun), runs = _pacer(faults, opts.transfers)
            ctx = Ctx(stack, http, users[0], opts.times)

            async def inject() -> None:
                for fault, run, here, event in zip(faults, runs, reached, begun, strict=True):
                    await here.wait()
                    say(f"fault: {fault.name} (at {tally.done} answered)")
                    run.started = time.monotonic()
                    event.set()
                    await fault.run(ctx, run)
                    run.healed = time.monotonic()
                    say(f"  healed after {run.healed - run.started:.1f} s: "
                        f"{'; '.join(run.evidence)}")  # fmt: skip

            await asyncio.gather(
                run_load(http, stack.wallet_urls, steps, opts.parallel, tally, before_send),
                inject(),
            )
            say(f"load done: {tally.done} answered; waiting for every transfer to settle")
            await stack.ensure_running()
            left = await stack.wait_settled(opts.settle_timeout)
            say(f"settled ({left} unfinished); waiting for the mail")
            missing, waited = await wait_for_mail(stack.wallet_db, stack.links.maildir,
                                                  opts.mail_timeout)  # fmt: skip
            say(f"mail settled in {waited:.1f} s ({missing} missing)")
            books = await compare_books(stack.wallet_db, stack.bank_db)
            extra = await stack.evidence(set(tally.accepted.values()))
            extra["dropped_bytes"] = stack.proxy.dropped_bytes
            dead = await dead_recipients(stack)
            mail = await mail_books(stack.wallet_db, stack.links.maildir, dead)
    finally:
        await stack.stop()
    return DrillResult(opts.transfers, tally, funding, books, extra, mail, runs, waited,
                       time.monotonic() - started)  # fmt: skip


async def dead_recipients(stack: Stack) -> int:
    """Recipients the notifier gave up on (its dead letters, in Redis)."""
    client = aioredis.Redis.from_url(stack.redis.url)  # as the admin, like every count
    try:
        return int(await client.xlen(DEAD_RECIPIENTS))
    finally:
        await client.aclose()


__all__ = ["Options", "User", "add_parser", "run_drill"]
