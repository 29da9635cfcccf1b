"""A database connection killed mid-request answers 503, never 500.

Found by the fault drill: when PostgreSQL restarts (fast shutdown) under
load, a request whose transaction was open gets ``ConnectionDoesNotExistError``
or, from the rollback on the way out, a bare ``InterfaceError`` ("the
underlying connection is closed"). Neither is an ``OSError`` or a
``PostgresConnectionError``, so both used to fall through to the 500 branch.
Here a real PostgreSQL backend is terminated under a real request.
"""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.support.servers import ServerSet
from vellet.common.problems import problem_middleware


async def _answer(servers: ServerSet, work: str) -> tuple[int, dict[str, object]]:
    async def handler(request: web.Request) -> web.Response:
        conn = await asyncpg.connect(servers.pg_admin_url)
        try:
            async with conn.transaction():
                pid = await conn.fetchval("SELECT pg_backend_pid()")
                admin = await asyncpg.connect(servers.pg_admin_url)
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                await admin.close()
                if work == "query":
                    await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
        return web.json_response({})

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/")
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize("work", ["query", "commit"])
async def test_a_backend_killed_mid_transaction_is_a_503(servers: ServerSet, work: str) -> None:
    status, body = await _answer(servers, work)
    assert (status, body["code"]) == (503, "unavailable")


async def test_a_driver_misuse_is_still_a_500() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/")
        assert resp.status == 500
