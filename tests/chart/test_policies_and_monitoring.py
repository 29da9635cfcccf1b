"""NetworkPolicies, monitoring objects, `helm test` pods and NOTES as rendered."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import (
    CHART,
    NAMESPACE,
    RELEASE,
    helm,
    named,
    of_kind,
    render,
    scenario,
    tools,
)

DEV = [scenario("default")]
PREFIX = f"{RELEASE}-vellet"


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render(DEV)


def sources(policy: dict[str, Any]) -> list[tuple[str, Any]]:
    """(component label or namespace selector, ports) for every ingress peer."""
    found = []
    for rule in policy["spec"].get("ingress", []):
        ports = sorted(str(p["port"]) for p in rule["ports"])
        for peer in rule["from"]:
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            who = labels.get("app.kubernetes.io/component") or json.dumps(
                peer.get("namespaceSelector"), sort_keys=True
            )
            found.append((who, ports))
    return found


def test_every_pod_is_selected_by_a_policy_that_denies_by_default(
    dev: list[dict[str, Any]],
) -> None:
    policies = of_kind(dev, "NetworkPolicy")
    selected = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in policies
    }
    assert selected == {"wallet", "bank", "notifier", "operator", "postgresql", "redis", "test"}
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_only_the_wallet_is_reachable_from_the_ingress_controller(
    dev: list[dict[str, Any]],
) -> None:
    controller = json.dumps(
        {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}, sort_keys=True
    )
    reached = {
        p["metadata"]["name"]
        for p in of_kind(dev, "NetworkPolicy")
        if any(who == controller for who, _ in sources(p))
    }
    assert reached == {f"{PREFIX}-wallet"}
    wallet = named(dev, "NetworkPolicy", f"{PREFIX}-wallet")
    assert (controller, ["http"]) in sources(wallet)


def test_prometheus_reaches_the_metrics_ports_of_the_components_only(
    dev: list[dict[str, Any]],
) -> None:
    prometheus = json.dumps(
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, sort_keys=True
    )
    for policy in of_kind(dev, "NetworkPolicy"):
        found = [ports for who, ports in sources(policy) if who == prometheus]
        component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        if component in ("wallet", "bank"):
            assert found == [["internal"]], component  # /metrics is on the internal port
        elif component in ("notifier", "operator"):
            assert found == [["http"]], component  # their one port: health and metrics
        else:
            assert found == [], component


def test_the_databases_are_reached_by_vellet_alone(dev: list[dict[str, Any]]) -> None:
    pg = named(dev, "NetworkPolicy", f"{PREFIX}-postgresql")
    assert {who for who, _ in sources(pg)} == {"wallet", "bank", "test"}
    redis = named(dev, "NetworkPolicy", f"{PREFIX}-redis")
    assert {who for who, _ in sources(redis)} == {"wallet", "bank", "notifier", "test"}
    assert pg["spec"]["egress"] == []
    assert redis["spec"]["egress"] == []


def test_the_bank_is_reached_by_the_wallet_operator_tests_and_prometheus(
    dev: list[dict[str, Any]],
) -> None:
    bank = named(dev, "NetworkPolicy", f"{PREFIX}-bank")
    prometheus = json.dumps(
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, sort_keys=True
    )
    # The admin routes' port (internal) lets in Prometheus alone: no service opens accounts.
    assert sorted(sources(bank)) == sorted(
        [("wallet", ["http"]), ("operator", ["http"]), ("test", ["http"]),
         (prometheus, ["internal"])]
    )  # fmt: skip


def test_the_wallets_internal_port_is_the_operators_and_prometheuss_alone(
    dev: list[dict[str, Any]],
) -> None:
    wallet = named(dev, "NetworkPolicy", f"{PREFIX}-wallet")
    prometheus = json.dumps(
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, sort_keys=True
    )
    internal = {who for who, ports in sources(wallet) if "internal" in ports}
    assert internal == {"operator", "test", prometheus}
    controller = json.dumps(
        {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}, sort_keys=True
    )
    public = {who for who, ports in sources(wallet) if "http" in ports}
    assert public == {controller, "test"}
    # The operator's egress reaches the wallet's internal port, not its public one.
    egress = named(dev, "NetworkPolicy", f"{PREFIX}-operator")["spec"]["egress"]
    to_wallet = [
        rule["ports"]
        for rule in egress
        for peer in rule.get("to", [])
        if peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        == "wallet"
    ]
    assert to_wallet == [[{"protocol": "TCP", "port": 9080}]]


def test_the_services_expose_the_internal_ports_and_the_ingress_the_public_one() -> None:
    docs = render([scenario("external")])  # the scenario with an ingress
    for component, public, internal in (("wallet", 8080, 9080), ("bank", 8081, 9081)):
        service = named(docs, "Service", f"{PREFIX}-{component}")
        assert service["spec"]["ports"] == [
            {"name": "http", "port": public, "targetPort": "http", "protocol": "TCP"},
            {"name": "internal", "port": internal, "targetPort": "internal", "protocol": "TCP"},
        ], component
        (container,) = named(docs, "Deployment", f"{PREFIX}-{component}")["spec"]["template"][
            "spec"
        ]["containers"]
        assert container["ports"] == [
            {"name": "http", "containerPort": public, "protocol": "TCP"},
            {"name": "internal", "containerPort": internal, "protocol": "TCP"},
        ], component
        # Kubelet probes stay on the public port, where health is served.
        assert container["readinessProbe"]["httpGet"]["port"] == "http"
        assert container["livenessProbe"]["httpGet"]["port"] == "http"
    for component in ("notifier", "operator"):
        service = named(docs, "Service", f"{PREFIX}-{component}")
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"], component
    (ingress,) = of_kind(docs, "Ingress")
    backends = [
        (path["path"], path["backend"]["service"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends
    for path, backend in backends:
        assert path == "/api/v1"
        assert backend == {"name": f"{PREFIX}-wallet", "port": {"name": "http"}}
    config = named(docs, "ConfigMap", f"{PREFIX}-operator")["data"]
    assert config["VELLET_WALLET_INTERNAL_URL"] == f"http://{PREFIX}-wallet:9080"
    assert named(docs, "ConfigMap", f"{PREFIX}-wallet")["data"]["VELLET_WALLET_INTERNAL_PORT"] == (
        "9080"
    )
    assert named(docs, "ConfigMap", f"{PREFIX}-bank")["data"]["VELLET_BANK_INTERNAL_PORT"] == "9081"


def test_the_bank_and_the_notifier_reach_the_smtp_relay() -> None:
    """The bank mails sign-up codes: without this egress rule an enforcing CNI (kindnet,
    Calico, Cilium) silently drops them and no newcomer can sign up."""
    peers = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vellet-mail-sink"}}}]
    docs = render(
        DEV,
        [
            "notifier.smtp.port=1025",
            "networkPolicy.smtp[0].podSelector.matchLabels"
            ".app\\.kubernetes\\.io/name=vellet-mail-sink",
        ],
    )
    for component in ("bank", "notifier"):
        egress = named(docs, "NetworkPolicy", f"{PREFIX}-{component}")["spec"]["egress"]
        assert {"to": peers, "ports": [{"protocol": "TCP", "port": 1025}]} in egress, component


def test_external_servers_are_reached_where_the_values_say() -> None:
    docs = render([scenario("external")])
    egress = named(docs, "NetworkPolicy", f"{PREFIX}-wallet")["spec"]["egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    } in egress
    assert {
        "to": [{"ipBlock": {"cidr": "10.21.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 6380}],
    } in egress


def test_policies_can_be_switched_off() -> None:
    assert not of_kind(render(DEV, ["networkPolicy.enabled=false"]), "NetworkPolicy")


def test_monitoring_is_off_by_default(dev: list[dict[str, Any]]) -> None:
    assert not [d for d in dev if d["kind"] in ("ServiceMonitor", "PrometheusRule")]
    assert not [
        d for d in of_kind(dev, "ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]
    ]


def test_monitoring_objects_carry_the_release_label_and_every_file() -> None:
    docs = render([scenario("monitoring")])
    monitors = of_kind(docs, "ServiceMonitor")
    assert len(monitors) == 4
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        component = monitor["metadata"]["name"].removeprefix(f"{PREFIX}-")
        assert monitor["spec"]["endpoints"][0] == {
            "port": "internal" if component in ("wallet", "bank") else "http",
            "path": "/metrics",
            "interval": "30s",
            "scrapeTimeout": "10s",
        }, component
    (rule,) = of_kind(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    shipped = [
        group
        for path in sorted((CHART / "files" / "alerts").glob("*.yaml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == shipped
    dashboards = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    files = sorted(p.name for p in (CHART / "files" / "dashboards").glob("*.json"))
    assert sorted(k for d in dashboards for k in d["data"]) == files
    for dashboard in dashboards:
        assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Vellet"}
        for body in dashboard["data"].values():
            parsed = json.loads(body)
            variables = {v["name"]: v for v in parsed["templating"]["list"]}
            assert variables["datasource"]["type"] == "datasource"
            queried = [panel for panel in parsed["panels"] if panel.get("targets")]
            assert queried
            for panel in queried:  # rows group panels and query nothing
                assert panel["datasource"]["uid"] == "${datasource}"


def test_the_rendered_alert_rules_pass_promtool(tmp_path: Path) -> None:
    tools()  # promtool comes with Debian's prometheus package
    (rule,) = of_kind(render([scenario("monitoring")]), "PrometheusRule")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_helm_test_pods_run_real_checks_in_the_vellet_image(dev: list[dict[str, Any]]) -> None:
    pods = {p["metadata"]["name"].removeprefix(f"{PREFIX}-test-"): p for p in of_kind(dev, "Pod")}
    assert set(pods) == {"ready", "internal-refused", "public-absent", "migrations", "redis"}
    for pod in pods.values():
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        for container in pod["spec"]["containers"]:
            assert container["image"] == "ghcr.io/vellet/vellet:0.1.0"
            assert container["args"][0] == "check"
    (ready,) = pods["ready"]["spec"]["containers"]
    assert ready["args"][2:] == [
        f"http://{PREFIX}-{c}:{port}/readyz"
        for c, port in (("wallet", 8080), ("bank", 8081), ("notifier", 8083), ("operator", 8084))
    ]
    (refused,) = pods["internal-refused"]["spec"]["containers"]
    assert refused["args"][:2] == ["check", "refused"]
    assert refused["args"][2].startswith(f"http://{PREFIX}-wallet:9080/internal/v1/")
    (absent,) = pods["public-absent"]["spec"]["containers"]
    assert absent["args"][:2] == ["check", "absent"]
    assert [url.split("?")[0] for url in absent["args"][2:]] == [
        f"http://{PREFIX}-wallet:8080/internal/v1/transfers",
        f"http://{PREFIX}-wallet:8080/metrics",
    ]
    # Each database is checked with its own user's password: one container per component.
    names = [c["name"] for c in pods["migrations"]["spec"]["containers"]]
    assert names == ["migrations-bank", "migrations-wallet"]


def notes(*args: str) -> str:
    # Helm 4 renders NOTES in a client-side dry run with no cluster at all.
    result = helm(
        "helm4", "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", *args
    )
    assert result.code == 0, result.err
    return result.out.split("NOTES:", 1)[1]


def test_notes_say_how_to_reach_the_wallet_and_apply_a_transfer() -> None:
    text = notes("-f", str(scenario("default")))
    assert f"port-forward svc/{PREFIX}-wallet 8080:8080" in text
    assert "kind: Transfer" in text
    assert "kubectl -n vellet apply -f -" in text
    assert "kept on `helm uninstall`" in text
    with_ingress = notes("-f", str(scenario("external")))
    assert "https://wallet.example.com/api/v1" in with_ingress


def test_notes_and_configmaps_never_carry_a_secret() -> None:
    result = helm(
        "helm4",
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--dry-run=client",
        "-f",
        str(scenario("default")),
    )
    manifests, text = result.out.split("NOTES:", 1)
    secrets = [
        value
        for doc in yaml.safe_load_all(manifests.split("MANIFEST:", 1)[1])
        if doc and doc["kind"] == "Secret"
        for value in doc["data"].values()
    ]
    # session and code keys; PostgreSQL's password; Redis's four passwords and ACL file
    assert len(secrets) == 8
    for value in secrets:
        assert value not in text
        assert base64.b64decode(value).decode() not in text
    configmaps = [d for d in render(DEV) if d["kind"] == "ConfigMap"]
    assert not [k for d in configmaps for k in d["data"] if "SECRET" in k or "PASSWORD" in k]


def test_dashboards_and_alerts_use_only_metrics_vellet_exports() -> None:
    import re

    from tests.chart.helm import ROOT

    code = "".join(
        path.read_text()
        for base in ("src/vellet/common", "services", "operator")
        for path in (ROOT / base).rglob("*.py")
    )
    exported = set(re.findall(r"[\"'](vellet_[a-z_]+)[\"']", code))
    used = set()
    for path in [*(CHART / "files").rglob("*.json"), *(CHART / "files").rglob("*.yaml")]:
        if "crds" not in path.parts:
            used |= set(
                re.findall(r"\b(vellet_[a-z_]+?)(?:_bucket|_sum|_count)?\b", path.read_text())
            )
    assert used
    assert used - exported == set()
