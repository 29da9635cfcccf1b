"""``vellet bench drill``: deposits and withdrawals through every fault, then the books.

Two banks and two wallets run as real ``vellet ... serve`` processes on
embedded PostgreSQL and Redis (Redis without persistence, so a restart loses
the queues for real). Clients send ``--transfers`` mixed deposits and
withdrawals to both wallets, retrying with the same key like real clients,
while the drill injects, at fixed points of the load (the load waits at
each point until its fault has begun):

1. answers lost: the bank executes, the wallet hears nothing (a lossy proxy);
2. both banks SIGKILLed, Redis FLUSHALLed while transfers are queued;
3. a wallet SIGKILLed mid-batch;
4. both banks SIGKILLed, Redis killed and restarted empty;
5. a bank SIGKILLed mid-batch;
6. the other wallet SIGKILLed mid-batch.

Then it waits for every transfer to settle (the wallets' reconcilers
re-drive what Redis forgot) and prints: accepted, posted, voided, failed,
lost (must be 0), duplicated (must be 0) and whether the invariant holds
(the wallet's ledger invariant, the bank's audit, wallet settlement ==
bank settlement, and transfer-by-transfer agreement). Exit status 0 only
if all of that is true. Passwords are hashed at a low argon2 cost here:
the drill is about money, not log-in cost.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from vellet.bench.books import Books, compare_books
from vellet.bench.drill_load import Step, Tally, User, plan, run_load, submit
from vellet.bench.drill_stack import Stack, start_stack
from vellet.common import redis_acl
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis
from vellet.common.errors import ConfigError

Fault = tuple[float, str, Callable[[Stack], Awaitable[None]]]


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "drill",
        "deposits/withdrawals through outages, SIGKILLs and lost queues",
        "vellet bench drill --transfers 10000 --users 50",
        description="Send deposits and withdrawals through lost answers, SIGKILLed banks "
        "and wallets and lost Redis queues, then print whether every one moved money "
        "exactly once (exit 1 if not).",
    )
    parser.add_argument("--transfers", type=int, default=3000, help="deposits + withdrawals")
    parser.add_argument("--users", type=int, default=40, help="wallet users sending them")
    parser.add_argument("--parallel", type=int, default=32, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=1, help="of the random plan")
    parser.add_argument("--settle-timeout", type=float, default=300.0,
                        help="seconds to wait for every transfer to settle")  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.transfers < 100 or args.users < 4 or args.parallel < 1:
        raise ConfigError("--transfers must be >= 100, --users >= 4 and --parallel >= 1")
    with tempfile.TemporaryDirectory(prefix="vellet-drill-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
        pg = EmbeddedPostgres(root / "pg", fsync=False).start()
        # Each bank and wallet process connects as its own ACL user; flushing uses the admin.
        redis = EmbeddedRedis(root / "redis", persistent=False,
                              passwords=redis_acl.generate_passwords()).start()  # fmt: skip
        try:
            ok = asyncio.run(_drill(args, root, pg, redis))
        finally:
            redis.stop()
            pg.stop()
    return 0 if ok else 1


async def _lose_answers(stack: Stack) -> None:
    stack.proxy.drop_responses = True
    await asyncio.sleep(2.5)
    stack.proxy.drop_responses = False


async def _outage_then_flush(stack: Stack) -> None:
    for bank in stack.banks:
        bank.kill()
    await asyncio.sleep(2.0)  # transfers pile up in the queue...
    await stack.flushall()  # ...and the queue is lost
    await asyncio.sleep(1.0)
    await stack.start_banks()


async def _outage_then_redis_restart(stack: Stack) -> None:
    for bank in stack.banks:
        bank.kill()
    await asyncio.sleep(1.5)
    stack.redis.kill()
    stack.redis.start()  # same port, empty
    await asyncio.sleep(0.5)
    await stack.start_banks()


def _kill_restart(kind: str, index: int) -> Callable[[Stack], Awaitable[None]]:
    async def fault(stack: Stack) -> None:
        proc = (stack.wallets if kind == "wallet" else stack.banks)[index]
        proc.kill()
        await asyncio.sleep(1.0)
        await proc.start()

    return fault


FAULTS: list[Fault] = [
    (0.08, "bank-a's answers lost for 2.5 s (it executes, wallet-a hears nothing)",
     _lose_answers),
    (0.20, "both banks SIGKILLed; Redis FLUSHALL while transfers are queued; banks back",
     _outage_then_flush),
    (0.38, "wallet-a SIGKILLed mid-batch, restarted", _kill_restart("wallet", 0)),
    (0.52, "both banks SIGKILLed; Redis killed and restarted without persistence; banks back",
     _outage_then_redis_restart),
    (0.68, "bank-b SIGKILLed mid-batch, restarted", _kill_restart("bank", 1)),
    (0.82, "wallet-b SIGKILLed mid-batch, restarted", _kill_restart("wallet", 1)),
]  # fmt: skip


async def _drill(args: argparse.Namespace, root: Path, pg: EmbeddedPostgres,
                 redis: EmbeddedRedis) -> bool:  # fmt: skip
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"  +{time.monotonic() - started:6.1f}s  {text}", flush=True)

    print(
        f"vellet bench drill: {args.transfers} transfers, {args.users} users, "
        "2 wallets + 2 banks as processes, embedded PostgreSQL + Redis (no persistence)"
    )
    stack = await start_stack(root, pg, redis)
    try:
        async with aiohttp.ClientSession() as http:
            users = await stack.open_users(http, args.users)
            funding = Tally()
            for i, user in enumerate(users):
                step = Step(i, user, "deposit", "1000.00", secrets.token_hex(16))
                await submit(http, stack.wallet_urls, step, funding)
            await stack.close_bank_accounts(http, users[-2:])  # refused from now on
            say(f"{len(users)} users signed up and funded; 2 bank accounts closed")
            tally = Tally()
            steps = plan(users, args.transfers, args.seed)
            reached = [asyncio.Event() for _ in FAULTS]  # the load got to the fault's point
            begun = [asyncio.Event() for _ in FAULTS]  # the fault is under way

            async def before_send(index: int) -> None:
                for (at, _, _), here, event in zip(FAULTS, reached, begun, strict=True):
                    if index >= at * args.transfers and not event.is_set():
                        here.set()
                        await event.wait()

            async def faults() -> None:
                for (_, name, fault), here, event in zip(FAULTS, reached, begun, strict=True):
                    await here.wait()
                    say(f"fault: {name} (at {tally.done} answered)")
                    event.set()
                    await fault(stack)

            await asyncio.gather(
                run_load(http, stack.wallet_urls, steps, args.parallel, tally, before_send),
                faults(),
            )
            say(f"load done: {tally.done} answered; waiting for every transfer to settle")
            await stack.ensure_running()
            left = await stack.wait_settled(args.settle_timeout)
            say(f"settled ({left} unfinished)")
            books = await compare_books(stack.wallet_db, stack.bank_db)
            extra = await stack.evidence(set(tally.accepted.values()))
            extra["dropped_bytes"] = stack.proxy.dropped_bytes
    finally:
        await stack.stop()
    return _report(args, tally, funding, books, extra, time.monotonic() - started)


def _report(args: argparse.Namespace, tally: Tally, funding: Tally, books: Books,
            extra: dict[str, int], seconds: float) -> bool:  # fmt: skip
    accepted = set(tally.accepted.values())
    known = extra["wallet_transfers"] - len(funding.accepted)  # created by the load
    final = {s: n for s, n in books.by_state.items() if s not in ("pending", "queued")}
    unfinished = sum(n for s, n in books.by_state.items() if s in ("pending", "queued"))
    missing = len(accepted) - extra["accepted_found"]
    lost = (
        missing
        + unfinished
        + sum(1 for p in books.problems if "never saw" in p or "but the bank says" in p)
    )
    duplicated = max(0, known - len(accepted)) + books.bank_duplicates + extra["misentered"]
    holds = books.ok and lost == 0 and duplicated == 0 and extra["acl_denials"] == 0
    posted = final.get("posted", 0) - funding.first_status.get(201, 0)
    lines = [
        "totals:",
        f"  requests sent              {args.transfers}  (client retries with the same key: "
        f"{tally.retries}, gave up: {tally.gave_up})",
        f"  accepted                   {len(accepted)}  (201 final at once: "
        f"{tally.first_status.get(201, 0)}, 202 queued: {tally.first_status.get(202, 0)})",
        f"  refused at the door        {sum(tally.refused.values())}  {tally.refused or ''}",
        f"  posted                     {posted}",
        f"  voided (withdrawals)       {final.get('voided', 0)}",
        f"  failed (deposits)          {final.get('failed', 0)}",
        f"  answers lost in transit    {extra['dropped_bytes']} bytes dropped by the proxy",
        f"  re-published (attempts>1)  {extra['republished']}",
        f"  dead letters               {extra['dead_letters']}",
        f"  Redis ACL denials          {extra['acl_denials']}  (must be 0; since Redis last "
        "started)",
        f"  lost                       {lost}  (must be 0)",
        f"  duplicated                 {duplicated}  (must be 0)",
        f"  wallet settlement          {books.wallet_settlement / 100:.2f} INR",
        f"  bank settlement            {books.bank_settlement / 100:.2f} INR",
        f"  invariant holds            {'yes' if holds else 'NO'}  (wallet ledger invariant, "
        "bank audit, wallet settlement == bank settlement, every transfer agrees)",
        f"  took                       {seconds:.1f} s",
    ]
    lines += [f"  PROBLEM: {p}" for p in books.problems[:20]]
    print("\n".join(lines))
    return holds


__all__ = ["FAULTS", "User", "add_parser"]
