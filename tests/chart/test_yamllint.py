"""yamllint on the chart's plain YAML (values, scenarios, alert rules; not templates/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.chart.helm import CHART

YAMLLINT = Path(sys.executable).with_name("yamllint")


def yamllint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(YAMLLINT), "-f", "parsable", "-c", str(CHART / ".yamllint"), *map(str, paths)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_chart_yaml_is_clean() -> None:
    done = yamllint(CHART)
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_would_catch_a_duplicate_key(tmp_path: Path) -> None:
    bad = tmp_path / "values.yaml"
    bad.write_text("wallet:\n  replicaCount: 1\n  replicaCount: 2\n")
    done = yamllint(bad)
    assert done.returncode == 1
    assert "duplication of key" in done.stdout
