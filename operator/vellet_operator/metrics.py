"""The operator's Prometheus metrics, on a registry it owns.

Every series exists from the start at zero (each phase, each handler and
outcome), so dashboards and alert rules return data before the first
Transfer arrives, and ``rate()`` sees the first increment. Label values are
closed sets: an unknown one is a bug, refused rather than turned into a new
series.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

#: Every status.phase of a Transfer (the CRD's enum). No phase yet counts as Pending.
PHASES: Final = ("Pending", "Accepted", "Queued", "Posted", "Voided", "Failed", "Denied")
#: create: submitting a new Transfer to the wallet; timer: re-reading or
#: re-driving one unfinished Transfer; resubmit: submitting again one that kopf
#: marked handled but whose outcome was lost (``handlers._orphaned``); sweep:
#: re-driving stuck transfers made through the HTTP API.
HANDLERS: Final = ("create", "timer", "resubmit", "sweep")
#: ok: done for now; retry: a temporary problem, tried again later;
#: failed: a permanent refusal, never retried.
OUTCOMES: Final = ("ok", "retry", "failed")


class OperatorMetrics:
    """Reconciles, stuck transfers and Transfers by phase."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reconciles = Counter(
            "vellet_operator_reconciles_total",
            "Reconcile passes by handler and outcome.",
            ["handler", "outcome"],
            registry=registry,
        )
        self.stuck = Gauge(
            "vellet_operator_stuck_transfers",
            "Transfers queued longer than the stuck threshold at the last check.",
            registry=registry,
        )
        self.phases = Gauge(
            "vellet_operator_transfers",
            "Transfer resources the operator watches, by status.phase.",
            ["phase"],
            registry=registry,
        )
        for handler in HANDLERS:
            for outcome in OUTCOMES:
                self.reconciles.labels(handler, outcome)
        for phase in PHASES:
            self.phases.labels(phase).set(0)

    def reconciled(self, handler: str, outcome: str) -> None:
        if handler not in HANDLERS or outcome not in OUTCOMES:
            raise ValueError(f"unknown reconcile label: {handler}/{outcome}")
        self.reconciles.labels(handler, outcome).inc()

    def set_stuck(self, count: int) -> None:
        self.stuck.set(count)

    def set_phases(self, counts: Mapping[str, int]) -> None:
        """Replace the per-phase counts (a phase not mentioned is zero)."""
        unknown = set(counts) - set(PHASES)
        if unknown:
            raise ValueError(f"unknown phases: {sorted(unknown)}")
        for phase in PHASES:
            self.phases.labels(phase).set(counts.get(phase, 0))


def count_phases(phases: Iterable[str | None]) -> dict[str, int]:
    """How many Transfers are in each phase; one without a phase yet is Pending."""
    tally = Tally(phase or "Pending" for phase in phases)
    return {phase: tally.get(phase, 0) for phase in PHASES}
