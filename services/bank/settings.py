"""The bank's settings, read once from the environment."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from vellet.common.errors import ConfigError
from vellet.common.settings import AuditSettings, Env, HttpSettings, StreamSettings, TokenSettings


@dataclass(frozen=True)
class CacheSettings:
    """The account look-up cache: an in-process LRU in front of Redis."""

    #: Entries the in-process LRU holds per replica.
    local_size: int = 10_000
    #: Seconds an in-process entry is trusted. Bounds how stale another
    #: replica's view can be after an account changes (the writing replica
    #: invalidates its own LRU and the Redis key at once).
    local_ttl: float = 5.0
    #: Seconds a Redis entry lives. Redis evicts only keys with a TTL
    #: (volatile-lru), so cache keys can go under memory pressure; queues can't.
    redis_ttl: int = 300


@dataclass(frozen=True)
class BankSettings:
    """Everything ``vellet bank serve`` needs."""

    #: PostgreSQL URL of the bank's own database.
    database_url: str
    #: Redis URL (request/result streams and the cache).
    redis_url: str
    #: Where the HTTP API listens.
    http: HttpSettings = field(default_factory=HttpSettings)
    #: How the request-stream consumer reads and gives up.
    streams: StreamSettings = field(default_factory=StreamSettings)
    #: Verifies service tokens (and the admin token) presented to the bank.
    tokens: TokenSettings = field(default_factory=TokenSettings)
    #: The account look-up cache.
    cache: CacheSettings = field(default_factory=CacheSettings)
    #: Run the request-stream consumer in this process.
    consume: bool = True
    #: This replica's consumer name; stable across restarts so it can drain
    #: its own pending entries (a pod name is ideal).
    consumer_name: str = field(default_factory=socket.gethostname)
    #: Size of the database connection pool.
    pool_size: int = 10
    #: The background audit of the books exported as a metric.
    audit: AuditSettings = field(default_factory=AuditSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BankSettings:
        env = Env(environ)
        database_url = env.optional("VELLET_BANK_DATABASE_URL")
        redis_url = env.optional("VELLET_REDIS_URL")
        if database_url is None or redis_url is None:
            raise ConfigError("VELLET_BANK_DATABASE_URL and VELLET_REDIS_URL must be set")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            http=HttpSettings(
                host=env.text("VELLET_BANK_HOST", "127.0.0.1"),
                port=env.integer("VELLET_BANK_PORT", 8081, maximum=65535),
                max_body_bytes=env.integer("VELLET_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
            ),
            streams=StreamSettings.from_env(env),
            tokens=TokenSettings.from_env(env),
            cache=CacheSettings(
                local_size=env.integer("VELLET_BANK_CACHE_SIZE", CacheSettings.local_size),
                local_ttl=env.number("VELLET_BANK_CACHE_LOCAL_TTL", CacheSettings.local_ttl),
                redis_ttl=env.integer("VELLET_BANK_CACHE_TTL", CacheSettings.redis_ttl, minimum=1),
            ),
            consume=env.flag("VELLET_BANK_CONSUMER", True),
            consumer_name=env.text("VELLET_CONSUMER_NAME", socket.gethostname()),
            pool_size=env.integer("VELLET_BANK_POOL_SIZE", 10, minimum=2, maximum=200),
            audit=AuditSettings.from_env(env),
        )
