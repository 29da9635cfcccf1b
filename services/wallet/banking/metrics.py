"""Metrics of deposits and withdrawals: queues, bank availability, outcomes, timing.

Counters and histograms are updated where things happen; the gauges that
need I/O (queue depth, unfinished transfers, outbox backlog) are refreshed
just before each scrape (``metrics.add_refresher``), because the truth is
in Redis and PostgreSQL, shared by every replica.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vellet.common.streams import StreamMetrics
from vellet.wallet.banking.breaker import STATES, Breaker

#: From a fast direct answer to an outage of an hour or more.
SETTLE_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900,
                         1800, 3600, 7200)  # fmt: skip


class FlowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.streams = StreamMetrics(registry)
        self.finished = Counter(
            "vellet_bank_transfers_finished_total",
            "Deposits and withdrawals that reached a final state, by kind, state "
            "(posted, voided, failed) and path (direct: the bank's HTTP answer; stream: "
            "its result message).",
            ["kind", "state", "path"], registry=registry,
        )  # fmt: skip
        self.settle_seconds = Histogram(
            "vellet_transfer_settle_seconds",
            "Time from a deposit or withdrawal being accepted to its final state.",
            ["kind", "state"], buckets=SETTLE_BUCKETS, registry=registry,
        )  # fmt: skip
        self.unfinished = Gauge(
            "vellet_transfers_unfinished",
            "Deposits and withdrawals waiting for the bank, by kind and state (pending, queued).",
            ["kind", "state"], registry=registry,
        )  # fmt: skip
        self.direct_calls = Counter(
            "vellet_bank_direct_calls_total",
            "Direct transfer calls to the bank by outcome (answered, no_answer, "
            "skipped: the circuit breaker was open).",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.bank_available = Gauge(
            "vellet_bank_available",
            "1 while this replica's circuit breaker trusts the bank (closed), else 0.",
            registry=registry,
        )
        self.breaker_state = Gauge(
            "vellet_bank_breaker_state",
            "The circuit breaker's state: 1 for the current one.",
            ["state"], registry=registry,
        )  # fmt: skip
        self.requests_published = Counter(
            "vellet_bank_requests_published_total",
            "Transfer requests appended to vellet:bank:requests (first sends and re-drives).",
            registry=registry,
        )
        self.request_backlog = Gauge(
            "vellet_bank_outbox_rows",
            "Bank requests committed but not yet on the request stream (including ones "
            "deferred while a direct call may still answer).",
            registry=registry,
        )
        self.reconciles = Counter(
            "vellet_reconcile_runs_total",
            "Reconciler runs by outcome (idle, redriven, bank_unavailable, busy: another "
            "replica was reconciling).",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.redriven = Counter(
            "vellet_transfers_redriven_total",
            "Stuck transfers re-published to the bank request stream.",
            registry=registry,
        )
        self.stuck = Gauge(
            "vellet_transfers_stuck",
            "Transfers found stuck (pending or queued, unattempted too long) by the last "
            "reconciler run.",
            registry=registry,
        )

    def show_breaker(self, breaker: Breaker) -> None:
        self.bank_available.set(1 if breaker.available else 0)
        for state in STATES:
            self.breaker_state.labels(state).set(1 if breaker.state == state else 0)
