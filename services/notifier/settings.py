"""The notifier's settings, read once from the environment.

SMTP credentials are a :class:`Secret` so that a logged settings object never
shows the password. The SMTP password is not held to the 32-character rule
of ``Env.secret`` (that rule is for keys Vellet generates; a mail provider's
password is whatever the provider issued).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from vellet.common.errors import ConfigError
from vellet.common.settings import Env, HttpSettings, Secret, StreamSettings

Security = Literal["none", "starttls", "tls"]
SECURITY_CHOICES: Final[tuple[Security, ...]] = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP relay every notification goes through."""

    #: Relay host name or address.
    host: str = "127.0.0.1"
    #: Relay port (25 plain, 587 STARTTLS, 465 implicit TLS are the usual ones).
    port: int = 25
    #: ``none`` (plain; loopback sinks only), ``starttls`` (upgrade, required)
    #: or ``tls`` (implicit TLS from the first byte).
    security: Security = "none"
    #: Login user; no AUTH when unset.
    user: str | None = None
    #: Login password (only used with ``user``).
    password: Secret = field(default=Secret(""), repr=False)
    #: The From header and envelope sender, e.g. ``Vellet <no-reply@example.com>``.
    sender: str = "Vellet <no-reply@vellet.localhost>"
    #: Seconds to wait for any one SMTP reply (also bounds the connect).
    timeout_s: float = 10.0
    #: Verify the relay's TLS certificate (never switch off in production).
    verify_tls: bool = True
    #: Extra CA bundle (PEM) to trust, e.g. a private relay's CA.
    ca_file: str | None = None

    @property
    def lease_ms(self) -> int:
        """How long one party's send may hold its delivery lease.

        Covers MAIL, RCPT and DATA (each bounded by ``timeout_s``) with room
        to spare, so a live sender never loses its lease mid-transaction.
        """
        return int(self.timeout_s * 4 * 1000) + 1000


@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff for temporary SMTP failures."""

    #: First retry delay in milliseconds; doubled on every further failure.
    base_ms: int = 500
    #: Upper bound of one retry delay in milliseconds.
    max_ms: int = 30_000
    #: Temporary failures (4xx) one recipient may see before it is
    #: dead-lettered. With the defaults the retries span about 15 s, below the
    #: stream's claim idle time, so one event never blocks the queue longer.
    #: A relay that cannot be reached at all is waited out instead, without
    #: limit (it says nothing about the message).
    attempts: int = 6


@dataclass(frozen=True)
class NotifierSettings:
    """Everything ``vellet notifier serve`` needs."""

    #: Redis URL (the event stream and the delivery ledger).
    redis_url: str
    #: Where /healthz, /readyz and /metrics listen.
    http: HttpSettings = field(default_factory=lambda: HttpSettings(port=8083))
    #: How the event-stream consumer reads, claims and dead-letters.
    streams: StreamSettings = field(default_factory=StreamSettings)
    #: The SMTP relay.
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    #: Backoff for temporary SMTP failures.
    retry: RetrySettings = field(default_factory=RetrySettings)
    #: This replica's consumer name; stable across restarts (a pod name is
    #: ideal) so a restarted notifier drains its own pending events at once
    #: and takes over the delivery leases its dead predecessor held. Must be
    #: unique among running replicas.
    consumer_name: str = field(default_factory=socket.gethostname)
    #: Whether /readyz also requires the SMTP relay to answer. Off by default:
    #: mail waits in the queue while the relay is away, nothing is lost.
    ready_needs_smtp: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> NotifierSettings:
        env = Env(environ)
        redis_url = env.optional("VELLET_REDIS_URL")
        if redis_url is None:
            raise ConfigError("VELLET_REDIS_URL must be set")
        return cls(
            redis_url=redis_url,
            http=HttpSettings(
                host=env.text("VELLET_NOTIFIER_HOST", "127.0.0.1"),
                port=env.integer("VELLET_NOTIFIER_PORT", 8083, maximum=65535),
                max_body_bytes=env.integer("VELLET_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
            ),
            streams=StreamSettings.from_env(env),
            smtp=smtp_from_env(env),
            retry=RetrySettings(
                base_ms=env.integer("VELLET_NOTIFIER_RETRY_BASE_MS", 500, minimum=1),
                max_ms=env.integer("VELLET_NOTIFIER_RETRY_MAX_MS", 30_000, minimum=1),
                attempts=env.integer("VELLET_NOTIFIER_RETRY_ATTEMPTS", 6, minimum=1, maximum=100),
            ),
            consumer_name=env.text("VELLET_CONSUMER_NAME", socket.gethostname()),
            ready_needs_smtp=env.flag("VELLET_NOTIFIER_READY_NEEDS_SMTP", False),
        )


def smtp_from_env(env: Env) -> SmtpSettings:
    security = env.text("VELLET_SMTP_SECURITY", "none").lower()
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"VELLET_SMTP_SECURITY must be one of {', '.join(SECURITY_CHOICES)}, got {security!r}"
        )
    user = env.optional("VELLET_SMTP_USER")
    password = env.optional("VELLET_SMTP_PASSWORD")
    if user is not None and password is None:
        raise ConfigError("VELLET_SMTP_PASSWORD must be set when VELLET_SMTP_USER is")
    if user is not None and security == "none":
        raise ConfigError("VELLET_SMTP_USER needs VELLET_SMTP_SECURITY starttls or tls")
    return SmtpSettings(
        host=env.text("VELLET_SMTP_HOST", "127.0.0.1"),
        port=env.integer("VELLET_SMTP_PORT", 25, minimum=1, maximum=65535),
        security=security,
        user=user,
        password=Secret(password or ""),
        sender=env.text("VELLET_SMTP_FROM", SmtpSettings.sender),
        timeout_s=env.number("VELLET_SMTP_TIMEOUT", 10.0, minimum=0.1),
        verify_tls=env.flag("VELLET_SMTP_VERIFY_TLS", True),
        ca_file=env.optional("VELLET_SMTP_CA_FILE"),
    )
