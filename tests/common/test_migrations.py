"""Versioned migrations: applied in order, recorded, safe to re-run, tamper-evident."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.conftest import Databases
from vellet.common.db import migrate
from vellet.common.errors import ConfigError


async def test_migrations_apply_once_and_refuse_edits(
    clean_databases: Databases, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id int);")
    (tmp_path / "0002_second.sql").write_text("ALTER TABLE t ADD COLUMN name text;")
    empty = tmp_path / "empty"
    empty.mkdir()
    dsn = await clean_databases.create("scratch", empty)

    assert await migrate(dsn, "demo", tmp_path) == ["0001_first", "0002_second"]
    assert await migrate(dsn, "demo", tmp_path) == []
    conn = await asyncpg.connect(dsn)
    try:
        versions = await conn.fetch(
            "SELECT version FROM schema_migrations WHERE component = 'demo' ORDER BY version"
        )
        assert [r["version"] for r in versions] == [1, 2]
    finally:
        await conn.close()

    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id bigint);")
    with pytest.raises(ConfigError, match="changed after it was applied"):
        await migrate(dsn, "demo", tmp_path)


async def test_a_failing_migration_leaves_nothing_half_done(
    clean_databases: Databases, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (id int); SELECT nonsense;")
    empty = tmp_path / "empty"
    empty.mkdir()
    dsn = await clean_databases.create("scratch2", empty)
    with pytest.raises(asyncpg.PostgresError):
        await migrate(dsn, "demo", tmp_path)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('b')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()
