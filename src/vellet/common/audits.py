"""The books balance, as a metric: a check run now and then, its last result exported.

The wallet's ledger invariant and the bank's audit are whole-table queries.
Running them on every scrape would make Prometheus a load generator and a
slow scrape a missing one, so each service runs its check in the background
every ``interval`` seconds, inside a read-only snapshot under a statement
timeout (a check that grows too slow fails loudly instead of holding a
connection), and ``/metrics`` only reads the last result.

A run that cannot complete (database down, timeout) changes neither the
result nor the last-run time: the result keeps saying what was last *known*,
and an alert on the age of the last run says the check stopped working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from vellet.common import metrics
from vellet.common.db import Conn, Pool

log = logging.getLogger("vellet.audits")

#: One check run: how many violations it found (0: the books balance).
Check = Callable[[web.Application], Awaitable[int]]
RESULTS = ("ok", "violated", "error")
WORK_MEM = "64MB"


class AuditMetrics:
    """Last result, last run time, duration and run outcomes, by check name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ok = Gauge(
            "vellet_audit_ok",
            "1 if the last completed run of the check found the books balanced, 0 if not.",
            ["check"], registry=registry,
        )  # fmt: skip
        self.violations = Gauge(
            "vellet_audit_violations",
            "Violations the last completed run of the check found (0 when the books balance).",
            ["check"], registry=registry,
        )  # fmt: skip
        self.last_run = Gauge(
            "vellet_audit_last_run_timestamp_seconds",
            "Unix time the last run of the check completed.",
            ["check"], registry=registry,
        )  # fmt: skip
        self.duration = Gauge(
            "vellet_audit_duration_seconds",
            "How long the last completed run of the check took.",
            ["check"], registry=registry,
        )  # fmt: skip
        self.runs = Counter(
            "vellet_audit_runs_total",
            "Runs of the check by result (ok, violated, error: it could not complete).",
            ["check", "result"], registry=registry,
        )  # fmt: skip

    def prepare(self, check: str) -> None:
        for result in RESULTS:
            self.runs.labels(check, result)


async def run_once(app: web.Application, name: str, check: Check, audit: AuditMetrics) -> None:
    start = time.perf_counter()
    try:
        found = await check(app)
    except Exception as err:  # noqa: BLE001 - a failed run is counted, the loop goes on
        log.warning("audit %s could not run: %s", name, type(err).__name__)
        audit.runs.labels(name, "error").inc()
        return
    if found:
        log.error("audit %s found %d violation(s)", name, found)
    audit.duration.labels(name).set(time.perf_counter() - start)
    audit.violations.labels(name).set(found)
    audit.ok.labels(name).set(0 if found else 1)
    audit.last_run.labels(name).set(time.time())
    audit.runs.labels(name, "violated" if found else "ok").inc()


def setup(app: web.Application, name: str, check: Check, interval: float) -> None:
    """Run ``check`` at start-up, then every ``interval`` seconds, while ``app`` runs.

    Append this after the cleanup context that opens what ``check`` uses.
    """
    audit = AuditMetrics(app[metrics.REGISTRY_KEY])
    audit.prepare(name)

    async def loop() -> None:
        while True:
            await run_once(app, name, check, audit)
            await asyncio.sleep(interval)

    async def background(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name=f"audit-{name}")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(background)


@contextlib.asynccontextmanager
async def snapshot(pool: Pool, statement_seconds: float) -> AsyncIterator[Conn]:
    """A read-only, repeatable-read connection whose statements end after ``statement_seconds``."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(f"SET LOCAL statement_timeout = {int(statement_seconds * 1000)}")
        # The checks read whole tables. Left alone, PostgreSQL aggregates entries by walking
        # their uuid index in random order (at 200k transfers 3x slower than hashing, and
        # worse as the ledger grows: see `vellet bench audit`); so give it room to hash and
        # no index scans. Once per interval per replica, for one query.
        await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        await conn.execute("SET LOCAL enable_indexscan = off")
        yield conn
