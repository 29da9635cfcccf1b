"""checkov on every rendered scenario: no failed check; every skip is written in the chart
with its reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import SCENARIOS, TOOLS, render_text, tools


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tools()
    folder = tmp_path_factory.mktemp("rendered")
    for values in SCENARIOS:
        (folder / f"{values.stem}.yaml").write_text(render_text("helm3", [values]))
    done = subprocess.run(
        [
            str(TOOLS / "checkov" / "bin" / "checkov"),
            "--framework",
            "kubernetes",
            "--skip-download",
            "-o",
            "json",
            "-d",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    parsed = json.loads(done.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


def results(report: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [check for part in report for check in part["results"][kind]]


def test_checkov_checked_every_scenario(report: list[dict[str, Any]]) -> None:
    files = {Path(c["file_path"]).stem for c in results(report, "passed_checks")}
    assert files == {p.stem for p in SCENARIOS}
    assert len(results(report, "passed_checks")) > 1000


def test_no_check_fails(report: list[dict[str, Any]]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({Path(c['file_path']).name})"
        for c in results(report, "failed_checks")
    ]
    assert failed == []


def test_every_skip_is_in_the_chart_with_a_reason(report: list[dict[str, Any]]) -> None:
    skipped = results(report, "skipped_checks")
    assert skipped
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 30, (check["check_id"], check["resource"], reason)
    # Only these, each argued where it is written (templates' checkov.io/skip annotations).
    assert {c["check_id"] for c in skipped} <= {
        "CKV_K8S_43",
        "CKV_K8S_15",
        "CKV_K8S_35",
        "CKV_K8S_38",
        "CKV_K8S_9",
        "CKV_K8S_8",
    }
