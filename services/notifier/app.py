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


async def _consumer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    redis = connect(settings.redis_url)
    app[REDIS_KEY] = redis
    # A fresh token per process: how the ledger tells this process's leases
    # from a dead predecessor's that had the same consumer name.
    owner = f"{settings.consumer_name}:{uuid.uuid4().hex}"
    worker = Worker(redis, settings, app[METRICS_KEY], owner)
    app[WORKER_KEY] = worker
    consumer = Consumer(
        redis=redis,
        stream=TRANSFER_EVENTS,
        group=GROUP,
        name=settings.consumer_name,
        handler=worker.handle,
        settings=settings.streams,
        metrics=app[STREAM_METRICS_KEY],
        trusted=settings.keys.keys_of("wallet"),
    )
    task = asyncio.create_task(consumer.run(), name="notifier-consumer")
    app[TASK_KEY] = task
    log.info("notifier consuming %s as %s/%s", TRANSFER_EVENTS, GROUP, settings.consumer_name)
    try:
        yield
    finally:
        # Ask first: the consumer finishes the event in hand and leaves within
        # one block. Cancel only a handler still busy after that (waiting out
        # a relay outage); the worker lets a send in flight finish and be
        # recorded. Never an unbounded wait: cancelling a task blocked in a
        # redis-py read can hang, and a stuck shutdown is worse than none.
        consumer.stop()
        done, _ = await asyncio.wait({task}, timeout=settings.streams.block_ms / 1000 + 1)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=settings.smtp.timeout_s * 2 + 5)
        if done and not task.cancelled() and task.exception() is not None:
            log.error("the event consumer had crashed: %r", task.exception())
        await worker.settle()
        await redis.aclose()
