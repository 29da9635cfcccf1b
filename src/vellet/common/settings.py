"""Typed settings, read once from the environment and passed in.

There is no module-level singleton: each entry point calls a ``from_env``
with ``os.environ`` (tests pass a plain dict) and hands the frozen result to
``create_app``. The groups below are shared by several services; each
service composes them into its own settings class.

Secrets are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show
the value, so a settings object can be logged safely.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from vellet.common.digits import decimal_number, whole_number
from vellet.common.errors import ConfigError


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def require_distinct(name: str, secret: Secret, others: Mapping[str, Secret]) -> None:
    """Refuse ``secret`` when it equals any of ``others`` (name -> secret).

    Two keys that guard different things must not be one key: whoever holds
    one would hold both. The message names the settings, never a value.
    """
    mine = secret.get().encode()
    for other_name, other in others.items():
        theirs = other.get().encode()
        if mine and theirs and hmac.compare_digest(mine, theirs):
            raise ConfigError(
                f"{name} must not be the same as {other_name}: whoever holds one key "
                f"would hold both; generate a separate random value for {name}"
            )


class Env:
    """Reads typed values out of an environment mapping, with clear errors."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        value = self._environ.get(name, "").strip()
        return value or default

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def secret(self, name: str, default: str | None = None) -> Secret:
        value = self._environ.get(name, "").strip() or default
        if not value:
            raise ConfigError(f"{name} must be set (a random string of at least 32 characters)")
        if len(value) < 32:
            raise ConfigError(f"{name} must be at least 32 characters long")
        return Secret(value)

    def value_or_file(self, name: str) -> str:
        """``NAME`` itself, or the contents of the file ``NAME_FILE`` names.

        Files are how Kubernetes Secrets are best mounted (no value in the
        pod spec, rotation without a restart of the kubelet's copy); the
        plain variable suits a laptop. Both set is a mistake, not a choice.
        """
        value = self._environ.get(name, "").strip()
        path = self._environ.get(f"{name}_FILE", "").strip()
        if value and path:
            raise ConfigError(f"set {name} or {name}_FILE, not both")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    value = handle.read().strip()
            except OSError as error:
                raise ConfigError(f"{name}_FILE: cannot read {path}: {error.strerror}") from None
        if not value:
            raise ConfigError(f"{name} (or {name}_FILE) must be set")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        value = whole_number(raw)
        if value is None:  # int() would take "1_000", "+5" or "١٢"
            raise ConfigError(f"{name} must be a whole number (digits 0-9), got {raw[:40]!r}")
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        value = decimal_number(raw)
        if value is None:  # float() would take "nan", "inf", "1e3" or "١٢"
            raise ConfigError(f"{name} must be a number such as 2 or 0.5, got {raw[:40]!r}")
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class HttpSettings:
    """Where an HTTP service listens and how much it accepts."""

    #: Interface to bind. Loopback by default: exposing a service is a decision.
    host: str = "127.0.0.1"
    #: TCP port; 0 picks a free one (tests).
    port: int = 8080
    #: Largest request body accepted; larger bodies get 413 problem+json.
    max_body_bytes: int = 64 * 1024


#: Messages per read for consumers that settle a read in one transaction
#: (the bank's requests, the wallet's results): fewer round trips and commits
#: per message during a backlog, still a short transaction (well under the
#: ``claim_idle_ms`` after which another replica would take the read over).
BATCHED_READ: Final = 200


@dataclass(frozen=True)
class StreamSettings:
    """How a Redis Streams consumer reads, retries and gives up."""

    #: How long one XREADGROUP blocks waiting for new messages.
    block_ms: int = 1000
    #: A message pending this long with no ack is taken over (XAUTOCLAIM).
    claim_idle_ms: int = 30_000
    #: After this many deliveries a message goes to the dead-letter stream.
    max_deliveries: int = 5
    #: Messages fetched per read.
    batch_size: int = 32

    @classmethod
    def from_env(cls, env: Env, *, batch_size: int | None = None) -> StreamSettings:
        """``batch_size``: this service's default read size, when not the common one.

        The bank and the wallet handle a whole read in one database
        transaction, so their reads are larger (:data:`BATCHED_READ`); the
        notifier handles messages one by one and keeps the smaller default.
        """
        return cls(
            block_ms=env.integer("VELLET_STREAM_BLOCK_MS", cls.block_ms, minimum=1),
            claim_idle_ms=env.integer("VELLET_STREAM_CLAIM_IDLE_MS", cls.claim_idle_ms, minimum=1),
            max_deliveries=env.integer(
                "VELLET_STREAM_MAX_DELIVERIES", cls.max_deliveries, minimum=1
            ),
            batch_size=env.integer(
                "VELLET_STREAM_BATCH_SIZE", batch_size or cls.batch_size, minimum=1
            ),
        )


@dataclass(frozen=True)
class TokenSettings:
    """Service tokens this process mints (signed with its own key, see ``tokens``)."""

    #: Lifetime of a minted service token, in seconds; at most
    #: ``tokens.SERVICE_TTL_MAX`` (900), which every verifier enforces too.
    ttl_seconds: int = 300

    @classmethod
    def from_env(cls, env: Env) -> TokenSettings:
        return cls(
            ttl_seconds=env.integer(
                "VELLET_SERVICE_TOKEN_TTL", cls.ttl_seconds, minimum=10, maximum=900
            ),
        )


@dataclass(frozen=True)
class AuditSettings:
    """The background check that the books balance (``vellet.common.audits``)."""

    #: Seconds between two runs. The check reads whole tables (about 20 s at a
    #: million transfers, see ``vellet bench audit``), so it runs rarely;
    #: Prometheus reads the last result at any scrape rate.
    interval: float = 300.0
    #: Seconds one run may take before PostgreSQL cancels it (counted as an
    #: error, alerted on by the age of the last completed run).
    timeout: float = 120.0

    @classmethod
    def from_env(cls, env: Env) -> AuditSettings:
        return cls(
            interval=env.number("VELLET_AUDIT_INTERVAL", cls.interval, minimum=0.1),
            timeout=env.number("VELLET_AUDIT_TIMEOUT", cls.timeout, minimum=0.1),
        )
