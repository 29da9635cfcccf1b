"""The wallet's settings, read once from the environment and passed in.

Two different secrets on purpose: ``VELLET_JWT_SECRET`` signs the service
tokens every Vellet component shares (the wallet uses it to call the bank),
while ``VELLET_SESSION_SECRET`` signs user sessions and is known to the wallet
alone, so a leaked service key can never mint a user's session or the other
way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vellet.common.errors import ConfigError
from vellet.common.settings import Env, HttpSettings, Secret, TokenSettings


@dataclass(frozen=True)
class SessionSettings:
    """User sessions: HS256 JWTs in an HttpOnly cookie or a Bearer header."""

    #: Signing key of user sessions (not shared with any other service).
    secret: Secret = field(repr=False, default=Secret(""))
    #: ``iss`` of every session token; required and checked.
    issuer: str = "vellet-wallet"
    #: Lifetime of a session, in seconds. Sessions are stateless JWTs, so this
    #: is also how long a stolen token stays usable after logout.
    ttl_seconds: int = 900
    #: Mark cookies ``Secure`` (HTTPS only). Off for plain-HTTP local runs.
    cookie_secure: bool = False


@dataclass(frozen=True)
class LoginLimits:
    """Failed-login budgets, counted in Redis so every replica shares them."""

    #: Failed logins allowed per account number within one window.
    per_account: int = 5
    #: Failed logins allowed per client address within one window.
    per_address: int = 50
    #: Window length in seconds; also the longest ``Retry-After``.
    window_seconds: int = 300


@dataclass(frozen=True)
class PasswordSettings:
    """argon2id cost. Defaults are RFC 9106's low-memory profile."""

    #: Memory per hash in KiB.
    memory_kib: int = 65_536
    #: Passes over the memory.
    time_cost: int = 3
    #: Lanes (threads) per hash.
    parallelism: int = 4


@dataclass(frozen=True)
class WalletSettings:
    """Everything ``vellet wallet serve`` needs."""

    #: PostgreSQL URL of the wallet's own database.
    database_url: str
    #: Redis URL (transfer event stream, login counters).
    redis_url: str
    #: Base URL of the bank's HTTP API, e.g. ``http://127.0.0.1:8081``.
    bank_url: str
    #: Where the public API listens.
    http: HttpSettings = field(default_factory=HttpSettings)
    #: Service tokens the wallet presents to the bank.
    tokens: TokenSettings = field(default_factory=TokenSettings)
    #: User sessions.
    sessions: SessionSettings = field(default_factory=SessionSettings)
    #: Login rate limits.
    login: LoginLimits = field(default_factory=LoginLimits)
    #: Password hashing cost.
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    #: Seconds to wait for the bank before answering 503 bank_unavailable.
    bank_timeout: float = 3.0
    #: Size of the database connection pool.
    pool_size: int = 20
    #: Hours an idempotency key is remembered; 0 keeps every key forever
    #: (a retry, however late, can then never move money twice).
    idempotency_retention_hours: int = 0
    #: Seconds between outbox sweeps (events are also published right after
    #: each commit; the sweep catches what a crash left behind).
    outbox_interval: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WalletSettings:
        env = Env(environ)
        database_url = env.optional("VELLET_WALLET_DATABASE_URL")
        redis_url = env.optional("VELLET_REDIS_URL")
        bank_url = env.optional("VELLET_BANK_URL")
        if database_url is None or redis_url is None or bank_url is None:
            raise ConfigError(
                "VELLET_WALLET_DATABASE_URL, VELLET_REDIS_URL and VELLET_BANK_URL must be set"
            )
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            bank_url=bank_url.rstrip("/"),
            http=HttpSettings(
                host=env.text("VELLET_WALLET_HOST", "127.0.0.1"),
                port=env.integer("VELLET_WALLET_PORT", 8080, maximum=65535),
                max_body_bytes=env.integer("VELLET_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
            ),
            tokens=TokenSettings.from_env(env),
            sessions=SessionSettings(
                secret=env.secret("VELLET_SESSION_SECRET"),
                issuer=env.text("VELLET_SESSION_ISSUER", SessionSettings.issuer),
                ttl_seconds=env.integer(
                    "VELLET_SESSION_TTL", SessionSettings.ttl_seconds, minimum=30
                ),
                cookie_secure=env.flag("VELLET_COOKIE_SECURE", SessionSettings.cookie_secure),
            ),
            login=LoginLimits(
                per_account=env.integer(
                    "VELLET_LOGIN_MAX_FAILURES_PER_ACCOUNT", LoginLimits.per_account, minimum=1
                ),
                per_address=env.integer(
                    "VELLET_LOGIN_MAX_FAILURES_PER_ADDRESS", LoginLimits.per_address, minimum=1
                ),
                window_seconds=env.integer(
                    "VELLET_LOGIN_WINDOW_SECONDS", LoginLimits.window_seconds, minimum=1
                ),
            ),
            passwords=PasswordSettings(
                memory_kib=env.integer(
                    "VELLET_ARGON2_MEMORY_KIB", PasswordSettings.memory_kib, minimum=64
                ),
                time_cost=env.integer(
                    "VELLET_ARGON2_TIME_COST", PasswordSettings.time_cost, minimum=1
                ),
                parallelism=env.integer(
                    "VELLET_ARGON2_PARALLELISM", PasswordSettings.parallelism, minimum=1
                ),
            ),
            bank_timeout=env.number("VELLET_BANK_TIMEOUT", cls.bank_timeout, minimum=0.1),
            pool_size=env.integer("VELLET_WALLET_POOL_SIZE", cls.pool_size, minimum=2, maximum=200),
            idempotency_retention_hours=env.integer(
                "VELLET_IDEMPOTENCY_RETENTION_HOURS", cls.idempotency_retention_hours
            ),
            outbox_interval=env.number("VELLET_OUTBOX_INTERVAL", cls.outbox_interval, minimum=0.05),
        )
