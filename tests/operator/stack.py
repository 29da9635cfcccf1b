"""The real operator against the emulator, with a real wallet and bank behind it.

``operator_settings`` gives fast, test-sized settings: a short timer, a
1-second stuck threshold, watch timeouts that expire (and so exercise
reconnects), the metrics server on a random port, and login to the
emulator through ``VELLET_OPERATOR_KUBE_API_URL``'s field. ``running``
starts the operator in its own thread (see ``kopf_thread``);
``OperatorProcess`` runs ``vellet operator run`` as a child process a test
can SIGKILL.

``HoldingWallet`` is a plain HTTP relay in front of the real wallet that can
hold back the answer to a transfer creation the wallet has already executed:
the widest window in which an operator can die mid-transfer (the money moved,
the Transfer does not say so yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.operator.conftest import Bank, bind, load_sample
from tests.operator.emulator.server import EVENTS, ApiServer
from tests.operator.kopf_thread import running_operator
from tests.support.bank import TEST_TOKENS
from tests.support.keys import key_env, key_settings
from tests.wallet.stack import RunningWallet, WalletClient, registered
from vellet.common import streams
from vellet.common.settings import HttpSettings
from vellet.common.web import Site, start
from vellet.operator.handlers import build_registry
from vellet.operator.runtime import Runtime
from vellet.operator.settings import OperatorSettings, WatchSettings

NAMESPACE = "default"
#: Prometheus samples by (name, labels).
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TIMER = 0.25


def operator_settings(
    api: ApiServer, wallet_url: str, bank_url: str, **overrides: Any
) -> OperatorSettings:
    values: dict[str, Any] = {
        "wallet_url": wallet_url,
        "bank_url": bank_url,
        "tokens": TEST_TOKENS,
        "keys": key_settings("operator", ()),
        "namespaces": (NAMESPACE,),
        "watch": WatchSettings(server_timeout=2, client_timeout=4, connect_timeout=1),
        "stuck_after": 1.0,
        "timer_interval": TIMER,
        "sweep_api_transfers": False,
        "http_timeout": 5.0,
        "http": HttpSettings(port=0),
        "kube_api_url": str(api.url).rstrip("/"),
    }
    values.update(overrides)
    return OperatorSettings(**values)


@contextlib.asynccontextmanager
async def running(settings: OperatorSettings) -> AsyncIterator[Runtime]:
    """The operator in a thread while the block runs; its runtime for metrics."""
    rt = Runtime(settings)
    kopf_settings = settings.kopf_settings()
    kopf_settings.queueing.exit_timeout = 0.5
    async with running_operator(
        registry=build_registry(rt), settings=kopf_settings, **settings.run_options()
    ):
        yield rt


async def member(api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession,
                 namespace: str = NAMESPACE) -> WalletClient:  # fmt: skip
    """A signed-up, logged-in wallet user whose account is bound to ``namespace``."""
    assert bank.running is not None
    client = await registered(bank.running, wallet, http)
    await bind(api, namespace, client.account_number or "")
    return client


def p2p(payer: WalletClient, payee: WalletClient, amount: str) -> dict[str, Any]:
    """A P2P Transfer manifest (from the sample) with a unique name."""
    manifest = load_sample("p2p")
    manifest["metadata"]["name"] = f"p2p-{uuid.uuid4().hex[:8]}"
    manifest["spec"] |= {
        "fromAccount": payer.account_number,
        "toAccount": payee.account_number,
        "amount": amount,
    }
    return manifest


async def available(client: WalletClient) -> str:
    """The user's available wallet balance, as the public API shows it."""
    reply = await client.me()
    assert reply.status == 200, reply
    return str(reply.body["balance"]["available"])


def phase_is(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: obj.get("status", {}).get("phase") == phase


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    raise AssertionError(f"no {type_} condition in {obj.get('status')}")


def events_about(api: ApiServer, name: str) -> list[dict[str, Any]]:
    return [e for e in api.read_all(EVENTS) if e["involvedObject"]["name"] == name]


def reasons(api: ApiServer, name: str) -> list[str]:
    return [e["reason"] for e in events_about(api, name)]


async def scrape(url: str) -> Samples:
    """Every sample of ``url``/metrics, by (name, labels)."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def requests_to(url: str, method: str, route: str) -> float:
    """How many ``method route`` requests the service at ``url`` answered (any status)."""
    samples = await scrape(url)
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "vellet_http_requests_total"
        and ("method", method) in labels
        and ("route", route) in labels
    )


async def scraped(
    url: str, name: str, value: float, timeout: float = 10.0, **labels: str
) -> Samples:
    """Scrape ``url`` until the sample ``name{labels}`` reads ``value`` (gauges
    follow the watch stream, a moment after the object changed); the samples."""
    async with asyncio.timeout(timeout):
        while True:
            samples = await scrape(url)
            if sample(samples, name, **labels) == value:
                return samples
            await asyncio.sleep(0.05)


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def published(redis_url: str) -> bool:
    """Whether a bank request is on the bank request stream."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return int(await client.xlen(streams.BANK_REQUESTS)) > 0
    finally:
        await client.aclose()


async def lose_bank_requests(redis_url: str) -> None:
    """Redis loses every queued bank request (the consumer group survives)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.xtrim(streams.BANK_REQUESTS, maxlen=0)
    finally:
        await client.aclose()


async def bank_side(bank: Bank, account: str, transfer_id: str) -> tuple[int, int]:
    """The bank account's balance (minor units) and its transactions for this transfer."""
    conn = await asyncpg.connect(bank.database_url)
    try:
        balance = await conn.fetchval(
            "SELECT balance FROM accounts WHERE account_number = $1", account
        )
        executed = await conn.fetchval(
            "SELECT count(*) FROM transactions WHERE transfer_id = $1::uuid", transfer_id
        )
        return int(balance), int(executed)
    finally:
        await conn.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll an async condition (no deadline asserted: the timeout only ends a hung test)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


@dataclass
class HoldingWallet:
    """Relays every request to the wallet; while ``hold`` is set, a transfer
    creation is executed by the wallet but its answer is kept back."""

    target: str
    hold: bool = False
    port: int = 0
    executed: asyncio.Event = field(default_factory=asyncio.Event)
    site: Site | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self.site is not None
        return self.site.url

    async def start(self) -> HoldingWallet:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self.site = await start("holding-wallet", app, HttpSettings(port=self.port))
        return self

    async def stop(self) -> None:
        self._release.set()
        if self.site is not None:
            await self.site.stop()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                self.target + request.path_qs,
                data=await request.read(),
                headers=headers,
            ) as answer,
        ):
            body, status, ctype = await answer.read(), answer.status, answer.content_type
        if request.method == "POST" and request.path == "/internal/v1/transfers" and self.hold:
            self.executed.set()
            await self._release.wait()  # the operator dies waiting for this
        return web.Response(body=body, status=status, content_type=ctype)


@dataclass
class OperatorProcess:
    """``vellet operator run`` as a child process, logging in through a kubeconfig
    (kopf's own discovery, as on a laptop) rather than the explicit URL."""

    settings: OperatorSettings
    api: ApiServer
    #: The key variables it starts with (``keyfiles.file_env`` for files, as ``vellet up``).
    key_vars: dict[str, str] = field(default_factory=lambda: key_env("operator", ()))
    proc: subprocess.Popen[bytes] | None = None
    _dir: tempfile.TemporaryDirectory[str] | None = None

    def env(self) -> dict[str, str]:
        assert self._dir is not None
        kubeconfig = Path(self._dir.name) / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(self.api.kubeconfig(NAMESPACE)))
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VELLET_", "KUBE"))}
        env.update(
            KUBECONFIG=str(kubeconfig),
            VELLET_WALLET_INTERNAL_URL=s.wallet_url,
            VELLET_BANK_URL=s.bank_url,
            VELLET_OPERATOR_NAMESPACES=",".join(s.namespaces),
            VELLET_OPERATOR_WATCH_SERVER_TIMEOUT=str(s.watch.server_timeout),
            VELLET_OPERATOR_WATCH_CLIENT_TIMEOUT=str(s.watch.client_timeout),
            VELLET_OPERATOR_WATCH_CONNECT_TIMEOUT=str(s.watch.connect_timeout),
            VELLET_OPERATOR_STUCK_AFTER=str(s.stuck_after),
            VELLET_OPERATOR_TIMER_INTERVAL=str(s.timer_interval),
            VELLET_OPERATOR_SWEEP_API_TRANSFERS=str(s.sweep_api_transfers).lower(),
            VELLET_OPERATOR_HTTP_TIMEOUT=str(s.http_timeout),
            VELLET_OPERATOR_PORT=str(s.http.port),
            VELLET_LOG_LEVEL="WARNING",
        )
        env.update(self.key_vars)
        return env

    async def start(self) -> OperatorProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="vellet-operator-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vellet", "operator", "run"], env=self.env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup handler, no last patch."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, as Kubernetes stops a pod; the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        if self._dir is not None:
            self._dir.cleanup()
        return self.proc.returncode

    def stderr(self) -> str:
        return self.proc.stderr.read().decode() if self.proc and self.proc.stderr else ""


def with_port(settings: OperatorSettings, port: int) -> OperatorSettings:
    return replace(settings, http=HttpSettings(port=port))
