"""Every scenario under ci/ lints strictly, renders, and validates, with Helm 3 and Helm 4."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

from tests.chart.helm import CHART, HELMS, SCENARIOS, helm, render, render_fresh, render_text

#: The two newest Kubernetes versions kubernetes-validate knows.
K8S_VERSIONS = sorted(set(kv_utils.all_versions()), key=lambda v: tuple(map(int, v.split("."))))[
    -2:
]
#: Kinds from other projects' CRDs, which kubernetes-validate has no schema for.
FOREIGN_KINDS = {"ServiceMonitor", "PrometheusRule", "KopfPeering", "ClusterKopfPeering"}


def test_there_are_the_four_scenarios_the_chart_promises() -> None:
    names = {p.name for p in SCENARIOS}
    assert {
        "default-values.yaml",
        "external-values.yaml",
        "monitoring-values.yaml",
        "hardened-ha-values.yaml",
    } <= names


@pytest.mark.parametrize("helm_name", HELMS)
def test_the_helm_binaries_are_the_two_majors(helm_name: str) -> None:
    version = helm(helm_name, "version", "--short").out
    assert version.startswith({"helm3": "v3.19.", "helm4": "v4.1."}[helm_name]), version


@pytest.mark.parametrize("helm_name", HELMS)
@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_lint_strict_passes(helm_name: str, values: Path) -> None:
    result = helm(helm_name, "lint", "--strict", str(CHART), "-f", str(values))
    assert result.code == 0, result.out + result.err
    assert "0 chart(s) failed" in result.out


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_every_manifest_validates_against_the_two_newest_kubernetes(values: Path) -> None:
    docs = render([values], helm_name="helm4")
    checked = 0
    for doc in docs:
        checked_doc = doc
        if doc["kind"] in FOREIGN_KINDS:
            # ObjectMeta is still Kubernetes' own: check it on a built-in carrier.
            checked_doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(checked_doc, version, strict=True)
            checked += 1
    assert checked >= 2 * 25


def test_kubernetes_validate_catches_a_misspelt_field() -> None:
    # So the test above can fail: strict validation refuses an unknown field.
    docs = render([SCENARIOS[0]])
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def _mask_generated(text: str) -> str:
    """Secret data that `lookup` keeps in a cluster is generated anew by `helm template`."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["data"] = dict.fromkeys(doc.get("data", {}), "<generated>")
    return yaml.safe_dump_all(docs, sort_keys=True)


@pytest.mark.parametrize("helm_name", HELMS)
@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_rendering_twice_gives_the_same_output(helm_name: str, values: Path) -> None:
    first = render_fresh(helm_name, [values])
    second = render_fresh(helm_name, [values])
    assert _mask_generated(first) == _mask_generated(second)


def test_generated_secrets_really_are_generated_each_render() -> None:
    # Without a cluster, lookup finds nothing: each render makes new values. The mask
    # above hides exactly these and nothing else.
    values = [SCENARIOS[0]]
    first, second = render_fresh("helm3", values), render_fresh("helm3", values)
    assert first != second
    assert _mask_generated(first) == _mask_generated(second)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_helm3_and_helm4_render_the_same_manifests(values: Path) -> None:
    assert _mask_generated(render_text("helm3", [values])) == _mask_generated(
        render_text("helm4", [values])
    )


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_no_secret_is_rendered_outside_a_secret(values: Path) -> None:
    text = render_text("helm3", [values])
    generated = [
        value
        for doc in yaml.safe_load_all(text)
        if doc and doc["kind"] == "Secret"
        for value in doc.get("data", {}).values()
    ]
    others = yaml.safe_dump_all(
        [d for d in yaml.safe_load_all(text) if d and d["kind"] != "Secret"]
    )
    for value in generated:
        assert value not in others
    # Passwords reach URLs only by the kubelet's $(VAR) expansion, never as text.
    assert not re.search(r"redis://[^$\s\"]*:[^$\s\"@]+@", others)
    assert not re.search(r"postgresql://[^@\s\"]+:[^@\s\"]+@", others)
