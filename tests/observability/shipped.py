"""The shipped dashboards and alert rules, read from the chart's files.

Every test of the operator's view reads them from here, so a new panel or
alert is tested the moment it is added to the chart.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "charts/vellet/files/dashboards").glob("*.json"))
RULES = ROOT / "charts/vellet/files/alerts/vellet-rules.yaml"
README = ROOT / "README.md"


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard panel."""

    dashboard: str
    row: str
    panel: str
    ref: str
    expr: str
    legend: str

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def panel_queries() -> list[Query]:
    found = []
    for name, dash in dashboards().items():
        row = ""
        for panel in dash["panels"]:
            if panel["type"] == "row":
                row = panel["title"]
                continue
            for target in panel.get("targets", []):
                found.append(Query(name, row, panel["title"], target["refId"], target["expr"],
                                   target.get("legendFormat", "")))  # fmt: skip
    return found


def rules() -> list[dict[str, Any]]:
    """Every alerting rule of the shipped rules file."""
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule]


def grafana_expr(expr: str, *, rate_interval: str) -> str:
    """What Grafana sends for ``expr`` with every variable at "All" ($__rate_interval given)."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$namespace", ".*")
        .replace("$instance", ".*")
    )


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown``."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#+\s+(.*)$", line)
        if match:
            text = match.group(1).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def binary(name: str) -> str:
    """A Debian Prometheus binary; ``make prometheus`` installs them (``make test`` does)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make prometheus` (apt-get install prometheus)")
    return path
