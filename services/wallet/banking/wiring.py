"""Wires deposits and withdrawals into the wallet app (``create_app`` calls :func:`setup`).

Everything starts and stops inside ``create_app``'s ``cleanup_ctx``, so
``vellet wallet serve``, ``vellet up`` and the tests run the same thing:

* the bank request relay (always: it is how queued requests reach Redis);
* the result consumer, group ``wallet`` (``VELLET_WALLET_CONSUMER``, on by
  default), stopped gracefully through ``Consumer.run_in_background``;
* the reconciler timer (``VELLET_WALLET_RECONCILER``, on by default; off in
  a cluster, where the operator re-drives);
* the metrics refreshers (queue depth of both bank streams, unfinished
  transfers, outbox backlog, breaker state).

Shutdown runs in reverse: consumer and timer first, then the relay, then
(in ``app``) the event relay and the pools they all use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from vellet.common import metrics, streams
from vellet.wallet.banking import queue_store
from vellet.wallet.banking.client import BankTransfers
from vellet.wallet.banking.consumer import result_consumer
from vellet.wallet.banking.metrics import FlowMetrics
from vellet.wallet.banking.reconciler import ReconcileReport, ReconcileTimer, reconcile
from vellet.wallet.banking.relay import BankRequestRelay
from vellet.wallet.banking.service import FLOW, BankFlow
from vellet.wallet.events.relay import RELAY
from vellet.wallet.state import POOL, REDIS, SETTINGS

FLOW_METRICS = web.AppKey("wallet_flow_metrics", FlowMetrics)


def setup(app: web.Application) -> None:
    """Call after the pool/Redis and event-relay contexts are registered."""
    app[FLOW_METRICS] = FlowMetrics(app[metrics.REGISTRY_KEY])
    app.cleanup_ctx.append(_flows)


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _flows(app: web.Application) -> AsyncIterator[None]:
    settings, fm = app[SETTINGS], app[FLOW_METRICS]
    pool, redis, flow_settings = app[POOL], app[REDIS], app[SETTINGS].flows
    http = aiohttp.ClientSession()
    bank = BankTransfers(http, settings.bank_url, settings.issuer(), flow_settings.transfer_timeout)
    relay = BankRequestRelay(pool, redis, flow_settings.relay_interval, fm,
                             settings.keys.signer())  # fmt: skip
    flow = BankFlow(pool, bank, relay, flow_settings, fm, app[RELAY].wake)
    app[FLOW] = flow
    fm.show_breaker(flow.breaker)
    _add_refreshers(app, flow)
    tasks = [asyncio.create_task(relay.run(), name="wallet-bank-request-relay")]
    if flow_settings.reconciler:

        async def run_once() -> ReconcileReport:
            return await reconcile_and_count(flow)

        timer = ReconcileTimer(run_once, flow_settings.reconcile_interval)
        tasks.append(asyncio.create_task(timer.run(), name="wallet-reconciler"))
    try:
        if flow_settings.consume_results:
            consumer = result_consumer(flow, redis, flow_settings.consumer_name, settings.streams,
                                       settings.keys)  # fmt: skip
            async for _ in consumer.run_in_background():
                yield
        else:
            yield
    finally:
        for task in reversed(tasks):
            await _stopped(task)
        await http.close()


async def reconcile_and_count(flow: BankFlow) -> ReconcileReport:
    """One reconciler run with its metrics; what the timer calls."""
    report = await reconcile(flow.pool, flow.bank.ready, flow.settings.stuck_after)
    flow.metrics.reconciles.labels(report.outcome).inc()
    flow.metrics.stuck.set(report.stuck)
    if report.redriven:
        flow.metrics.redriven.inc(report.redriven)
        flow.relay.wake()
    return report


def _add_refreshers(app: web.Application, flow: BankFlow) -> None:
    redis, fm = app[REDIS], flow.metrics

    async def depth() -> None:
        for stream in (streams.BANK_REQUESTS, streams.BANK_RESULTS):
            await streams.refresh_depth(redis, fm.streams, stream)

    async def unfinished() -> None:
        fm.unfinished.clear()
        for kind in ("deposit", "withdrawal"):
            for state in ("pending", "queued"):
                fm.unfinished.labels(kind, state).set(0)
        for row in await queue_store.unfinished_counts(flow.pool):
            fm.unfinished.labels(row["kind"], row["state"]).set(row["n"])
        fm.request_backlog.set(await queue_store.backlog(flow.pool))
        fm.show_breaker(flow.breaker)

    metrics.add_refresher(app, depth)
    metrics.add_refresher(app, unfinished)
