"""Typed application state keys and the wallet's own metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vellet.common.db import Pool
from vellet.common.metrics import LATENCY_BUCKETS
from vellet.common.streams import Redis
from vellet.wallet.settings import WalletSettings


class WalletMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transfers = Counter(
            "vellet_transfers_total",
            "Transfer requests answered, by kind and outcome (posted, a refusal code, "
            "replayed, idempotency_mismatch, idempotency_in_flight).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.transfer_latency = Histogram(
            "vellet_transfer_duration_seconds",
            "Time from a valid transfer request to its answer (the ledger transaction).",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.logins = Counter(
            "vellet_logins_total",
            "Login attempts by outcome (success, invalid_credentials, too_many_attempts).",
            ["outcome"],
            registry=registry,
        )
        self.signups = Counter(
            "vellet_signups_total",
            "Sign-up attempts by outcome (created or the problem code).",
            ["outcome"],
            registry=registry,
        )
        self.p2p_batch_size = Histogram(
            "vellet_p2p_batch_size",
            "P2P transfers posted by one ledger call (one transaction, one commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=registry,
        )
        self.events_published = Counter(
            "vellet_outbox_events_published_total",
            "Transfer events the outbox relay appended to the event stream.",
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "vellet_outbox_unpublished",
            "Committed transfer events not yet on the event stream.",
            registry=registry,
        )


SETTINGS = web.AppKey("wallet_settings", WalletSettings)
POOL = web.AppKey("wallet_pool", Pool)
REDIS = web.AppKey("wallet_redis", Redis)
METRICS = web.AppKey("wallet_metrics", WalletMetrics)
