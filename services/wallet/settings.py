"""The wallet's settings, read once from the environment and passed in.

Two kinds of key on purpose: the wallet's own Ed25519 key
(``VELLET_WALLET_KEY``) signs what the wallet says to the bank, and it trusts
only the public keys of the bank and the operator; ``VELLET_SESSION_SECRET``
signs user sessions and is known to the wallet alone, so a leaked service key
can never mint a user's session or the other way round.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from vellet.common.errors import ConfigError
from vellet.common.keys import KeySettings
from vellet.common.settings import (
    BATCHED_READ,
    AuditSettings,
    Env,
    HttpSettings,
    Secret,
    StreamSettings,
    TokenSettings,
    require_distinct,
)
from vellet.common.tokens import Issuer

#: A trusted proxy: ``VELLET_TRUSTED_PROXIES`` lists them (see ``auth.addresses``).
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ConfigError naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                f"VELLET_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)


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
    #: Mark cookies ``Secure`` (sent over HTTPS only). On unless switched off:
    #: a session cookie sent in clear on any network is a stolen session.
    #: ``vellet up`` (plain HTTP on loopback) opts out explicitly.
    cookie_secure: bool = True


@dataclass(frozen=True)
class LoginLimits:
    """Failed-login budgets, counted in Redis so every replica shares them."""

    #: Failed logins allowed per account number within one window.
    per_account: int = 5
    #: Failed logins allowed per client address within one window.
    per_address: int = 50
    #: Window length in seconds; also the longest ``Retry-After``.
    window_seconds: int = 300
    #: Proxies whose ``X-Forwarded-For`` is believed (see ``addresses``);
    #: empty: the header is ignored and the TCP peer is the client.
    trusted_proxies: tuple[Network, ...] = ()


@dataclass(frozen=True)
class SignupLimits:
    """Sign-up budgets, per step (start, complete), counted in Redis like logins.

    Every attempt counts, successful or not: a start mails the holder, so
    even well-formed ones must not be free to repeat.
    """

    #: Attempts of one step allowed per account number within one window.
    per_account: int = 5
    #: Attempts of one step allowed per client address within one window.
    per_address: int = 50
    #: Window length in seconds; also the longest ``Retry-After``.
    window_seconds: int = 900


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
class BankFlowSettings:
    """Deposits and withdrawals: the direct call, the streams, the reconciler."""

    #: Seconds a direct transfer call may take before the transfer is queued
    #: instead (a user waits for it, so it is tighter than look-ups).
    transfer_timeout: float = 2.0
    #: Consecutive direct-call failures that open the circuit breaker
    #: (transfers are then queued without trying the bank).
    breaker_failures: int = 5
    #: Seconds the breaker stays open before one trial call.
    breaker_reset: float = 5.0
    #: Run the bank result consumer (group "wallet") in this process.
    consume_results: bool = True
    #: This replica's consumer name; stable across restarts so it drains its
    #: own pending results (a pod name is ideal).
    consumer_name: str = field(default_factory=socket.gethostname)
    #: Run the stuck-transfer reconciler on a timer in this process. Switch it
    #: off where the operator re-drives stuck transfers (a cluster).
    reconciler: bool = True
    #: Seconds between reconciler runs.
    reconcile_interval: float = 10.0
    #: Seconds a transfer may stay pending or queued, unattempted, before it
    #: counts as stuck and is re-driven.
    stuck_after: float = 60.0
    #: Seconds between sweeps of the bank request outbox (requests are also
    #: published right after each commit).
    relay_interval: float = 1.0

    @classmethod
    def from_env(cls, env: Env) -> BankFlowSettings:
        return cls(
            transfer_timeout=env.number(
                "VELLET_BANK_TRANSFER_TIMEOUT", cls.transfer_timeout, minimum=0.05
            ),
            breaker_failures=env.integer(
                "VELLET_BANK_BREAKER_FAILURES", cls.breaker_failures, minimum=1
            ),
            breaker_reset=env.number("VELLET_BANK_BREAKER_RESET", cls.breaker_reset, minimum=0.1),
            consume_results=env.flag("VELLET_WALLET_CONSUMER", cls.consume_results),
            consumer_name=env.text("VELLET_CONSUMER_NAME", socket.gethostname()),
            reconciler=env.flag("VELLET_WALLET_RECONCILER", cls.reconciler),
            reconcile_interval=env.number(
                "VELLET_RECONCILE_INTERVAL", cls.reconcile_interval, minimum=0.1
            ),
            stuck_after=env.number("VELLET_STUCK_AFTER", cls.stuck_after, minimum=0.0),
            relay_interval=env.number(
                "VELLET_BANK_RELAY_INTERVAL", cls.relay_interval, minimum=0.05
            ),
        )


@dataclass(frozen=True)
class BatchSettings:
    """How P2P transfers share commits (see ``batcher``)."""

    #: Most P2P transfers posted by one ledger call (1: every transfer alone).
    max_size: int = 32
    #: P2P ledger calls running at once; each holds a pool connection. One is
    #: fastest (measured: batches that run together wait on each other's row
    #: locks); replicas add their own.
    concurrency: int = 1
    #: Most P2P transfers waiting for a batch; beyond it a transfer is
    #: refused at once (503, nothing done) instead of waiting ever longer.
    max_queue: int = 2000


@dataclass(frozen=True)
class WalletSettings:
    """Everything ``vellet wallet serve`` needs."""

    #: PostgreSQL URL of the wallet's own database.
    database_url: str
    #: Redis URL (transfer event stream, login counters).
    #: Credentials included (`redis://user:password@host:port/0`), so kept out of repr.
    redis_url: str = field(repr=False)
    #: Base URL of the bank's HTTP API, e.g. ``http://127.0.0.1:8081``.
    bank_url: str
    #: Where the public API, the dashboard and health listen (an ingress may route here).
    http: HttpSettings = field(default_factory=HttpSettings)
    #: Where ``/internal/v1`` (the operator's API) and ``/metrics`` listen: a
    #: second port that nothing public routes to (``vellet.common.web``).
    internal_http: HttpSettings = field(default_factory=lambda: HttpSettings(port=9080))
    #: Lifetime of the service tokens the wallet presents to the bank.
    tokens: TokenSettings = field(default_factory=TokenSettings)
    #: The wallet's own key (tokens for the bank, signed stream messages) and
    #: the public keys it trusts: the bank's (results) and the operator's
    #: (its internal API).
    keys: KeySettings = field(default_factory=KeySettings)
    #: User sessions.
    sessions: SessionSettings = field(default_factory=SessionSettings)
    #: Login rate limits.
    login: LoginLimits = field(default_factory=LoginLimits)
    #: Sign-up rate limits (client addresses are read as for logins).
    signup: SignupLimits = field(default_factory=SignupLimits)
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
    #: Seconds the outbox relay waits after a commit wakes it, so that the
    #: events of a busy moment go out together.
    outbox_linger: float = 0.2
    #: Run the outbox relay in a child process (``events.process``) rather
    #: than on the HTTP event loop: it then takes the other core instead of
    #: holding requests (README, "Performance"). Off, it runs in-line.
    outbox_relay_process: bool = True
    #: How result-stream consumers read, retry and dead-letter.
    streams: StreamSettings = field(default_factory=StreamSettings)
    #: Deposits and withdrawals through the bank.
    flows: BankFlowSettings = field(default_factory=BankFlowSettings)
    #: P2P group commit.
    batches: BatchSettings = field(default_factory=BatchSettings)
    #: The background ledger invariant check exported as a metric.
    audit: AuditSettings = field(default_factory=AuditSettings)

    def service_secrets(self) -> dict[str, Secret]:
        """Every service secret this wallet holds, by its setting's name.

        The session key must differ from each (:func:`require_distinct`):
        a service key leaks to other processes, and must never mint a user's
        session. A new service secret is added here and is checked with it.
        """
        return {"VELLET_WALLET_KEY": Secret(self.keys.signer().pem().strip())}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WalletSettings:
        settings = cls._read(Env(environ))
        require_distinct("VELLET_SESSION_SECRET", settings.sessions.secret,
                         settings.service_secrets())  # fmt: skip
        return settings

    @classmethod
    def _read(cls, env: Env) -> WalletSettings:
        database_url = env.optional("VELLET_WALLET_DATABASE_URL")
        redis_url = env.optional("VELLET_REDIS_URL")
        bank_url = env.optional("VELLET_BANK_URL")
        if database_url is None or redis_url is None or bank_url is None:
            raise ConfigError(
                "VELLET_WALLET_DATABASE_URL, VELLET_REDIS_URL and VELLET_BANK_URL must be set"
            )
        host = env.text("VELLET_WALLET_HOST", "127.0.0.1")
        max_body_bytes = env.integer("VELLET_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            bank_url=bank_url.rstrip("/"),
            http=HttpSettings(
                host=host,
                port=env.integer("VELLET_WALLET_PORT", 8080, maximum=65535),
                max_body_bytes=max_body_bytes,
            ),
            internal_http=HttpSettings(
                host=env.text("VELLET_WALLET_INTERNAL_HOST", host),
                port=env.integer("VELLET_WALLET_INTERNAL_PORT", 9080, maximum=65535),
                max_body_bytes=max_body_bytes,
            ),
            tokens=TokenSettings.from_env(env),
            keys=KeySettings.from_env(env, own="wallet", trusts=("bank", "operator")),
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
                trusted_proxies=parse_networks(env.text("VELLET_TRUSTED_PROXIES", "")),
            ),
            signup=SignupLimits(
                per_account=env.integer(
                    "VELLET_SIGNUP_MAX_PER_ACCOUNT", SignupLimits.per_account, minimum=1
                ),
                per_address=env.integer(
                    "VELLET_SIGNUP_MAX_PER_ADDRESS", SignupLimits.per_address, minimum=1
                ),
                window_seconds=env.integer(
                    "VELLET_SIGNUP_WINDOW_SECONDS", SignupLimits.window_seconds, minimum=1
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
            outbox_linger=env.number("VELLET_OUTBOX_LINGER", cls.outbox_linger, minimum=0.0),
            outbox_relay_process=env.flag("VELLET_OUTBOX_RELAY_PROCESS", cls.outbox_relay_process),
            streams=StreamSettings.from_env(env, batch_size=BATCHED_READ),
            flows=BankFlowSettings.from_env(env),
            audit=AuditSettings.from_env(env),
            batches=BatchSettings(
                max_size=env.integer(
                    "VELLET_P2P_BATCH_MAX", BatchSettings.max_size, minimum=1, maximum=1000
                ),
                concurrency=env.integer(
                    "VELLET_P2P_BATCH_CONCURRENCY",
                    BatchSettings.concurrency,
                    minimum=1,
                    maximum=100,
                ),
                max_queue=env.integer(
                    "VELLET_P2P_QUEUE_MAX", BatchSettings.max_queue, minimum=1, maximum=1_000_000
                ),
            ),
        )

    def issuer(self) -> Issuer:
        """Mints the wallet's tokens for the bank."""
        return Issuer.of(self.keys, "wallet", self.tokens.ttl_seconds)
