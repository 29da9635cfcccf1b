"""The operator's metrics: closed label sets, every series present from the start."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from vellet.operator.metrics import HANDLERS, OUTCOMES, PHASES, OperatorMetrics, count_phases


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_series_exists_before_the_first_transfer() -> None:
    registry = CollectorRegistry()
    OperatorMetrics(registry)
    for phase in PHASES:
        assert sample(registry, "vellet_operator_transfers", phase=phase) == 0
    for handler in HANDLERS:
        for outcome in OUTCOMES:
            labels = {"handler": handler, "outcome": outcome}
            assert sample(registry, "vellet_operator_reconciles_total", **labels) == 0
    assert sample(registry, "vellet_operator_stuck_transfers") == 0


def test_reconciles_stuck_and_phases_are_recorded() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.reconciled("create", "ok")
    metrics.reconciled("create", "ok")
    metrics.reconciled("timer", "retry")
    metrics.set_stuck(3)
    metrics.set_phases({"Posted": 2, "Queued": 1})
    metrics.set_phases({"Posted": 3})  # replaces: Queued is back to zero
    assert sample(registry, "vellet_operator_reconciles_total", handler="create", outcome="ok") == 2
    assert (
        sample(registry, "vellet_operator_reconciles_total", handler="timer", outcome="retry") == 1
    )
    assert sample(registry, "vellet_operator_stuck_transfers") == 3
    assert sample(registry, "vellet_operator_transfers", phase="Posted") == 3
    assert sample(registry, "vellet_operator_transfers", phase="Queued") == 0
    assert b"vellet_operator_reconciles_total" in generate_latest(registry)


def test_unknown_labels_are_refused() -> None:
    metrics = OperatorMetrics(CollectorRegistry())
    with pytest.raises(ValueError, match="unknown"):
        metrics.reconciled("delete", "ok")
    with pytest.raises(ValueError, match="unknown"):
        metrics.set_phases({"Done": 1})


def test_two_operators_in_one_process_do_not_collide() -> None:
    # Each registry is its own: the global one is never touched.
    OperatorMetrics(CollectorRegistry())
    OperatorMetrics(CollectorRegistry())


def test_phases_are_counted_with_missing_ones_as_pending() -> None:
    counts = count_phases(["Posted", None, "Posted", "Queued", None, "Failed"])
    assert counts == {
        "Pending": 2,
        "Accepted": 0,
        "Queued": 1,
        "Posted": 2,
        "Voided": 0,
        "Failed": 1,
        "Denied": 0,
    }
