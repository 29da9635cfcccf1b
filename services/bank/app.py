"""``create_app(settings)``: the bank as an aiohttp application.

The database pool, the Redis client, the cache, the sign-up code mailer
and the request-stream consumer are opened and closed in ``cleanup_ctx``, so an app that fails to
start leaves nothing running, and stopping the app stops the consumer
before the pool it uses is closed.

The admin routes and ``/metrics`` are on a second app and port (see
``handlers`` for why), handed the same state when it starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from vellet.bank import audit, store
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.consumer import request_consumer
from vellet.bank.domain import AccountView
from vellet.bank.handlers import admin_routes, routes
from vellet.bank.mailer import SignupMailer
from vellet.bank.settings import BankSettings
from vellet.bank.state import CACHE, MAILER, METRICS, POOL, REDIS, SETTINGS, BankMetrics
from vellet.common import health, metrics, streams
from vellet.common.db import create_pool
from vellet.common.web import internal_app, new_app


def create_app(settings: BankSettings) -> web.Application:
    app = new_app("bank", settings.http, internal=settings.internal_http)
    app[SETTINGS] = settings
    app[MAILER] = SignupMailer(
        settings.smtp,
        app[metrics.REGISTRY_KEY],
        ttl_seconds=settings.signup.ttl_seconds,
        queue_size=settings.signup.mail_queue,
    )
    app.cleanup_ctx.append(_resources)
    audit.setup(app)  # the books balance, as a metric
    app.cleanup_ctx.append(_mailer)
    if settings.consume:
        app.cleanup_ctx.append(_consumer)
    app.router.add_routes(routes)
    internal_app(app).router.add_routes(admin_routes)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    registry = app[metrics.REGISTRY_KEY]
    pool = await create_pool(settings.database_url, max_size=settings.pool_size)
    redis = streams.connect(settings.redis_url)
    bank_metrics = BankMetrics(registry)

    async def load(number: str) -> AccountView | None:
        return await store.account_view(pool, number)

    app[POOL], app[REDIS], app[METRICS] = pool, redis, bank_metrics
    app[CACHE] = AccountCache(redis, load, settings.cache, CacheMetrics(registry))
    health.add_check(app, "postgres", lambda: pool.fetchval("SELECT 1"))
    health.add_check(app, "redis", redis.ping)
    metrics.add_refresher(
        app, lambda: streams.refresh_depth(redis, bank_metrics.streams, streams.BANK_REQUESTS)
    )
    try:
        yield
    finally:
        await redis.aclose()
        await pool.close()


async def _mailer(app: web.Application) -> AsyncIterator[None]:
    async with app[MAILER].running():
        yield


async def _consumer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    consumer = request_consumer(
        app[POOL],
        app[REDIS],
        settings.consumer_name,
        settings.streams,
        app[METRICS],
        settings.keys,
    )
    async for _ in consumer.run_in_background():
        yield
