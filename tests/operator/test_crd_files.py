"""The CRD file itself: one source, valid for Kubernetes, self-explaining, bounded."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.operator.conftest import CRD_PATH, ROOT, SAMPLES
from tests.operator.emulator import cel, schema
from tests.operator.emulator.crd import Crd

# Where a Kubernetes version is needed, the newest kubernetes-validate knows.
K8S_VERSION = kubernetes_validate.latest_version()
SKIPPED_DIRS = {".git", ".venv", "node_modules", ".vellet", ".mypy_cache", ".ruff_cache"}


def yaml_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        found += [Path(folder, f) for f in files if f.endswith((".yaml", ".yml"))]
    return found


def test_every_copy_of_the_crd_is_byte_identical_to_the_source() -> None:
    source = CRD_PATH.read_bytes()
    copies = [
        path
        for path in yaml_files()
        if path != CRD_PATH and "name: transfers.vellet.io" in path.read_text(errors="replace")
    ]
    # The chart renders its copy (it can read files inside itself only): it must exist.
    assert ROOT / "charts" / "vellet" / "files" / "crds" / "transfers.vellet.io.yaml" in copies
    for path in copies:
        assert path.read_bytes() == source, f"{path.relative_to(ROOT)} drifted: copy {CRD_PATH}"


def test_the_crd_passes_kubernetes_validate_strictly() -> None:
    definition = yaml.safe_load(CRD_PATH.read_text())
    assert kubernetes_validate.validate(definition, K8S_VERSION, strict=True)


def test_kubernetes_validate_would_catch_a_misspelt_schema_keyword() -> None:
    definition = yaml.safe_load(CRD_PATH.read_text())
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["note"]["maxLenght"] = 140  # the kind of typo that would disable a rule
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(definition, K8S_VERSION, strict=True)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_samples_pass_kubernetes_validate_and_the_crd(path: Path, crd: Crd) -> None:
    sample = yaml.safe_load(path.read_text())
    # kubernetes-validate only knows built-in kinds, never a custom resource's schema
    # (it reports SchemaNotFoundError). It checks what Kubernetes itself defines for
    # every object -- ObjectMeta -- when the metadata is carried by a built-in kind:
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": sample["metadata"]}
    kubernetes_validate.validate(carrier, K8S_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(sample, K8S_VERSION, strict=True)
    # ...and the custom part is checked against the CRD's own schema and CEL rules.
    admission = crd.admit(sample)
    assert admission.errors == []
    assert admission.unknown_fields == []


def test_samples_cover_every_transfer_type() -> None:
    types = {yaml.safe_load(path.read_text())["spec"]["type"] for path in SAMPLES}
    assert types == {"P2P", "Deposit", "Withdrawal"}


def fields(crd: Crd) -> list[tuple[str, dict[str, Any]]]:
    return [(path, node) for path, node in schema.walk(crd.schema()) if path != "metadata"]


def test_every_field_is_described_for_kubectl_explain(crd: Crd) -> None:
    undescribed = [path or "<root>" for path, node in fields(crd) if not node.get("description")]
    assert undescribed == []


def test_the_schema_is_structural(crd: Crd) -> None:
    # Every node has a type; root metadata may say nothing but "object"
    # (the API server refuses a description or any constraint there).
    untyped = [path for path, node in schema.walk(crd.schema()) if "type" not in node]
    assert untyped == []
    assert crd.schema()["properties"]["metadata"] == {"type": "object"}


def unbounded(node: dict[str, Any]) -> bool:
    if node.get("type") == "string":
        return "maxLength" not in node and "enum" not in node
    return node.get("type") == "array" and "maxItems" not in node


def test_strings_and_lists_are_bounded_so_cel_costs_are_bounded(crd: Crd) -> None:
    # The API server estimates each CEL rule's cost from maxLength/maxItems and
    # refuses a CRD whose rules could run unbounded. (apiVersion and kind at the
    # root are the server's own business.)
    found = [
        path
        for path, node in fields(crd)
        if path.startswith(("spec", "status")) and unbounded(node)
    ]
    assert found == []


def test_names_scope_version_and_subresources(crd: Crd) -> None:
    assert crd.definition["metadata"]["name"] == "transfers.vellet.io"
    assert (crd.group, crd.kind, crd.plural, crd.singular) == (
        "vellet.io",
        "Transfer",
        "transfers",
        "transfer",
    )
    assert crd.short_names == ["tr"]
    assert crd.namespaced
    [version] = crd.spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert crd.has_status()


def test_kubectl_get_reads_like_a_statement(crd: Crd) -> None:
    columns = [c for c in crd.version()["additionalPrinterColumns"] if not c.get("priority")]
    assert [c["name"] for c in columns] == ["Type", "From", "To", "Amount", "Phase", "Age"]
    sample = yaml.safe_load((ROOT / "k8s" / "samples" / "p2p.yaml").read_text())
    sample["status"] = {"phase": "Posted"}
    shown = crd.printer_columns(sample)
    assert shown["Type"] == "P2P"
    assert (shown["From"], shown["To"]) == ("100000000000", "100000000001")
    assert (shown["Amount"], shown["Phase"]) == ("125.50", "Posted")


def test_status_keeps_the_fields_kopf_writes(crd: Crd) -> None:
    status = crd.schema()["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    transfer = yaml.safe_load((ROOT / "k8s" / "samples" / "p2p.yaml").read_text())
    transfer["status"] = {"phase": "Posted", "create_fn": {"result": 1}}
    admission = crd.admit(transfer)
    assert admission.stored["status"]["create_fn"] == {"result": 1}
    assert admission.errors == []


def test_every_cel_rule_compiles_and_messages_are_human(crd: Crd) -> None:
    assert cel.compile_all(crd.schema()) == 7
    for _, node in schema.walk(crd.schema()):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule.get("message") or rule.get("messageExpression"), rule["rule"]


def test_the_validator_refuses_schema_keywords_it_does_not_implement() -> None:
    # So a new keyword in the CRD fails these tests instead of going unchecked.
    definition = yaml.safe_load(CRD_PATH.read_text())
    broken = copy.deepcopy(definition)
    spec = broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["note"]["oneOf"] = [{"maxLength": 10}]
    with pytest.raises(NotImplementedError, match="oneOf"):
        Crd.parse(broken)
