"""Typed application state keys and the bank's own metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from vellet.bank.cache import AccountCache
from vellet.bank.domain import Outcome
from vellet.bank.mailer import SignupMailer
from vellet.bank.settings import BankSettings
from vellet.common.db import Pool
from vellet.common.streams import Redis, StreamMetrics


class BankMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transfers = Counter(
            "vellet_bank_transfers_total",
            "Transfers the bank answered, by direction, outcome, path and replay.",
            ["direction", "outcome", "path", "replay"],
            registry=registry,
        )
        self.streams = StreamMetrics(registry)

    def observe(self, outcome: Outcome, *, replay: bool, path: str) -> None:
        self.transfers.labels(
            outcome.request.direction, outcome.status, path, "true" if replay else "false"
        ).inc()


SETTINGS = web.AppKey("bank_settings", BankSettings)
POOL = web.AppKey("bank_pool", Pool)
REDIS = web.AppKey("bank_redis", Redis)
CACHE = web.AppKey("bank_cache", AccountCache)
METRICS = web.AppKey("bank_metrics", BankMetrics)
MAILER = web.AppKey("bank_signup_mailer", SignupMailer)
