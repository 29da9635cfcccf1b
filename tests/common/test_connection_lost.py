"""PostgreSQL restarted under real requests: every answer is a 200 or a 503, never a 500.

Found by the fault drill: when PostgreSQL restarts (fast shutdown) under load,
a request's connection dies mid-query, mid-commit or between the two, and
asyncpg reports it in several ways (``ConnectionDoesNotExistError``, a bare
``InterfaceError`` saying the connection is closed, ``AdminShutdownError``,
``CannotConnectNowError`` while it starts again, a refused ``OSError`` while
it is down). Every one of them is "the database is away", so the one problem
middleware answers 503 with Retry-After. Here a private embedded PostgreSQL
is really restarted while requests that hold transactions are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import chmod_for_postgres
from vellet.common.db import create_pool
from vellet.common.embedded import EmbeddedPostgres
from vellet.common.problems import problem_middleware


@pytest.fixture
async def own_pg() -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL of this test alone: restarting the session's would hurt others."""
    with tempfile.TemporaryDirectory(prefix="vellet-test-") as tmp:
        chmod_for_postgres(Path(tmp))
        pg = await asyncio.to_thread(EmbeddedPostgres(Path(tmp) / "pg", fsync=False).start)
        try:
            yield pg
        finally:
            await asyncio.to_thread(pg.stop)


async def _hammer(client: TestClient[web.Request, web.Application], stop: asyncio.Event,
                  statuses: list[tuple[int, str]]) -> None:  # fmt: skip
    while not stop.is_set():
        async with client.post("/", timeout=aiohttp.ClientTimeout(total=40)) as resp:
            body = await resp.json(content_type=None)
            statuses.append((resp.status, str(body.get("code", "ok"))))


async def test_restarting_postgres_under_requests_answers_503_never_500(
    own_pg: EmbeddedPostgres,
) -> None:
    pool = await create_pool(own_pg.admin_url, min_size=4, max_size=8)

    async def handler(request: web.Request) -> web.Response:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_sleep(0.02)")
            await conn.fetchval("SELECT 1")
        return web.json_response({})

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/", handler)
    statuses: list[tuple[int, str]] = []
    stop = asyncio.Event()
    try:
        async with TestClient(TestServer(app)) as client:
            workers = [asyncio.create_task(_hammer(client, stop, statuses)) for _ in range(8)]
            while len(statuses) < 20:  # traffic is flowing
                await asyncio.sleep(0.05)
            for _ in range(3):
                await asyncio.to_thread(own_pg.stop)  # fast shutdown: backends killed
                await asyncio.sleep(0.3)  # down: connections refused
                await asyncio.to_thread(own_pg.start)
                before = len(statuses)
                while len(statuses) < before + 20 or statuses[-1][0] != 200:  # pool is back
                    await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*workers)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await pool.close()
    seen = {status for status, _ in statuses}
    assert 503 in seen, "the restarts interrupted no request: the test proved nothing"
    assert seen <= {200, 503}, sorted(set(statuses))
    assert {code for status, code in statuses if status == 503} == {"unavailable"}


async def test_a_driver_misuse_is_still_a_500() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/")
        assert resp.status == 500
