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

from vellet.common import mail
from vellet.common.errors import ConfigError
from vellet.common.keys import KeySettings
from vellet.common.mail import SmtpSettings
from vellet.common.settings import Env, HttpSettings, StreamSettings


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
    #: Credentials included (`redis://user:password@host:port/0`), so kept out of repr.
    redis_url: str = field(repr=False)
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
    #: Events handled at once in this replica: each sender is its own consumer
    #: in the group (``<consumer_name>``, then ``<consumer_name>.1``, ...) with
    #: its own kept SMTP connection. One sender spends most of its time
    #: waiting for Redis and the relay; a few overlap that wait.
    senders: int = 4
    #: The public keys the notifier trusts: the wallet's (it signs the
    #: transfer events). The notifier signs nothing, so it holds no private key.
    keys: KeySettings = field(default_factory=KeySettings)

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
            senders=env.integer("VELLET_NOTIFIER_SENDERS", 4, minimum=1, maximum=64),
            keys=KeySettings.from_env(env, own=None, trusts=("wallet",)),
        )


def smtp_from_env(env: Env) -> SmtpSettings:
    return mail.smtp_from_env(env, "SMTP")
