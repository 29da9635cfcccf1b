"""The bank's settings, read once from the environment."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from vellet.common.errors import ConfigError
from vellet.common.keys import KeySettings
from vellet.common.mail import SmtpSettings, smtp_from_env
from vellet.common.settings import (
    BATCHED_READ,
    AuditSettings,
    Env,
    HttpSettings,
    Secret,
    StreamSettings,
    require_distinct,
)

#: The bank's own sender: it mails its customers, not Vellet's notifier.
BANK_SENDER = "Vellet Bank <no-reply@bank.vellet.localhost>"


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
class SignupSettings:
    """Sign-up challenges: one-time codes mailed to the account's e-mail on file."""

    #: Key of the HMAC under which codes are stored (never the codes
    #: themselves). Every replica needs the same one; a random key per
    #: process (the default outside ``from_env``) suits a single test bank.
    code_key: Secret = field(repr=False, default_factory=lambda: Secret(secrets.token_urlsafe(32)))
    #: Seconds a code stays valid.
    ttl_seconds: int = 600
    #: Guesses one challenge allows before it dies (a new one must be started).
    max_attempts: int = 5
    #: Code mails waiting to be sent before new ones are dropped (and counted).
    mail_queue: int = 1000


@dataclass(frozen=True)
class BankSettings:
    """Everything ``vellet bank serve`` needs."""

    #: PostgreSQL URL of the bank's own database.
    database_url: str
    #: Redis URL (request/result streams and the cache).
    #: Credentials included (`redis://user:password@host:port/0`), so kept out of repr.
    redis_url: str = field(repr=False)
    #: Where the wallet-facing API (look-ups, transfers, sign-up challenges)
    #: and health listen.
    http: HttpSettings = field(default_factory=lambda: HttpSettings(port=8081))
    #: Where the admin routes (open, close, reopen accounts) and ``/metrics``
    #: listen: a second port only an administrator and Prometheus reach.
    internal_http: HttpSettings = field(default_factory=lambda: HttpSettings(port=9081))
    #: How the request-stream consumer reads and gives up.
    streams: StreamSettings = field(default_factory=StreamSettings)
    #: The bank's own key (it signs its results) and the public keys it
    #: trusts: the wallet's (transfers, look-ups, sign-up challenges) and the
    #: bank-admin key (account administration), whose private half no
    #: running service holds.
    keys: KeySettings = field(default_factory=KeySettings)
    #: The account look-up cache.
    cache: CacheSettings = field(default_factory=CacheSettings)
    #: Sign-up challenges.
    signup: SignupSettings = field(default_factory=SignupSettings)
    #: The relay the bank mails sign-up codes through (its own, not the notifier's).
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings(sender=BANK_SENDER))
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
        settings = cls._read(Env(environ))
        # Two keys guarding different things must not be one: a copy-paste of
        # the signing key into the code key would put both in every place either goes.
        own = Secret(settings.keys.signer().pem().strip())
        require_distinct("VELLET_BANK_CODE_KEY", settings.signup.code_key,
                         {"VELLET_BANK_KEY": own})  # fmt: skip
        return settings

    @classmethod
    def _read(cls, env: Env) -> BankSettings:
        database_url = env.optional("VELLET_BANK_DATABASE_URL")
        redis_url = env.optional("VELLET_REDIS_URL")
        if database_url is None or redis_url is None:
            raise ConfigError("VELLET_BANK_DATABASE_URL and VELLET_REDIS_URL must be set")
        host = env.text("VELLET_BANK_HOST", "127.0.0.1")
        max_body_bytes = env.integer("VELLET_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            http=HttpSettings(
                host=host,
                port=env.integer("VELLET_BANK_PORT", 8081, maximum=65535),
                max_body_bytes=max_body_bytes,
            ),
            internal_http=HttpSettings(
                host=env.text("VELLET_BANK_INTERNAL_HOST", host),
                port=env.integer("VELLET_BANK_INTERNAL_PORT", 9081, maximum=65535),
                max_body_bytes=max_body_bytes,
            ),
            streams=StreamSettings.from_env(env, batch_size=BATCHED_READ),
            keys=KeySettings.from_env(env, own="bank", trusts=("wallet", "bank-admin")),
            cache=CacheSettings(
                local_size=env.integer("VELLET_BANK_CACHE_SIZE", CacheSettings.local_size),
                local_ttl=env.number("VELLET_BANK_CACHE_LOCAL_TTL", CacheSettings.local_ttl),
                redis_ttl=env.integer("VELLET_BANK_CACHE_TTL", CacheSettings.redis_ttl, minimum=1),
            ),
            signup=SignupSettings(
                code_key=env.secret("VELLET_BANK_CODE_KEY"),
                ttl_seconds=env.integer(
                    "VELLET_BANK_SIGNUP_CODE_TTL",
                    SignupSettings.ttl_seconds,
                    minimum=30,
                    maximum=3600,
                ),
                max_attempts=env.integer(
                    "VELLET_BANK_SIGNUP_CODE_ATTEMPTS",
                    SignupSettings.max_attempts,
                    minimum=1,
                    maximum=20,
                ),
            ),
            smtp=smtp_from_env(env, "BANK_SMTP", sender=BANK_SENDER),
            consume=env.flag("VELLET_BANK_CONSUMER", True),
            consumer_name=env.text("VELLET_CONSUMER_NAME", socket.gethostname()),
            pool_size=env.integer("VELLET_BANK_POOL_SIZE", 10, minimum=2, maximum=200),
            audit=AuditSettings.from_env(env),
        )
