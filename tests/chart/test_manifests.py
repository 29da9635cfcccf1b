"""What the rendered manifests promise: security, one shape per component, the operator's
RBAC and strategy, migrations as init containers, config checksums, ingress paths."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import NAMESPACE, RELEASE, named, of_kind, render, scenario

DEV = [scenario("default")]
COMPONENTS = ("wallet", "bank", "notifier", "operator")
PREFIX = f"{RELEASE}-vellet"


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    ]
    return found + [(d["metadata"]["name"], d["spec"]) for d in of_kind(docs, "Pod")]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render(DEV)


@pytest.mark.parametrize("name", ["default", "external", "monitoring", "hardened-ha"])
def test_every_pod_runs_locked_down(name: str) -> None:
    for pod, spec in pod_specs(render([scenario(name)])):
        ctx = spec["securityContext"]
        assert ctx["runAsNonRoot"] is True, pod
        assert isinstance(ctx["runAsUser"], int), pod
        assert ctx["runAsUser"] > 10000, pod
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, pod
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (pod, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (pod, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (pod, c["name"])
            assert "/tmp" in [m["mountPath"] for m in c.get("volumeMounts", [])], (pod, c["name"])


def test_only_the_operator_gets_a_service_account_token(dev: list[dict[str, Any]]) -> None:
    mounted = {n for n, spec in pod_specs(dev) if spec.get("automountServiceAccountToken")}
    assert mounted == {f"{PREFIX}-operator"}
    accounts = {
        a["metadata"]["name"]: a["automountServiceAccountToken"]
        for a in of_kind(dev, "ServiceAccount")
    }
    assert accounts == {f"{PREFIX}-{c}": c == "operator" for c in COMPONENTS}


def test_every_component_has_the_same_shape(dev: list[dict[str, Any]]) -> None:
    for component in COMPONENTS:
        name = f"{PREFIX}-{component}"
        deployment = named(dev, "Deployment", name)
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["args"][0] == component
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["limits"]["memory"]
        assert "checksum/config" in pod["metadata"]["annotations"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == component
        assert named(dev, "Service", name)["spec"]["ports"][0]["targetPort"] == "http"
        assert named(dev, "ConfigMap", name)
        assert named(dev, "NetworkPolicy", name)
        assert env_of(container)["VELLET_CONSUMER_NAME"] == {
            "fieldRef": {"fieldPath": "metadata.name"}
        }


def test_the_operator_is_one_replica_recreated_with_no_readiness(dev: list[dict[str, Any]]) -> None:
    operator = named(dev, "Deployment", f"{PREFIX}-operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    assert "readinessProbe" not in operator["spec"]["template"]["spec"]["containers"][0]
    config = named(dev, "ConfigMap", f"{PREFIX}-operator")["data"]
    assert config["VELLET_OPERATOR_PEERING"] == ""
    assert config["VELLET_OPERATOR_SWEEP_API_TRANSFERS"] == "true"
    assert config["VELLET_OPERATOR_NAMESPACES"] == NAMESPACE


def test_in_the_cluster_the_operator_not_the_wallet_re_drives(dev: list[dict[str, Any]]) -> None:
    assert (
        named(dev, "ConfigMap", f"{PREFIX}-wallet")["data"]["VELLET_WALLET_RECONCILER"] == "false"
    )
    alone = render(DEV, ["operator.enabled=false"])
    assert (
        named(alone, "ConfigMap", f"{PREFIX}-wallet")["data"]["VELLET_WALLET_RECONCILER"] == "true"
    )
    assert not [d for d in alone if d["kind"] in ("Role", "ClusterRole")]


def rules(role: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (group, resource, tuple(rule["verbs"]))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


KOPF_NAMESPACED = {
    ("vellet.io", "transfers", ("get", "list", "watch", "patch")),
    ("vellet.io", "transfers/status", ("get", "patch")),
    # Read only: a Transfer may debit only accounts an administrator bound to its namespace.
    ("vellet.io", "accountbindings", ("get", "list", "watch")),
    ("", "events", ("create",)),
}
KOPF_CLUSTER = {
    ("", "namespaces", ("list", "watch")),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
}


def test_listed_namespaces_get_roles_and_nothing_cluster_wide() -> None:
    docs = render(DEV, ["operator.watch.namespaces={payments,treasury}"])
    assert not of_kind(docs, "ClusterRole")
    assert not of_kind(docs, "ClusterRoleBinding")
    roles = of_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "treasury"]
    for role in roles:
        assert rules(role) == KOPF_NAMESPACED
    bindings = of_kind(docs, "RoleBinding")
    assert {b["subjects"][0]["namespace"] for b in bindings} == {NAMESPACE}
    config = named(docs, "ConfigMap", f"{PREFIX}-operator")["data"]
    assert config["VELLET_OPERATOR_NAMESPACES"] == "payments,treasury"


def test_cluster_wide_gets_one_cluster_role_with_namespace_and_crd_watches() -> None:
    docs = render(DEV, ["operator.watch.clusterWide=true"])
    assert not of_kind(docs, "Role")
    (role,) = of_kind(docs, "ClusterRole")
    assert rules(role) == KOPF_NAMESPACED | KOPF_CLUSTER
    assert (
        named(docs, "ConfigMap", f"{PREFIX}-operator")["data"]["VELLET_OPERATOR_NAMESPACES"] == "*"
    )


def test_peering_objects_and_their_rights_only_with_peering(dev: list[dict[str, Any]]) -> None:
    assert not [r for r in rules(of_kind(dev, "Role")[0]) if r[0] == "kopf.dev"]
    docs = render(DEV, ["operator.peering.enabled=true", "operator.replicaCount=2"])
    assert ("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch")) in rules(
        of_kind(docs, "Role")[0]
    )
    (peering,) = of_kind(docs, "KopfPeering")
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    operator = named(docs, "Deployment", f"{PREFIX}-operator")
    assert operator["spec"]["strategy"] == {"type": "RollingUpdate"}
    config = named(docs, "ConfigMap", f"{PREFIX}-operator")["data"]
    assert config["VELLET_OPERATOR_PEERING"] == "vellet-operator"


def test_migrations_run_as_init_containers_not_hooks(dev: list[dict[str, Any]]) -> None:
    for component in ("wallet", "bank"):
        spec = named(dev, "Deployment", f"{PREFIX}-{component}")["spec"]["template"]["spec"]
        assert [c["args"] for c in spec["initContainers"]] == [[component, "migrate"]]
    hooks = {
        d["metadata"].get("annotations", {}).get("helm.sh/hook") for d in dev if d["kind"] != "Pod"
    }
    assert hooks == {None}


def test_pods_roll_when_and_only_when_their_config_changes(dev: list[dict[str, Any]]) -> None:
    def checksums(docs: list[dict[str, Any]]) -> dict[str, str]:
        return {
            d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for d in of_kind(docs, "Deployment")
        }

    before, after = checksums(dev), checksums(render(DEV, ["wallet.poolSize=30"]))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {f"{PREFIX}-wallet"}


def test_the_ingress_routes_the_public_api_only() -> None:
    docs = render([scenario("external")])
    (ingress,) = of_kind(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/api/v1", "Prefix")]
    assert paths[0]["backend"]["service"] == {"name": f"{PREFIX}-wallet", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "wallet-example-com-tls"


def test_external_dependencies_take_every_password_from_existing_secrets() -> None:
    docs = render([scenario("external")])
    assert not of_kind(docs, "Secret")
    assert not of_kind(docs, "StatefulSet")
    wallet = named(docs, "Deployment", f"{PREFIX}-wallet")["spec"]["template"]["spec"]
    env = env_of(wallet["containers"][0])
    assert env["PGPASSWORD"] == {
        "secretKeyRef": {"name": "vellet-db-passwords", "key": "wallet-password"}
    }
    assert env["VELLET_WALLET_DATABASE_URL"] == (
        "postgresql://vellet_wallet@pg.db.svc.cluster.local:5432/vellet_wallet"
        "?sslmode=verify-full&sslrootcert=/etc/vellet/postgresql-ca/ca.crt"
    )
    assert env["VELLET_REDIS_URL"] == (
        "rediss://wallet:$(VELLET_REDIS_PASSWORD)@redis.db.svc.cluster.local:6380/0"
        "?ssl_cert_reqs=required&ssl_ca_certs=/etc/vellet/redis-ca/ca.crt"
    )
    assert env["VELLET_SESSION_SECRET"]["secretKeyRef"]["name"] == "vellet-app-secrets"
    bank = named(docs, "Deployment", f"{PREFIX}-bank")["spec"]["template"]["spec"]
    assert env_of(bank["containers"][0])["PGPASSWORD"]["secretKeyRef"]["key"] == "bank-password"
    assert "VELLET_SESSION_SECRET" not in env_of(bank["containers"][0])


def test_in_chart_redis_keeps_an_aof_and_evicts_only_keys_with_a_ttl(
    dev: list[dict[str, Any]],
) -> None:
    redis = named(dev, "StatefulSet", f"{PREFIX}-redis")["spec"]["template"]["spec"]
    args = redis["containers"][0]["args"]
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs["--appendonly"] == "yes"
    assert pairs["--maxmemory-policy"] == "volatile-lru"
    assert pairs["--aclfile"] == "/etc/redis/acl/users.acl"


def test_in_chart_postgresql_makes_the_two_databases(dev: list[dict[str, Any]]) -> None:
    init = named(dev, "ConfigMap", f"{PREFIX}-postgresql-init")["data"]["10-databases.sql"]
    assert "CREATE DATABASE vellet_bank" in init
    assert "CREATE DATABASE vellet_wallet" in init


def test_hpas_and_pdbs_in_the_ha_scenario() -> None:
    docs = render([scenario("hardened-ha")])
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")}
    assert hpas == {f"{PREFIX}-wallet", f"{PREFIX}-bank"}
    pdbs = {p["metadata"]["name"] for p in of_kind(docs, "PodDisruptionBudget")}
    assert pdbs == {f"{PREFIX}-{c}" for c in COMPONENTS}
    wallet = named(docs, "Deployment", f"{PREFIX}-wallet")
    assert "replicas" not in wallet["spec"]  # the HPA owns it
    spread = wallet["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "wallet"
    image = wallet["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/vellet/vellet@sha256:" + "0" * 64


def test_the_crd_can_be_left_out_and_is_kept_otherwise(dev: list[dict[str, Any]]) -> None:
    crds = of_kind(dev, "CustomResourceDefinition")
    assert len(crds) == 2  # Transfer and AccountBinding
    for crd in crds:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    without = render(DEV, ["crds.create=false"])
    assert not of_kind(without, "CustomResourceDefinition")
    assert not of_kind(without, "ValidatingAdmissionPolicy")
