"""PostgreSQL connection pools and versioned migrations.

Migrations are plain SQL files named ``NNNN_description.sql`` in a
service's ``migrations`` folder. They are applied in order, each in its own
transaction, and recorded in ``schema_migrations`` with a checksum, under an
advisory lock so that two replicas starting together cannot race. Running
them again does nothing; an applied file that was edited afterwards is an
error, because the database no longer matches the code's idea of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, TypeVar

import asyncpg

from vellet.common.errors import ConfigError

_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary constant: every Vellet process takes the same lock to migrate.
_MIGRATION_LOCK = 0x5E11E7

Pool = asyncpg.Pool
#: A connection, whether plain or borrowed from a pool.
Conn: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=30)
    assert pool is not None
    return pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_RE.match(path.name)
        if match is None:
            raise ConfigError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"two migrations in {directory} share a version number")
    return found


async def migrate(dsn: str, component: str, directory: Path) -> list[str]:
    """Apply the pending migrations of ``component``; return the names applied."""
    applied: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component  text        NOT NULL,
                   version    integer     NOT NULL,
                   name       text        NOT NULL,
                   checksum   text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        rows = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations WHERE component = $1", component
        )
        done = {r["version"]: r["checksum"] for r in rows}
        for migration in load_migrations(directory):
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise ConfigError(
                        f"migration {migration.name} of {component} was changed after it was "
                        "applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum) "
                    "VALUES ($1, $2, $3, $4)",
                    component,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied.append(migration.name)
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        finally:
            await conn.close()
    return applied


T = TypeVar("T")


async def retrying(work: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run ``work`` (one transaction) again after a deadlock or a serialization failure.

    Both are PostgreSQL telling a transaction that it lost a race and changed
    nothing, so running it again is safe; anything else is raised at once.
    """
    for attempt in range(attempts):
        try:
            return await work()
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
