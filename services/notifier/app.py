"""The notifier process: a stream consumer with health and metrics over HTTP.

There is no public API: the HTTP side is only ``/healthz``, ``/readyz`` and
``/metrics`` from :func:`vellet.common.web.new_app`, on one port: with no API
there is nothing to keep off it, and nothing public routes to it, so unlike
the wallet and the bank it needs no internal second port. The consumer runs as a
task inside the app's ``cleanup_ctx``, so starting the app starts consuming
and stopping it (SIGTERM, ``vellet up`` shutting down, a test) cancels the
consumer, lets the one SMTP transaction in flight finish and be recorded,
and closes Redis last.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

from aiohttp import web

from vellet.common import health, metrics
from vellet.common.streams import (
    TRANSFER_EVENTS,
    Consumer,
    Redis,
    StreamMetrics,
    connect,
    refresh_depth,
)
from vellet.common.web import new_app
from vellet.notifier.compose import sender_address
from vellet.notifier.metrics import NotifierMetrics
from vellet.notifier.settings import NotifierSettings
from vellet.notifier.store import DEAD_RECIPIENTS
from vellet.notifier.worker import Worker

log = logging.getLogger("vellet.notifier")

#: The consumer group every notifier replica joins.
GROUP = "notifier"

SETTINGS_KEY = web.AppKey("notifier_settings", NotifierSettings)
REDIS_KEY = web.AppKey("notifier_redis", Redis)
WORKER_KEY = web.AppKey("notifier_worker", Worker)
METRICS_KEY = web.AppKey("notifier_metrics", NotifierMetrics)
STREAM_METRICS_KEY = web.AppKey("notifier_stream_metrics", StreamMetrics)
TASK_KEY = web.AppKey("notifier_consumer_task", asyncio.Task[None])


def create_app(settings: NotifierSettings) -> web.Application:
    sender_address(settings.smtp.sender)  # a bad From fails at start, not per mail
    app = new_app("notifier", settings.http)
    registry = app[metrics.REGISTRY_KEY]
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = NotifierMetrics(registry)
    app[STREAM_METRICS_KEY] = StreamMetrics(registry)
    app.cleanup_ctx.append(_consumer)
    health.add_check(app, "redis", lambda: _ping(app))
    health.add_check(app, "consumer", lambda: _consuming(app))
    if settings.ready_needs_smtp:
        health.add_check(app, "smtp", lambda: _probe_smtp(app))
    metrics.add_refresher(app, lambda: _refresh(app))
    return app


async def _ping(app: web.Application) -> None:
    await app[REDIS_KEY].ping()


async def _probe_smtp(app: web.Application) -> None:
    await app[WORKER_KEY].relay.probe()


async def _consuming(app: web.Application) -> None:
    task = app[TASK_KEY]
    if task.done():  # it only ends by crashing; say so rather than idle silently
        raise RuntimeError("the event consumer has stopped")


async def _refresh(app: web.Application) -> None:
    redis = app[REDIS_KEY]
    await refresh_depth(redis, app[STREAM_METRICS_KEY], TRANSFER_EVENTS)
    app[METRICS_KEY].dead_recipients.set(await redis.xlen(DEAD_RECIPIENTS))


def sender_name(settings: NotifierSettings, index: int) -> str:
    """Sender 0 keeps the replica's consumer name; the others add ``.<index>``."""
    return settings.consumer_name if index == 0 else f"{settings.consumer_name}.{index}"


async def _consume_all(consumers: list[Consumer]) -> None:
    """Run every sender; when one crashes, stop the others and say so (not ready)."""
    tasks = [asyncio.create_task(c.run(), name=f"notifier-{c.name}") for c in consumers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        # A stop that could not wait: cancel every handler (each lets its
        # send in flight finish and be recorded) and wait for them.
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise
    for consumer in consumers:
        consumer.stop()
    await asyncio.wait(tasks)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _consumer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    redis = connect(settings.redis_url)
    app[REDIS_KEY] = redis
    workers: list[Worker] = []
    consumers: list[Consumer] = []
    trusted = settings.keys.keys_of("wallet")
    for index in range(settings.senders):
        name = sender_name(settings, index)
        # A fresh token per process: how the ledger tells this process's leases
        # from a dead predecessor's that had the same consumer name.
        worker = Worker(redis, replace(settings, consumer_name=name), app[METRICS_KEY],
                        f"{name}:{uuid.uuid4().hex}")  # fmt: skip
        workers.append(worker)
        consumers.append(Consumer(
            redis=redis, stream=TRANSFER_EVENTS, group=GROUP, name=name,
            handler=worker.handle, settings=settings.streams,
            metrics=app[STREAM_METRICS_KEY], trusted=trusted,
        ))  # fmt: skip
    app[WORKER_KEY] = workers[0]
    task = asyncio.create_task(_consume_all(consumers), name="notifier-consumers")
    app[TASK_KEY] = task
    log.info("notifier consuming %s as %s/%s with %d sender(s)", TRANSFER_EVENTS, GROUP,
             settings.consumer_name, settings.senders)  # fmt: skip
    try:
        yield
    finally:
        # Ask first: each sender finishes the event in hand and leaves within
        # one block. Cancel only a handler still busy after that (waiting out
        # a relay outage); the worker lets a send in flight finish and be
        # recorded. Never an unbounded wait: cancelling a task blocked in a
        # redis-py read can hang, and a stuck shutdown is worse than none.
        for consumer in consumers:
            consumer.stop()
        done, _ = await asyncio.wait({task}, timeout=settings.streams.block_ms / 1000 + 1)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=settings.smtp.timeout_s * 2 + 5)
        if done and not task.cancelled() and task.exception() is not None:
            log.error("the event consumer had crashed: %r", task.exception())
        for worker in workers:
            await worker.settle()
        await redis.aclose()
