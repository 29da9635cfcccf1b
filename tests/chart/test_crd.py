"""The chart's CRD is the one source, rendered unchanged but for Helm's keep annotation."""

from __future__ import annotations

import copy

import yaml

from tests.chart.helm import CHART, ROOT, of_kind, render, scenario

SOURCE = ROOT / "k8s" / "crds" / "transfers.vellet.io.yaml"


def test_the_chart_copy_is_byte_identical_to_the_source() -> None:
    assert (
        CHART / "files" / "crds" / "transfers.vellet.io.yaml"
    ).read_bytes() == SOURCE.read_bytes()


def test_nothing_is_left_in_crds_where_helm_would_install_it_unmanaged() -> None:
    assert not (CHART / "crds").exists()


def test_the_rendered_crd_is_the_source_plus_keep_and_labels() -> None:
    (rendered,) = of_kind(render([scenario("default")]), "CustomResourceDefinition")
    source = yaml.safe_load(SOURCE.read_text())
    expected = copy.deepcopy(source)
    expected["metadata"]["annotations"] = {"helm.sh/resource-policy": "keep"}
    expected["metadata"]["labels"] = rendered["metadata"]["labels"]
    assert rendered == expected
    assert rendered["metadata"]["labels"]["app.kubernetes.io/part-of"] == "vellet"
