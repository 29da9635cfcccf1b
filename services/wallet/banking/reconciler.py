"""Stuck-transfer reconciliation: the database, not Redis, is the truth.

A deposit or withdrawal can get stuck ``pending`` or ``queued`` when its
message is gone (Redis flushed or restarted without persistence, a stream
trimmed by hand) or no one executed it (the bank's consumer was down past
its retries). :func:`reconcile` is the one function that fixes that:

1. count transfers unfinished and unattempted for ``stuck_after`` seconds;
2. if there are any, ask the bank's ``/readyz`` (can it work: its database
   and Redis);
3. bank ready: re-drive them (their request rows are written again and the
   relay re-publishes them); bank not ready: report it and touch nothing,
   the next run tries again.

A re-drive is always safe: the bank executes a transfer id once and replays
its first outcome, and the wallet applies an outcome once. Re-driving bumps
``attempted_at``, so a transfer is re-driven at most once per
``stuck_after`` and two replicas never re-drive the same one in one round
(a PostgreSQL advisory lock lets one replica reconcile at a time).

Where it runs: in the wallet on a timer (``VELLET_WALLET_RECONCILER``,
default on: ``vellet up`` and single-host deployments). In a cluster the
operator does the same through the internal API (list stuck, check the
bank's health, re-drive) and the wallet's timer is switched off with
``VELLET_WALLET_RECONCILER=false``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from redis.exceptions import RedisError

from vellet.common.db import Pool
from vellet.wallet.banking import queue_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileReport:
    #: Transfers found pending or queued, unattempted for ``stuck_after`` seconds.
    stuck: int
    #: The bank's readiness; None when it was not asked (nothing was stuck).
    bank_available: bool | None
    #: How many were re-driven (re-published) by this run.
    redriven: int
    #: True when another replica was reconciling and this run did nothing.
    busy: bool = False

    @property
    def outcome(self) -> str:
        if self.busy:
            return "busy"
        if self.stuck == 0:
            return "idle"
        return "redriven" if self.bank_available else "bank_unavailable"


async def reconcile(pool: Pool, bank_ready: Callable[[], Awaitable[bool]],
                    stuck_after: float, *, limit: int = 1000) -> ReconcileReport:  # fmt: skip
    """Find stuck transfers; re-drive them if the bank is ready. Returns what it did."""
    stuck = await queue_store.count_stuck(pool, stuck_after)
    if stuck == 0:
        return ReconcileReport(0, None, 0)
    if not await bank_ready():
        return ReconcileReport(stuck, False, 0)
    ids = await queue_store.redrive_stuck(pool, stuck_after, limit)
    if ids is None:
        return ReconcileReport(stuck, True, 0, busy=True)
    return ReconcileReport(stuck, True, len(ids))


class ReconcileTimer:
    """Runs a reconcile callable every ``interval`` seconds until cancelled."""

    def __init__(self, run_once: Callable[[], Awaitable[ReconcileReport]],
                 interval: float) -> None:  # fmt: skip
        self._run_once = run_once
        self._interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                report = await self._run_once()
            except (OSError, RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("reconciler run failed: %s", type(err).__name__)
                continue
            if report.outcome == "bank_unavailable":
                log.warning("%d stuck transfer(s); the bank is not ready, waiting", report.stuck)
            elif report.redriven:
                log.info("re-drove %d stuck transfer(s)", report.redriven)
