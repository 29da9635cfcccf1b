"""What every Vellet HTTP app shares: problem+json errors, metrics, health.

``new_app`` gives a service an ``aiohttp`` application with the body limit,
the metrics middleware (outermost, so it sees the final status), the problem
middleware, ``/healthz``, ``/readyz`` and ``/metrics``. ``serve`` runs apps
until cancelled, which is how both ``vellet <service>`` and ``vellet up``
run them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from vellet.common import health, metrics
from vellet.common.problems import problem_middleware
from vellet.common.settings import HttpSettings

log = logging.getLogger("vellet.web")


def new_app(service: str, http: HttpSettings) -> web.Application:
    app = web.Application(client_max_size=http.max_body_bytes)
    metrics.setup(app, service)
    app.middlewares.append(problem_middleware)
    health.setup(app)
    return app


@dataclass
class Site:
    """A started app: where it listens, and how to stop it."""

    name: str
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(name: str, app: web.Application, http: HttpSettings) -> Site:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, http.host, http.port, reuse_address=True)
    await site.start()
    port = http.port
    for address in runner.addresses:  # the real port when 0 asked for any free one
        port = int(address[1])
    return Site(name, runner, http.host, port)


async def serve_forever(name: str, app: web.Application, http: HttpSettings) -> None:
    site = await start(name, app, http)
    log.info("%s listening on %s", name, site.url)
    print(f"{name} listening on {site.url}", flush=True)  # noqa: T201 - the CLI's own output
    try:
        await asyncio.Event().wait()
    finally:
        await site.stop()
