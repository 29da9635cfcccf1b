"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer).

Liveness never touches a dependency: a database outage must not make
Kubernetes restart every pod. Readiness runs each registered check with a
short timeout and answers 503 with the failing names (never their errors'
text, which could carry a connection string).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from vellet.common.problems import problem

Check = Callable[[], Awaitable[object]]
CHECKS_KEY = web.AppKey("readiness_checks", dict[str, Check])


def setup(app: web.Application) -> None:
    app[CHECKS_KEY] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


def add_check(app: web.Application, name: str, check: Check) -> None:
    app[CHECKS_KEY][name] = check


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _run(check: Check, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            await check()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[CHECKS_KEY]
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n], 2.0) for n in names))
    failing = [n for n, ok in zip(names, results, strict=True) if not ok]
    if failing:
        return problem(503, "not_ready", "Not ready", f"unreachable: {', '.join(failing)}")
    return web.json_response({"status": "ready", "checks": names})
