"""The operator's settings, read once from the environment and passed in.

Two of kopf's known pitfalls are settled here rather than left to defaults:

- Watch timeouts. Without them a watch request can stay open forever; when a
  load balancer or the API server silently drops it, the operator never
  hears of another change. The server ends each watch after
  ``server_timeout`` (kopf reconnects from the last resourceVersion it saw)
  and the client gives up a little later, should the server not.
- One operator at a time. Two replicas handling the same Transfer would both
  call the wallet (harmless thanks to the idempotency key, but noisy and
  racy on status). Without a peering name the operator runs standalone and
  the chart runs one replica with the ``Recreate`` strategy, so even a
  rollout never overlaps two; with ``VELLET_OPERATOR_PEERING`` several
  replicas elect one active operator through kopf's peering objects.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from vellet.common.errors import ConfigError
from vellet.common.keys import KeySettings
from vellet.common.settings import Env, HttpSettings, TokenSettings
from vellet.common.tokens import Issuer

# Kubernetes namespace names are RFC 1123 labels.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class WatchSettings:
    """How long one watch request may live (seconds)."""

    #: Asked of the API server (``timeoutSeconds``): it ends each watch after
    #: this long and the operator reconnects from the last version it saw.
    server_timeout: float = 300.0
    #: The client's own limit for one watch request; longer than
    #: ``server_timeout`` so the server normally ends it first.
    client_timeout: float = 330.0
    #: Limit for opening the connection of a watch request.
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class OperatorSettings:
    """Everything ``vellet operator run`` needs."""

    #: Base URL of the wallet's internal port (its internal API; service
    #: token only; never routed by the ingress), e.g. ``http://vellet-wallet:9080``.
    wallet_url: str
    #: Base URL of the bank; its ``/healthz`` decides whether stuck transfers
    #: are re-driven now or later.
    bank_url: str
    #: Lifetime of the service tokens the operator mints for the wallet's internal API.
    tokens: TokenSettings = field(default_factory=TokenSettings)
    #: The operator's own key (it signs its calls to the wallet); it trusts no one's.
    keys: KeySettings = field(default_factory=KeySettings)
    #: Namespaces whose Transfers (and AccountBindings) this operator serves.
    #: Required unless ``clusterwide``: an operator that moves money watches
    #: only where it was told to, never the whole cluster by default.
    namespaces: tuple[str, ...] = ()
    #: Serve every namespace instead (``VELLET_OPERATOR_NAMESPACES=*``; needs
    #: cluster-wide RBAC on transfers, accountbindings and events).
    clusterwide: bool = False
    #: Seconds an unbound Transfer waits, once, for its AccountBinding to be
    #: seen (the two arrive on separate watches) before it is Denied.
    binding_grace: float = 5.0
    #: Name of the kopf peering object several replicas coordinate through;
    #: ``None`` runs standalone (one replica, ``Recreate`` strategy).
    peering: str | None = None
    #: Watch request lifetimes.
    watch: WatchSettings = field(default_factory=WatchSettings)
    #: Seconds a transfer may stay queued before it counts as stuck and is
    #: re-driven (once the bank's health check passes).
    stuck_after: float = 60.0
    #: Seconds between two checks of an unfinished Transfer, and between two
    #: sweeps for stuck transfers made through the HTTP API.
    timer_interval: float = 10.0
    #: Also re-drive stuck transfers that have no Transfer resource (made
    #: through the HTTP API). On in a cluster, where the wallet's own
    #: reconcile timer is switched off.
    sweep_api_transfers: bool = True
    #: Seconds to wait for one answer from the wallet or the bank.
    http_timeout: float = 5.0
    #: Where ``/metrics``, ``/healthz`` and ``/readyz`` listen.
    http: HttpSettings = field(default_factory=lambda: HttpSettings(port=8084))
    #: A Kubernetes API URL to talk to without credentials (``kubectl proxy``,
    #: an emulator in tests). ``None``: in-cluster service account, else the
    #: kubeconfig -- kopf's own discovery.
    kube_api_url: str | None = None

    def __post_init__(self) -> None:
        if self.clusterwide == bool(self.namespaces):
            raise ConfigError(
                "VELLET_OPERATOR_NAMESPACES must name the namespaces to watch (a,b,...), "
                "or be * for the whole cluster"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OperatorSettings:
        env = Env(environ)
        wallet_url = env.optional("VELLET_WALLET_INTERNAL_URL")
        bank_url = env.optional("VELLET_BANK_URL")
        if wallet_url is None or bank_url is None:
            raise ConfigError("VELLET_WALLET_INTERNAL_URL and VELLET_BANK_URL must be set")
        watch = WatchSettings(
            server_timeout=env.number(
                "VELLET_OPERATOR_WATCH_SERVER_TIMEOUT", WatchSettings.server_timeout, minimum=1
            ),
            client_timeout=env.number(
                "VELLET_OPERATOR_WATCH_CLIENT_TIMEOUT", WatchSettings.client_timeout, minimum=1
            ),
            connect_timeout=env.number(
                "VELLET_OPERATOR_WATCH_CONNECT_TIMEOUT", WatchSettings.connect_timeout, minimum=0.1
            ),
        )
        if watch.client_timeout <= watch.server_timeout:
            raise ConfigError(
                "VELLET_OPERATOR_WATCH_CLIENT_TIMEOUT must be longer than "
                "VELLET_OPERATOR_WATCH_SERVER_TIMEOUT, so the server ends a watch first"
            )
        scope = env.text("VELLET_OPERATOR_NAMESPACES", "")
        return cls(
            wallet_url=wallet_url.rstrip("/"),
            bank_url=bank_url.rstrip("/"),
            tokens=TokenSettings.from_env(env),
            keys=KeySettings.from_env(env, own="operator", trusts=()),
            namespaces=_namespaces(scope),
            clusterwide=scope == "*",
            binding_grace=env.number(
                "VELLET_OPERATOR_BINDING_GRACE", cls.binding_grace, minimum=0.0
            ),
            peering=env.optional("VELLET_OPERATOR_PEERING"),
            watch=watch,
            stuck_after=env.number("VELLET_OPERATOR_STUCK_AFTER", cls.stuck_after, minimum=1),
            timer_interval=env.number(
                "VELLET_OPERATOR_TIMER_INTERVAL", cls.timer_interval, minimum=0.1
            ),
            sweep_api_transfers=env.flag(
                "VELLET_OPERATOR_SWEEP_API_TRANSFERS", cls.sweep_api_transfers
            ),
            http_timeout=env.number("VELLET_OPERATOR_HTTP_TIMEOUT", cls.http_timeout, minimum=0.1),
            http=HttpSettings(
                host=env.text("VELLET_OPERATOR_HOST", "127.0.0.1"),
                port=env.integer("VELLET_OPERATOR_PORT", 8084, maximum=65535),
            ),
            kube_api_url=env.optional("VELLET_OPERATOR_KUBE_API_URL"),
        )

    def issuer(self) -> Issuer:
        """Mints the operator's tokens for the wallet's internal API."""
        return Issuer.of(self.keys, "operator", self.tokens.ttl_seconds)

    def kopf_settings(self) -> kopf.OperatorSettings:
        """kopf's own settings object, configured from these."""
        settings = kopf.OperatorSettings()
        settings.watching.server_timeout = self.watch.server_timeout
        settings.watching.client_timeout = self.watch.client_timeout
        settings.watching.connect_timeout = self.watch.connect_timeout
        settings.networking.request_timeout = max(30.0, self.http_timeout)
        settings.peering.standalone = self.peering is None
        if self.peering is not None:
            settings.peering.name = self.peering
            settings.peering.mandatory = True
        settings.posting.reporting_component = "vellet-operator"
        # The handlers post their own Events on every transition; kopf's own
        # log lines become Events only when they are warnings or errors, so
        # `kubectl describe tr` reads as the transfer's story, not kopf's.
        settings.posting.level = logging.WARNING
        return settings

    def run_options(self) -> dict[str, Any]:
        """Keyword arguments for ``kopf.operator()``: scope and peering."""
        return {
            "clusterwide": self.clusterwide,
            "namespaces": list(self.namespaces),
            "standalone": self.peering is None,
            "peering_name": self.peering,
        }


def _namespaces(raw: str) -> tuple[str, ...]:
    if raw.strip() == "*":
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for name in names:
        if not _NAMESPACE.match(name):
            raise ConfigError(
                f"VELLET_OPERATOR_NAMESPACES: {name!r} is not a Kubernetes namespace name"
            )
    return names
