"""The chart's CRDs and admission policy are the one source, rendered unchanged but for
Helm's keep annotation (CRDs only) and the chart's labels."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import CHART, ROOT, of_kind, render, scenario

SOURCES = sorted((ROOT / "k8s" / "crds").glob("*.yaml"))
KINDS = (
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


def test_the_sources_hold_both_crds_and_the_policy() -> None:
    names = {p.name for p in SOURCES}
    assert {"transfers.vellet.io.yaml", "accountbindings.vellet.io.yaml"} <= names
    assert any(p.name.endswith(".policy.yaml") for p in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_the_chart_copy_is_byte_identical_to_the_source(source: Path) -> None:
    assert (CHART / "files" / "crds" / source.name).read_bytes() == source.read_bytes()


def test_the_chart_holds_no_file_the_sources_lack() -> None:
    copies = {p.name for p in (CHART / "files" / "crds").glob("*")}
    assert copies == {p.name for p in SOURCES}


def test_nothing_is_left_in_crds_where_helm_would_install_it_unmanaged() -> None:
    assert not (CHART / "crds").exists()


def test_every_rendered_object_is_its_source_plus_keep_and_labels() -> None:
    docs = render([scenario("default")])
    rendered = {(d["kind"], d["metadata"]["name"]): d for k in KINDS for d in of_kind(docs, k)}
    sources = [d for p in SOURCES for d in yaml.safe_load_all(p.read_text()) if d]
    assert len(rendered) == len(sources) == 4
    for source in sources:
        got = rendered[(source["kind"], source["metadata"]["name"])]
        expected = copy.deepcopy(source)
        if source["kind"] == "CustomResourceDefinition":
            # Deleting a CRD deletes every object of its kind: uninstall keeps it.
            expected["metadata"]["annotations"] = {"helm.sh/resource-policy": "keep"}
        expected["metadata"]["labels"] = got["metadata"]["labels"]
        assert got == expected
        assert got["metadata"]["labels"]["app.kubernetes.io/part-of"] == "vellet"
