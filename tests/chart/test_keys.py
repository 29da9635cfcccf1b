"""Service keys in the chart: a Secret the user makes, and each pod only its own share.

The roles are the ones ``vellet up`` hands out (``keyfiles.ROLES``): if a pod
mounted one key more -- the bank-admin private key above all -- the rendered
manifests would show it here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import (
    HELMS,
    SCENARIOS,
    of_kind,
    refusal,
    render,
    render_text,
    scenario,
    template_args,
)
from vellet.common import keyfiles, keys

DEV = [scenario("default")]


def _files(service: str) -> set[str]:
    own, trusts = keyfiles.ROLES[service]
    return ({keyfiles.private_file(own)} if own else set()) | {
        keyfiles.public_file(s) for s in trusts
    }


def _component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_each_pod_mounts_only_its_own_private_key_and_the_public_keys_it_trusts(
    values: Any,
) -> None:
    deployments = of_kind(render([values]), "Deployment")
    seen = set()
    for deployment in deployments:
        service = _component(deployment)
        if service not in keyfiles.ROLES:
            continue  # PostgreSQL, Redis: no Vellet key
        seen.add(service)
        spec = deployment["spec"]["template"]["spec"]
        [volume] = [v for v in spec["volumes"] if v["name"] == "keys"]
        assert volume["secret"]["secretName"] == "vellet-keys"
        assert {i["key"] for i in volume["secret"]["items"]} == _files(service)
        for container in spec["containers"] + spec.get("initContainers", []):
            named = {e["name"]: e.get("value") for e in container["env"]}
            key_vars = {n: v for n, v in named.items() if keyfiles.is_key_variable(n)}
            own, trusts = keyfiles.ROLES[service]
            expected = {f"{keys.public_key_var(s)}_FILE" for s in trusts}
            expected |= {f"{keys.private_key_var(own)}_FILE"} if own else set()
            assert set(key_vars) == expected, container["name"]
            assert {v.rsplit("/", 1)[1] for v in key_vars.values()} == _files(service)
            [mount] = [m for m in container["volumeMounts"] if m["name"] == "keys"]
            assert (mount["mountPath"], mount["readOnly"]) == ("/etc/vellet/keys", True)
    assert seen == set(keyfiles.ROLES)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_no_manifest_names_the_admin_private_key_or_the_old_shared_secret(values: Any) -> None:
    text = render_text("helm3", [values])
    assert "bank-admin.key" not in text
    assert "VELLET_BANK_ADMIN_KEY" not in text
    assert "jwt-secret" not in text
    assert "VELLET_JWT" not in text


@pytest.mark.parametrize("helm_name", HELMS)
def test_no_keys_secret_is_refused_with_what_to_set(helm_name: str) -> None:
    err = refusal(*template_args(DEV, ["keys.existingSecret="]), helm_name=helm_name)
    assert "/keys/existingSecret" in err


def test_without_the_schema_the_template_says_how_to_make_the_secret() -> None:
    args = template_args(DEV, ["keys.existingSecret="])
    err = refusal(*args, "--skip-schema-validation")
    assert "keys.existingSecret must name the Secret with the service keys" in err
    assert "vellet keys generate --kubernetes-secret" in err


def test_the_secret_names_vellet_keys_generate_prints_are_the_ones_pods_mount() -> None:
    printed = set(keyfiles.secret_files(keyfiles.generate_all()))
    mounted = set().union(*(_files(s) for s in keyfiles.ROLES))
    assert mounted <= printed
    assert "bank-admin.key" not in printed
