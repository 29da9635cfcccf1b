"""What every Vellet HTTP app shares: problem+json errors, metrics, health.

``new_app`` gives a service an ``aiohttp`` application with the body limit,
the metrics middleware (outermost, so it sees the final status), the problem
middleware, ``/healthz``, ``/readyz`` and ``/metrics``. ``serve`` runs apps
until cancelled, which is how both ``vellet <service>`` and ``vellet up``
run them.

A service with an internal surface (the wallet's ``/internal/v1``, the
bank's admin routes) passes ``internal=``: it then gets a second app,
:func:`internal_app`, served on its own port, and ``/metrics`` moves there.
The public port is the one an ingress or a partner reaches; nothing it
serves can be routed to something only the cluster may call, because the
public app's router simply has no such route (404, not a filter that could
be got wrong). The two apps are one service over one state: the internal app
is handed the public app's pool, registry, settings and clients when it
starts, and ``start`` starts the public app (whose ``cleanup_ctx`` opens
them) first and stops it last. Health stays on the public port, where
kubelet probes and ``vellet up`` already look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import uvloop
from aiohttp import web

from vellet.common import health, metrics
from vellet.common.problems import problem_middleware
from vellet.common.settings import HttpSettings

log = logging.getLogger("vellet.web")


@dataclass(frozen=True)
class InternalSurface:
    """A service's second app, and where it listens."""

    app: web.Application
    http: HttpSettings


INTERNAL = web.AppKey("internal_surface", InternalSurface)


def new_app(
    service: str, http: HttpSettings, *, internal: HttpSettings | None = None
) -> web.Application:
    """The service's (public) app; with ``internal``, an internal app beside it."""
    app = web.Application(client_max_size=http.max_body_bytes)
    http_metrics = metrics.setup(app, service, route=internal is None)
    app.middlewares.append(problem_middleware)
    health.setup(app)
    if internal is not None:
        app[INTERNAL] = InternalSurface(_new_internal(app, http_metrics, internal), internal)
    return app


def internal_app(app: web.Application) -> web.Application:
    """Where a service adds the routes that must never be on its public port."""
    return app[INTERNAL].app


def _new_internal(
    public: web.Application, http_metrics: metrics.HttpMetrics, http: HttpSettings
) -> web.Application:
    internal = web.Application(client_max_size=http.max_body_bytes)
    internal.middlewares.append(http_metrics.middleware)  # counted in the same registry
    internal.middlewares.append(problem_middleware)
    internal.router.add_get("/metrics", metrics.metrics_handler)

    async def share_state(app: web.Application) -> None:
        # After the public app's cleanup_ctx ran: the pool, Redis and every
        # client it opened are there to hand over (the same objects, not copies).
        for key in public:
            app[key] = public[key]

    internal.on_startup.append(share_state)
    return internal


@dataclass
class Site:
    """A started app: where it listens, and how to stop it."""

    name: str
    runner: web.AppRunner
    host: str
    port: int
    #: The internal port's site, for a service that has one.
    internal: Site | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def internal_url(self) -> str:
        """Where ``/metrics`` (and any internal API) answers: the internal port, if any."""
        return (self.internal or self).url

    async def stop(self) -> None:
        if self.internal is not None:  # first: no internal call outlives the pools
            await self.internal.stop()
        await self.runner.cleanup()


async def _start_one(name: str, app: web.Application, http: HttpSettings) -> Site:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, http.host, http.port, reuse_address=True)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = http.port
    for address in runner.addresses:  # the real port when 0 asked for any free one
        port = int(address[1])
    return Site(name, runner, http.host, port)


async def start(name: str, app: web.Application, http: HttpSettings) -> Site:
    """Start ``app`` on ``http``, then its internal app (if any) on its own port."""
    site = await _start_one(name, app, http)
    surface = app.get(INTERNAL)
    if surface is not None:
        try:
            site.internal = await _start_one(f"{name} internal", surface.app, surface.http)
        except BaseException:
            await site.stop()
            raise
    return site


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop, for the services' long-running processes.

    Why: measured with ``vellet bench p2p --compare``, the wallet spent
    about 5 % less CPU per P2P transfer and did about 6 % more per second
    on uvloop. Short CLI commands keep ``asyncio.run``: there is nothing
    to gain in them.
    """
    return uvloop.run(main)


async def serve_forever(name: str, app: web.Application, http: HttpSettings) -> None:
    site = await start(name, app, http)
    for each in (site, site.internal):
        if each is not None:
            log.info("%s listening on %s", each.name, each.url)
            print(f"{each.name} listening on {each.url}", flush=True)  # noqa: T201 - the CLI's own output
    try:
        await asyncio.Event().wait()
    finally:
        await site.stop()
