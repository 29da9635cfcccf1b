"""What `helm install` says to wrong values: refused at render, with the message the user sees."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART, HELMS, refusal, render, scenario, template_args

DEV = [scenario("default")]
#: The one required value the scenarios set, for the tests that render without one.
KEYS = "keys.existingSecret=vellet-keys"


@pytest.mark.parametrize("helm_name", HELMS)
def test_a_negative_replica_count_is_refused(helm_name: str) -> None:
    err = refusal(*template_args(DEV, ["wallet.replicaCount=-1"]), helm_name=helm_name)
    assert "at '/wallet/replicaCount': minimum: got -1, want 0" in err


@pytest.mark.parametrize("helm_name", HELMS)
def test_a_number_for_the_image_tag_is_refused(helm_name: str) -> None:
    # --set-json keeps the type; an unquoted `tag: 1.0` in a values file is the usual slip.
    err = refusal(*template_args(DEV), "--set-json", "image.tag=1.0", helm_name=helm_name)
    assert "at '/image/tag': got number, want string" in err


@pytest.mark.parametrize("helm_name", HELMS)
def test_an_unknown_top_level_key_is_refused(helm_name: str) -> None:
    err = refusal(*template_args(DEV, ["walet.replicaCount=1"]), helm_name=helm_name)
    assert "additional properties 'walet' not allowed" in err


@pytest.mark.parametrize("helm_name", HELMS)
def test_a_misspelt_key_inside_a_component_is_refused(helm_name: str) -> None:
    err = refusal(*template_args(DEV, ["wallet.replicas=3"]), helm_name=helm_name)
    assert "additional properties 'replicas' not allowed" in err


@pytest.mark.parametrize("helm_name", HELMS)
def test_no_postgresql_configured_is_refused_with_what_to_set(helm_name: str) -> None:
    err = refusal(*template_args(sets=[KEYS, "redis.enabled=true"]), helm_name=helm_name)
    assert (
        "no PostgreSQL configured: set externalPostgresql.host (with "
        "externalPostgresql.existingSecret) for your own server, or postgresql.enabled=true "
        "for an in-chart development one"
    ) in err


@pytest.mark.parametrize("helm_name", HELMS)
def test_no_redis_configured_is_refused_with_what_to_set(helm_name: str) -> None:
    err = refusal(*template_args(sets=[KEYS, "postgresql.enabled=true"]), helm_name=helm_name)
    assert (
        "no Redis configured: set externalRedis.host for your own server, or "
        "redis.enabled=true for an in-chart development one"
    ) in err


def test_both_in_chart_and_external_is_refused() -> None:
    err = refusal(*template_args(DEV, ["externalRedis.host=redis.example"]))
    assert "Redis is configured twice" in err


def test_an_external_postgresql_without_its_passwords_is_refused() -> None:
    err = refusal(*template_args(sets=[KEYS, "externalPostgresql.host=pg", "redis.enabled=true"]))
    assert "externalPostgresql.existingSecret must name a Secret" in err


def test_two_standalone_operators_are_refused() -> None:
    err = refusal(*template_args(DEV, ["operator.replicaCount=2"]))
    assert "operator.replicaCount > 1 needs operator.peering.enabled" in err


def test_a_bad_pull_policy_is_refused() -> None:
    err = refusal(*template_args(DEV, ["image.pullPolicy=Sometimes"]))
    assert "/image/pullPolicy" in err


def test_the_defaults_of_the_dev_scenario_pass_the_schema() -> None:
    assert render(DEV)


def _schema_keys(node: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> set[str]:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    found = set()
    for key, sub in node.get("properties", {}).items():
        found.add(prefix + key)
        found |= _schema_keys(sub, defs, f"{prefix}{key}.")
    return found


def _value_keys(node: object, prefix: str = "") -> set[str]:
    if not isinstance(node, dict) or not node:
        return set()
    found = set()
    for key, sub in node.items():
        found.add(prefix + key)
        found |= _value_keys(sub, f"{prefix}{key}.")
    return found


def test_the_schema_knows_every_key_of_values_yaml() -> None:
    # So the schema cannot fall behind values.yaml: a key it does not know would be
    # refused as unknown (closed objects) or pass unchecked (open ones).
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = {"podSecurityContext", "containerSecurityContext"}
    missing = {
        key
        for key in _value_keys(values) - _schema_keys(schema, schema["$defs"])
        if key.split(".")[0] not in open_objects
        and not any(part in key.split(".") for part in ("resources", "namespaceSelector"))
        and ".podSelector" not in key
        and not key.startswith("networkPolicy.dns")
    }
    assert missing == set()
