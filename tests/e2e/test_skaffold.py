"""skaffold.yaml, checked against skaffold's own v4beta13 schema (a hand-written subset
kept in tests/e2e/skaffold/, its upstream source named inside), so a misspelt key fails
here and not on a user's laptop; and every file it names exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/e2e/skaffold/v4beta13.subset.schema.json").read_text())


def _config() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _errors(config: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(config)
    ]


def test_the_schema_is_a_valid_draft7_schema_that_names_its_source() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert "HAND-WRITTEN SUBSET" in SCHEMA["$comment"]
    assert "docs-v2/content/en/schemas/v4beta13.json" in SCHEMA["$comment"]


def test_skaffold_yaml_follows_the_v4beta13_schema() -> None:
    assert _errors(_config()) == []


@pytest.mark.parametrize(
    ("where", "typo"),
    [
        ((), "portForwards"),
        (("build", "artifacts", 0), "dockerFile"),
        (("build", "artifacts", 0, "docker"), "dockerFile"),
        (("deploy", "helm", "releases", 0), "valueFiles"),
        (("portForward", 0), "localport"),
        (("profiles", 0), "patch"),
    ],
)
def test_a_misspelt_key_is_refused(where: tuple[str | int, ...], typo: str) -> None:
    config = _config()
    node: Any = config
    for step in where:
        node = node[step]
    node[typo] = "x"
    assert any("Additional properties are not allowed" in e for e in _errors(config))


def test_a_wrong_api_version_or_type_is_refused() -> None:
    config = _config()
    config["apiVersion"] = "skaffold/v2beta29"
    config["portForward"][0]["localPort"] = "8080"
    errors = _errors(config)
    assert any(e.startswith("apiVersion:") for e in errors)
    assert any(e.startswith("portForward/0/localPort:") for e in errors)


def test_every_file_it_names_exists_and_the_image_reaches_the_chart() -> None:
    config = _config()
    release = config["deploy"]["helm"]["releases"][0]
    named = [release["chartPath"], *release["valuesFiles"], *config["manifests"]["rawYaml"]]
    named += [
        p["value"] if isinstance(p["value"], str) else v
        for profile in config["profiles"]
        for p in profile["patches"]
        for v in ([p["value"]] if isinstance(p["value"], str) else p["value"])
    ]
    named.append(config["build"]["artifacts"][0]["docker"]["dockerfile"])
    assert [n for n in named if not (ROOT / n).exists()] == []
    image = config["build"]["artifacts"][0]["image"]
    templates = release["setValueTemplates"]
    assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{image}}}}}"
    assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{image}}}}}"


def test_the_port_forwards_name_services_the_chart_and_the_sink_render() -> None:
    from tests.chart.helm import helm

    config = _config()
    release = config["deploy"]["helm"]["releases"][0]
    args = [
        "template",
        release["name"],
        str(ROOT / release["chartPath"]),
        "--namespace",
        release["namespace"],
    ]
    for values in release["valuesFiles"]:
        args += ["-f", str(ROOT / values)]
    done = helm("helm3", *args)
    assert done.code == 0, done.err
    docs = [*yaml.safe_load_all(done.out)]
    for raw in config["manifests"]["rawYaml"]:
        docs += yaml.safe_load_all((ROOT / raw).read_text())
    ports = {
        (d["metadata"]["name"], p["port"])
        for d in docs
        if d and d["kind"] == "Service"
        for p in d["spec"]["ports"]
    }
    wanted = {(f["resourceName"], f["port"]) for f in config["portForward"]}
    assert wanted <= ports, wanted - ports
