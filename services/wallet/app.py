"""``create_app(settings)``: the wallet as an aiohttp application.

The database pool, Redis, the bank client's HTTP session, the P2P batcher
and the outbox relay are opened and closed in ``cleanup_ctx``: an app that
fails to start leaves nothing running, and stopping it stops the relay and
answers every queued transfer before the pool and Redis client they use are
closed.

Two apps, one wallet (see ``vellet.common.web``): the public app serves
``/api/v1``, the dashboard and health on ``VELLET_WALLET_PORT``; the
internal app serves ``/internal/v1`` (the operator's) and ``/metrics`` on
``VELLET_WALLET_INTERNAL_PORT``, so an ingress that routes ``/`` to the
public port still cannot reach them. The public app owns every resource;
the internal one is handed the same state when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from vellet.common import health, metrics, streams
from vellet.common.web import internal_app, new_app
from vellet.wallet import database
from vellet.wallet.api.internal import routes as internal_routes
from vellet.wallet.api.routes import routes
from vellet.wallet.auth import limits
from vellet.wallet.auth.limits import LIMITER, SIGNUP_COMPLETIONS, SIGNUP_STARTS, LoginLimiter
from vellet.wallet.auth.passwords import PASSWORDS, Passwords
from vellet.wallet.auth.routes import routes as auth_routes
from vellet.wallet.auth.sessions import VERIFIER, Verifier
from vellet.wallet.auth.signup import routes as signup_routes
from vellet.wallet.banking import wiring as banking_wiring
from vellet.wallet.banking.client import BANK, BankClient
from vellet.wallet.events import store as events_store
from vellet.wallet.events.process import RelayConfig, RelayProcess
from vellet.wallet.events.relay import RELAY, OutboxRelay
from vellet.wallet.ledger import wiring as ledger_wiring
from vellet.wallet.ledger.batcher import BATCHER, P2PBatcher
from vellet.wallet.settings import WalletSettings
from vellet.wallet.state import METRICS, POOL, REDIS, SETTINGS, WalletMetrics
from vellet.wallet.web import wiring as web_wiring


def create_app(settings: WalletSettings) -> web.Application:
    app = new_app("wallet", settings.http, internal=settings.internal_http)
    app[SETTINGS] = settings
    app[METRICS] = WalletMetrics(app[metrics.REGISTRY_KEY])
    app[PASSWORDS] = Passwords(settings.passwords)
    app[VERIFIER] = Verifier(settings.sessions)
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_batcher)
    app.cleanup_ctx.append(_relay_process if settings.outbox_relay_process else _relay)
    ledger_wiring.setup(app)  # the ledger invariant, as a metric
    banking_wiring.setup(app)  # deposits/withdrawals: relay, result consumer, reconciler
    web_wiring.setup(app)  # the dashboard: pages, static files, the live channel, headers
    internal_app(app).router.add_routes(internal_routes)  # the operator's, on the internal port
    app.router.add_routes(auth_routes)
    app.router.add_routes(signup_routes)
    app.router.add_routes(routes)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await database.open_pool(settings.database_url, settings.pool_size)
    redis = streams.connect(settings.redis_url)
    http = aiohttp.ClientSession()
    app[POOL], app[REDIS] = pool, redis
    app[BANK] = BankClient(http, settings.bank_url, settings.issuer(), settings.bank_timeout)
    app[LIMITER] = LoginLimiter(redis, settings.login)
    app[SIGNUP_STARTS] = LoginLimiter(
        redis, settings.signup, prefix=limits.SIGNUP_START_PREFIX, what="sign-up attempts"
    )
    app[SIGNUP_COMPLETIONS] = LoginLimiter(
        redis, settings.signup, prefix=limits.SIGNUP_COMPLETE_PREFIX, what="sign-up attempts"
    )
    await app[PASSWORDS].prepare()
    health.add_check(app, "postgres", lambda: pool.fetchval("SELECT 1"))
    health.add_check(app, "redis", redis.ping)
    wallet_metrics = app[METRICS]

    async def refresh_backlog() -> None:
        wallet_metrics.outbox_backlog.set(await events_store.unpublished_count(pool))

    metrics.add_refresher(app, refresh_backlog)
    try:
        yield
    finally:
        await http.close()
        await redis.aclose()
        await pool.close()


async def _batcher(app: web.Application) -> AsyncIterator[None]:
    batcher = P2PBatcher(app[POOL], app[SETTINGS].batches, app[METRICS].p2p_batch_size.observe)
    app[BATCHER] = batcher
    yield
    await batcher.close()  # before the pool closes: every queued transfer is answered


async def _relay(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    relay = OutboxRelay(
        app[POOL],
        app[REDIS],
        settings.outbox_interval,
        app[METRICS].events_published,
        settings.keys.signer(),
        settings.outbox_linger,
    )
    app[RELAY] = relay
    task = asyncio.create_task(relay.run(), name="wallet-outbox-relay")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _relay_process(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    config = RelayConfig(
        settings.database_url,
        settings.redis_url,
        settings.keys.signer().pem(),
        settings.outbox_interval,
        settings.outbox_linger,
    )
    child = RelayProcess(config, app[METRICS].events_published)
    child.start()
    app[RELAY] = child
    metrics.add_refresher(app, child.count)
    try:
        yield
    finally:
        await child.stop()
