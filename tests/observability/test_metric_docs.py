"""The README lists every metric family every component exports.

Built from the metrics classes themselves, so a family added to the code
without a line in the README's table fails here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from tests.observability.shipped import README
from vellet.bank.cache import CacheMetrics
from vellet.bank.state import BankMetrics
from vellet.common.audits import AuditMetrics
from vellet.common.metrics import HttpMetrics
from vellet.notifier.metrics import NotifierMetrics
from vellet.operator.metrics import OperatorMetrics
from vellet.wallet.banking.metrics import FlowMetrics
from vellet.wallet.state import WalletMetrics

BUILDERS: list[Callable[[CollectorRegistry], object]] = [
    lambda registry: HttpMetrics(registry, "any"),
    AuditMetrics, BankMetrics, CacheMetrics, WalletMetrics, FlowMetrics, NotifierMetrics,
    OperatorMetrics,
]  # fmt: skip


def _families() -> list[tuple[str, str]]:
    found = []
    for build in BUILDERS:
        registry = CollectorRegistry()
        build(registry)
        found += [(family.name, family.type) for family in registry.collect()]
    return sorted(set(found))


@pytest.mark.parametrize(("name", "kind"), _families())
def test_readme_documents_the_family(name: str, kind: str) -> None:
    shown = f"{name}_total" if kind == "counter" else name
    assert f"| `{shown}` | {kind} |" in README.read_text(), f"README: no row for {shown}"
