"""What one running operator holds: clients, the bank probe, what it has seen, its metrics.

A ``Runtime`` belongs to one ``kopf.operator()`` run. It is built before the
run (so tests and the CLI can reach it), opened by the startup handler inside
kopf's event loop (aiohttp sessions and servers belong to the loop that made
them) and closed by the cleanup handler. Nothing here is module-level, so
several operators -- a test restarting one after a crash -- never share state.

``BankProbe`` exists so that a bank outage is not made worse: every queued
Transfer's timer and the sweep ask the same probe, which asks the bank at
most once per interval while it is healthy and backs off exponentially
while it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from vellet.common import metrics as common_metrics
from vellet.common.errors import ConfigError
from vellet.common.web import Site, new_app, start
from vellet.operator import backoff, domain
from vellet.operator.metrics import OperatorMetrics, count_phases
from vellet.operator.settings import OperatorSettings
from vellet.operator.wallet_client import BankHealth, WalletClient

#: The longest pause between two health checks of a bank that is down.
PROBE_CAP_INTERVALS = 8


class BankProbe:
    """The bank's health, shared and cached; asked less often while it is down."""

    def __init__(
        self,
        health: BankHealth,
        *,
        base: float,
        cap: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._health = health
        self._base, self._cap, self._clock = base, cap, clock
        self._lock = asyncio.Lock()
        self._failures = 0
        self._next = float("-inf")
        self._last = False
        self.checks = 0

    async def healthy(self) -> bool:
        async with self._lock:  # one health request at a time, whoever asks
            if self._clock() < self._next:
                return self._last
            self.checks += 1
            self._last = await self._health.healthy()
            self._failures = 0 if self._last else self._failures + 1
            delay = backoff.probe_delay(self._failures, base=self._base, cap=self._cap)
            self._next = self._clock() + delay
            return self._last


class Tracker:
    """What the operator knows of its Transfers, from the watch stream and its checks.

    It feeds the phase and stuck gauges, and tells the sweep which wallet
    transfers belong to a Transfer resource (their own timers follow them).
    """

    def __init__(self) -> None:
        self._phases: dict[str, str | None] = {}
        self._ids: dict[str, str] = {}
        self._stuck_owned: set[str] = set()
        self._stuck_swept: set[str] = set()
        self._redriven: dict[str, datetime.datetime] = {}

    def seen(self, uid: str, status: Mapping[str, Any], *, deleted: bool) -> None:
        if deleted:
            self._phases.pop(uid, None)
            transfer_id = self._ids.pop(uid, None)
            if transfer_id is not None:
                self._stuck_owned.discard(transfer_id)
                self._redriven.pop(transfer_id, None)
            return
        self._phases[uid] = status.get("phase")
        if status.get("transferId"):
            self._ids[uid] = str(status["transferId"])
        if domain.is_final(status) and uid in self._ids:
            self._stuck_owned.discard(self._ids[uid])
            self._redriven.pop(self._ids[uid], None)

    def owns(self, transfer_id: str) -> bool:
        return transfer_id in self._ids.values()

    def phase_counts(self) -> dict[str, int]:
        return count_phases(self._phases.values())

    def mark_stuck(self, transfer_id: str, stuck: bool) -> None:
        (self._stuck_owned.add if stuck else self._stuck_owned.discard)(transfer_id)

    def set_swept(self, transfer_ids: set[str]) -> None:
        self._stuck_swept = set(transfer_ids)

    def stuck_count(self) -> int:
        return len(self._stuck_owned | self._stuck_swept)

    def redriven(self, transfer_id: str, at: datetime.datetime) -> None:
        self._redriven[transfer_id] = at

    def redriven_at(self, transfer_id: str) -> datetime.datetime | None:
        return self._redriven.get(transfer_id)


class Runtime:
    """One operator run's resources. ``open()`` and ``close()`` run in kopf's loop."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        self.tracker = Tracker()
        self.app = new_app("operator", settings.http)
        self.metrics = OperatorMetrics(self.app[common_metrics.REGISTRY_KEY])
        common_metrics.add_refresher(self.app, self._refresh_gauges)
        self._session: aiohttp.ClientSession | None = None
        self._wallet: WalletClient | None = None
        self._probe: BankProbe | None = None
        self.site: Site | None = None
        self._background: list[asyncio.Task[None]] = []

    @property
    def wallet(self) -> WalletClient:
        if self._wallet is None:
            raise RuntimeError("the operator runtime is not open")
        return self._wallet

    @property
    def probe(self) -> BankProbe:
        if self._probe is None:
            raise RuntimeError("the operator runtime is not open")
        return self._probe

    async def open(self) -> None:
        """Open the clients and the metrics server (once; opening again is a no-op)."""
        if self.site is not None:
            return
        settings = self.settings
        self._session = aiohttp.ClientSession()
        self._wallet = WalletClient(
            self._session, settings.wallet_url, settings.issuer(), settings.http_timeout
        )
        health = BankHealth(self._session, settings.bank_url, settings.http_timeout)
        self._probe = BankProbe(
            health,
            base=settings.timer_interval,
            cap=settings.timer_interval * PROBE_CAP_INTERVALS,
        )
        try:
            self.site = await start("operator", self.app, settings.http)
        except OSError as err:
            await self.close()
            where = f"{settings.http.host}:{settings.http.port}"
            raise ConfigError(f"cannot serve metrics on {where}: {err.strerror or err}") from None

    def spawn(self, name: str, work: Callable[[], Any]) -> None:
        """Run ``work()`` (a coroutine function) in the background until ``close()``."""
        self._background.append(asyncio.create_task(work(), name=name))

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        if self.site is not None:
            await self.site.stop()
            self.site = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh_gauges(self) -> None:
        self.metrics.set_phases(self.tracker.phase_counts())
        self.metrics.set_stuck(self.tracker.stuck_count())
