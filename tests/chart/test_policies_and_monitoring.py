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
        if component in ("wallet", "bank", "notifier", "operator"):
            assert found == [["http"]], component  # /metrics answers on that port today
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
    assert {who for who, _ in sources(bank)} - {"wallet", "operator", "test"} == {
        json.dumps({"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, sort_keys=True)
    }


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
        assert monitor["spec"]["endpoints"][0] == {
            "port": "http",
            "path": "/metrics",
            "interval": "30s",
            "scrapeTimeout": "10s",
        }
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
    assert set(pods) == {"ready", "internal-refused", "migrations", "redis"}
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
    assert "/internal/v1/" in refused["args"][2]
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
    assert len(secrets) == 5  # jwt, session and code keys; PostgreSQL's and Redis's passwords
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
