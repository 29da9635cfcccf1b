"""Every fault the drill injects, each with a probe that proves it was real.

A fault that does nothing would let any drill pass, so every fault here
looks, while it lasts, at the thing it broke and writes what it saw into
its :class:`FaultRun` (``interrupted`` true only if the probe saw the
failure): a readiness check naming the dependency it cannot reach, a
request that times out, a proxy that dropped bytes, a mail backlog that does
not drain. ``tests/bench/test_drill.py`` fails any fault whose probe saw
nothing.

Durations come from :class:`Durations`: ``pause`` must be longer than the
clients' timeout (the drill checks), so a paused process wakes up to
requests whose clients gave up and retried elsewhere with the same key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aioredis

from vellet.bench.drill_load import User
from vellet.bench.drill_mail import expected_mail, received, wait_for_mail
from vellet.bench.drill_stack import Stack
from vellet.bench.faults_net import pause, resume
from vellet.common.embedded import EmbeddedPostgres


@dataclass(frozen=True)
class Durations:
    #: PostgreSQL down, the SMTP relay down (seconds).
    outage: float
    #: SIGSTOP to SIGCONT; longer than the clients' timeout.
    pause: float
    #: Partitions and the slow bank.
    cut: float
    #: The wallet's bank-call timeout (the slow bank answers after twice that).
    bank_timeout: float = 1.0


@dataclass
class FaultRun:
    name: str
    started: float = 0.0
    healed: float = 0.0
    #: Whether the probe saw the fault while it lasted.
    interrupted: bool = False
    evidence: list[str] = field(default_factory=list)

    def saw(self, what: str, interrupted: bool) -> None:
        self.evidence.append(what)
        self.interrupted = self.interrupted or interrupted


@dataclass
class Ctx:
    stack: Stack
    http: aiohttp.ClientSession
    user: User
    times: Durations


FaultFn = Callable[[Ctx, FaultRun], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    name: str
    run: FaultFn
    #: Roughly how long it lasts: the load is spread over it.
    seconds: float


async def status_of(http: aiohttp.ClientSession, url: str, limit: float = 1.5,
                    headers: dict[str, str] | None = None) -> str:  # fmt: skip
    """'200', '503 not_ready: unreachable: redis', 'timeout' or 'refused'."""
    try:
        async with http.get(url, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=limit)) as resp:  # fmt: skip
            if resp.status == 200:
                return "200"
            body = await resp.json(content_type=None)
            return f"{resp.status} {body.get('code')}: {body.get('detail', '')}"[:90]
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError:
        return "refused"


# --- kills, lost answers, lost queues (the drill's first faults) ---------------


async def lose_answers(ctx: Ctx, run: FaultRun) -> None:
    before = ctx.stack.proxy.dropped_bytes
    ctx.stack.proxy.drop_responses = True
    await asyncio.sleep(2.5)
    ctx.stack.proxy.drop_responses = False
    dropped = ctx.stack.proxy.dropped_bytes - before
    run.saw(f"{dropped} bytes of answers dropped", dropped > 0)


async def _banks_down(ctx: Ctx, run: FaultRun) -> None:
    for bank in ctx.stack.banks:
        bank.kill()
    seen = await status_of(ctx.http, f"{ctx.stack.banks[1].url}/healthz")
    run.saw(f"bank-b /healthz: {seen}", seen == "refused")
    # A Redis wiped while transfer events wait in it loses their mail: Redis
    # without persistence is not a durable queue (README, reliability). The
    # wipe is about the bank queues, so let the mail already due go out first.
    missing, waited = await wait_for_mail(ctx.stack.wallet_db, ctx.stack.links.maildir, 300)
    run.saw(f"mail drained before the wipe in {waited:.1f} s ({missing} left)", False)


async def outage_then_flush(ctx: Ctx, run: FaultRun) -> None:
    await _banks_down(ctx, run)
    await asyncio.sleep(1.0)  # transfers pile up in the queue...
    client = aioredis.Redis.from_url(ctx.stack.redis.url)
    try:
        await client.flushall()  # ...and the queue is lost
    finally:
        await client.aclose()
    await asyncio.sleep(1.0)
    await ctx.stack.start_banks()


async def outage_then_redis_restart(ctx: Ctx, run: FaultRun) -> None:
    await _banks_down(ctx, run)
    await asyncio.sleep(0.5)
    ctx.stack.redis.kill()
    ctx.stack.redis.start()  # same port, empty
    await asyncio.sleep(0.5)
    await ctx.stack.start_banks()


def kill_restart(kind: str, index: int) -> FaultFn:
    async def fault(ctx: Ctx, run: FaultRun) -> None:
        proc = (ctx.stack.wallets if kind == "wallet" else ctx.stack.banks)[index]
        proc.kill()
        seen = await status_of(ctx.http, f"{proc.url}/healthz")
        run.saw(f"/healthz: {seen}", seen == "refused")
        await asyncio.sleep(1.0)
        await proc.start()

    return fault


# --- PostgreSQL restarted or down ----------------------------------------------


def pg_down(side: str, seconds: float | None) -> FaultFn:
    """Fast shutdown of the wallets' or the banks' PostgreSQL; back after ``seconds``
    (None: at once, a fast restart). In-flight requests must answer 503."""

    async def fault(ctx: Ctx, run: FaultRun) -> None:
        pg: EmbeddedPostgres = ctx.stack.wallet_pg if side == "wallet" else ctx.stack.pg
        await asyncio.to_thread(pg.stop)
        if side == "wallet":
            url = f"{ctx.stack.wallets[1].url}/api/v1/transfers"
            auth = {"Authorization": f"Bearer {ctx.user.token}"}
            seen = await status_of(ctx.http, url, 5.0, auth)
            run.saw(f"GET wallet-b transfers: {seen}", seen.startswith("503 unavailable"))
        else:
            seen = await status_of(ctx.http, f"{ctx.stack.banks[1].url}/readyz", 5.0)
            run.saw(f"bank-b /readyz: {seen}", seen.startswith("503"))
        if seconds:
            await asyncio.sleep(seconds)
        await asyncio.to_thread(pg.start)

    return fault


# --- pauses: SIGSTOP ... SIGCONT -----------------------------------------------


def paused(target: str) -> FaultFn:
    async def fault(ctx: Ctx, run: FaultRun) -> None:
        stack = ctx.stack
        pids = {"wallet-postgres": stack.wallet_pg.pid, "redis": stack.redis.pid,
                "bank-a": stack.banks[0].pid, "wallet-a": stack.wallets[0].pid}  # fmt: skip
        pid = pids[target]
        assert pid is not None, f"{target} is not running"
        stopped = pause(pid)
        try:
            probe = {"wallet-postgres": f"{stack.wallets[1].url}/readyz",
                     "redis": f"{stack.wallets[1].url}/readyz",
                     "bank-a": f"{stack.banks[0].url}/healthz",
                     "wallet-a": f"{stack.wallets[0].url}/healthz"}[target]  # fmt: skip
            began = time.monotonic()
            seen = await status_of(ctx.http, probe, 3.0)
            run.saw(f"{len(stopped)} process(es) stopped; probe: {seen}", seen != "200")
            await asyncio.sleep(max(0.0, ctx.times.pause - (time.monotonic() - began)))
        finally:
            resume(stopped)

    return fault


# --- partitions and a slow bank (GateProxy) ------------------------------------


def partitioned(link: str) -> FaultFn:
    async def fault(ctx: Ctx, run: FaultRun) -> None:
        stack = ctx.stack
        proxy = {"bank": stack.proxy, "redis": stack.links.wallet_redis,
                 "postgres": stack.links.wallet_db}[link]  # fmt: skip
        proxy.cut()
        try:
            if link == "bank":  # what wallet-a sees of bank-a
                seen = await status_of(ctx.http, f"{proxy.url}/healthz", 1.5)
                run.saw(f"bank-a through the link: {seen}", seen == "timeout")
            else:
                # A 503 naming the link, or no answer at all: a check cancelled on a
                # silent link waits for asyncpg's cancel request, which is dropped too.
                seen = await status_of(ctx.http, f"{stack.wallets[0].url}/readyz", 5.0)
                run.saw(f"wallet-a /readyz: {seen}", link in seen or seen == "timeout")
            await asyncio.sleep(ctx.times.cut)
        finally:
            proxy.heal()

    return fault


async def slow_bank(ctx: Ctx, run: FaultRun) -> None:
    proxy = ctx.stack.proxy
    proxy.delay = ctx.times.bank_timeout * 2
    try:
        began = time.monotonic()
        seen = await status_of(ctx.http, f"{proxy.url}/healthz", proxy.delay + 3)
        took = time.monotonic() - began
        run.saw(f"bank-a answered {seen} after {took:.1f} s (wallet gives up after "
                f"{ctx.times.bank_timeout:.1f} s)", took >= ctx.times.bank_timeout)  # fmt: skip
        await asyncio.sleep(max(0.0, ctx.times.cut - took))
    finally:
        proxy.heal()


# --- mail: the notifier killed, the relay down ---------------------------------


async def _backlog(ctx: Ctx) -> tuple[int, int]:
    """(mails due but not in the sink, mails in the sink)."""
    want = await expected_mail(ctx.stack.wallet_db)
    got = await asyncio.to_thread(received, ctx.stack.links.maildir)
    return sum(1 for pair in want if pair not in got), sum(got.values())


async def notifier_killed(ctx: Ctx, run: FaultRun) -> None:
    """SIGKILL inside SMTP dialogues: the relay answers slowly for a moment, so mail
    piles up and the notifier is in the middle of sending when it dies."""
    notifier, smtp = ctx.stack.links.notifier, ctx.stack.links.smtp
    smtp.delay = 0.3
    try:
        deadline = time.monotonic() + 10
        due, _ = await _backlog(ctx)
        while due == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            due, _ = await _backlog(ctx)
        await asyncio.sleep(0.5)  # well inside a slowed dialogue
        notifier.kill()
    finally:
        smtp.heal()
    run.saw(f"SIGKILLed with {due} mail(s) due, the relay slowed", due > 0)
    await asyncio.sleep(1.0)
    await notifier.start()


async def smtp_down(ctx: Ctx, run: FaultRun) -> None:
    ctx.stack.links.smtp.refuse()
    try:
        _, before = await _backlog(ctx)
        await asyncio.sleep(ctx.times.outage)
        due, after = await _backlog(ctx)
        run.saw(f"{due} mail(s) waiting, {after - before} delivered while down", due > 0)
    finally:
        ctx.stack.links.smtp.heal()


def plan_faults(t: Durations) -> list[Fault]:
    """Every fault, in the order the drill injects them."""
    return [
        Fault("bank-a's answers lost for 2.5 s (it executes, wallet-a hears nothing)",
              lose_answers, 2.5),
        Fault("both banks SIGKILLed; Redis FLUSHALL while transfers are queued; banks back",
              outage_then_flush, 4.0),
        Fault("wallet-a SIGKILLed mid-batch, restarted", kill_restart("wallet", 0), 2.0),
        Fault("the wallets' PostgreSQL fast-restarted", pg_down("wallet", None), 2.0),
        Fault("bank-a's replies delayed past the wallet's timeout (it executes)", slow_bank,
              t.cut),
        Fault("both banks SIGKILLed; Redis killed and restarted without persistence; banks "
              "back", outage_then_redis_restart, 4.0),
        Fault("wallet-a paused (SIGSTOP) longer than the clients' timeout", paused("wallet-a"),
              t.pause),
        Fault("the banks' PostgreSQL fast-restarted", pg_down("bank", None), 2.0),
        Fault("wallet-a cut off from bank-a (dropped, not refused)", partitioned("bank"), t.cut),
        Fault("the notifier SIGKILLed mid-send, restarted", notifier_killed, 2.0),
        Fault("bank-a paused (SIGSTOP)", paused("bank-a"), t.pause),
        Fault(f"the wallets' PostgreSQL down for {t.outage:.0f} s", pg_down("wallet", t.outage),
              t.outage),
        Fault("wallet-a cut off from Redis", partitioned("redis"), t.cut),
        Fault("bank-b SIGKILLed mid-batch, restarted", kill_restart("bank", 1), 2.0),
        Fault("Redis paused (SIGSTOP)", paused("redis"), t.pause),
        Fault(f"the SMTP relay down for {t.outage:.0f} s", smtp_down, t.outage),
        Fault(f"the banks' PostgreSQL down for {t.outage:.0f} s", pg_down("bank", t.outage),
              t.outage),
        Fault("wallet-a cut off from its PostgreSQL", partitioned("postgres"), t.cut),
        Fault("the wallets' PostgreSQL paused (SIGSTOP, every backend)",
              paused("wallet-postgres"), t.pause),
        Fault("wallet-b SIGKILLed mid-batch, restarted", kill_restart("wallet", 1), 2.0),
    ]  # fmt: skip
