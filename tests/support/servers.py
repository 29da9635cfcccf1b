"""Start (or find) the PostgreSQL and Redis servers a test session uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis


@dataclass
class ServerSet:
    pg_admin_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def pg_url(self, database: str) -> str:
        parts = urlsplit(self.pg_admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def start_servers(tmp: Path, environ: Mapping[str, str]) -> ServerSet:
    pg_url = environ.get("VELLET_TEST_POSTGRES_URL")
    redis_url = environ.get("VELLET_TEST_REDIS_URL")
    postgres = redis = None
    if not pg_url:
        postgres = EmbeddedPostgres(tmp / "pg", fsync=False).start()
        pg_url = postgres.admin_url
    if not redis_url:
        redis = EmbeddedRedis(tmp / "redis", persistent=False).start()
        redis_url = redis.url
    return ServerSet(pg_url, redis_url, postgres, redis)
