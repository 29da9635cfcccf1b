"""The GitHub workflows (kind e2e, ct lint) and the other plain YAML this issue added
pass yamllint, and every action, tool and node image they use is pinned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yaml"))
YAMLLINT = Path(sys.executable).with_name("yamllint")
PLAIN = [
    *WORKFLOWS,
    ROOT / "skaffold.yaml",
    ROOT / "k8s/dev",
    ROOT / "tests/e2e/kind",
    ROOT / "tests/e2e/containers/deps/deps.yaml",
    ROOT / "tests/e2e/values.yaml",
]


def test_the_yaml_passes_yamllint() -> None:
    config = ROOT / "charts" / "vellet" / ".yamllint"
    done = subprocess.run(
        [str(YAMLLINT), "-f", "parsable", "-c", str(config), *map(str, PLAIN)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _uses(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [step["uses"] for job in doc["jobs"].values() for step in job["steps"] if "uses" in step]


def test_both_workflows_exist_and_pin_every_action_to_a_release() -> None:
    assert {p.name for p in WORKFLOWS} == {"chart-lint.yaml", "kind-e2e.yaml"}
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        for action in _uses(doc):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", action), f"{path.name}: {action}"


def test_the_kind_workflow_pins_kind_and_its_node_image_by_digest() -> None:
    doc = yaml.safe_load((ROOT / ".github/workflows/kind-e2e.yaml").read_text())
    assert re.fullmatch(r"v\d+\.\d+\.\d+", doc["env"]["KIND_VERSION"])
    assert re.fullmatch(
        r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", doc["env"]["KIND_NODE_IMAGE"]
    )
    (job,) = doc["jobs"].values()
    kind_step = next(s for s in job["steps"] if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind_step["with"]["node_image"] == "${{ env.KIND_NODE_IMAGE }}"
    assert any("pytest -m kind tests/e2e" in s.get("run", "") for s in job["steps"])
    from tests.e2e.targets.kind import NODE_IMAGE

    assert doc["env"]["KIND_NODE_IMAGE"] == NODE_IMAGE


def test_chart_lint_runs_ct_lint_with_pinned_helm_and_chart_testing() -> None:
    doc = yaml.safe_load((ROOT / ".github/workflows/chart-lint.yaml").read_text())
    (job,) = doc["jobs"].values()
    by_action = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert re.fullmatch(r"v\d+\.\d+\.\d+", by_action["azure/setup-helm"]["with"]["version"])
    assert re.fullmatch(
        r"v\d+\.\d+\.\d+", by_action["helm/chart-testing-action"]["with"]["version"]
    )
    assert any(s.get("run", "").startswith("ct lint") for s in job["steps"])
