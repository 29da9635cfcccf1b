"""The alert rules: valid for promtool, each alert unit-tested firing and quiet, documented."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.observability.shipped import README, RULES, binary, github_anchors, rules

UNIT_TESTS = Path(__file__).with_name("vellet-rules.test.yaml")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_checks_the_shipped_rules() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for rule in rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} never fires"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} never quiet"


def test_every_alert_says_what_and_where_its_runbook_is() -> None:
    anchors = github_anchors(README.read_text())
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules():
        notes = rule["annotations"]
        assert notes.get("summary"), rule["alert"]
        assert notes.get("description"), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        anchor = notes["runbook_url"].removeprefix("README.md#")
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"README has no runbook section for {rule['alert']}"
