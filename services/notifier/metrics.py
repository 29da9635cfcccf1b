"""The notifier's own metrics (queue depth comes from vellet.common.streams).

Every label value is created up front, so each PromQL expression on the
dashboard returns a series (zero) before the first mail is ever sent.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

RESULTS: Final = ("sent", "failed", "retried", "dead_lettered", "resent", "skipped")


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.emails = Counter(
            "vellet_notifier_emails_total",
            "Per-recipient outcomes: sent; failed (an SMTP attempt refused or "
            "unanswered); retried (a retry scheduled); dead_lettered (given up); "
            "resent (sent again after an unknown outcome: a possible duplicate); "
            "skipped (already sent, seen again on redelivery).",
            ["result"],
            registry=registry,
        )
        for result in RESULTS:
            self.emails.labels(result)
        self.events = Counter(
            "vellet_notifier_events_total",
            "Transfer events handled to the end (every party sent or dead-lettered), "
            "or malformed (dead-lettered whole).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("done", "malformed"):
            self.events.labels(outcome)
        self.relay_up = Gauge(
            "vellet_notifier_smtp_up",
            "1 while the last SMTP connection attempt succeeded, 0 after a failure.",
            registry=registry,
        )
        self.relay_up.set(1)
        self.dead_recipients = Gauge(
            "vellet_notifier_dead_letters",
            "Entries in the per-recipient dead-letter stream.",
            registry=registry,
        )

    def count(self, result: str, n: int = 1) -> None:
        self.emails.labels(result).inc(n)
