"""The kind target (opt-in: ``pytest -m kind``): a real Kubernetes cluster.

``kind create cluster`` (or the cluster named by VELLET_KIND_CLUSTER, as the GitHub
workflow's helm/kind-action makes it), the image built with docker and ``kind load``ed,
ingress-nginx (pinned), the mail sink, the service keys' Secret (``vellet keys generate
--kubernetes-secret``), ``helm install --wait`` with the in-chart
PostgreSQL and Redis, then ``helm test``. The scenarios reach the wallet through
``kubectl port-forward`` and through the ingress (the node's port 80 on 127.0.0.1:18080).
When a scenario failed, the namespace's events and every pod's logs are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import yaml

from tests.e2e.targets.base import (
    KEYS_SECRET,
    KUBECTL,
    NAMESPACE,
    RELEASE,
    ROOT,
    TOOLS,
    VALUES,
    Target,
    keys_secret,
)

CLUSTER = os.environ.get("VELLET_KIND_CLUSTER", "vellet-e2e")
#: The node image kind v0.30.0 was released with (Kubernetes 1.34), by digest.
NODE_IMAGE = os.environ.get(
    "KIND_NODE_IMAGE",
    "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a",
)
INGRESS_NGINX = (
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/"
    "deploy/static/provider/kind/deploy.yaml"
)
IMAGE = "localhost/vellet:kind-e2e"
INGRESS_URL = "http://127.0.0.1:18080"  # tests/e2e/kind/cluster.yaml's port mapping
FORWARDS = {"wallet": 8080, "bank": 8081, "notifier": 8083, "operator": 8084}


def _tool(name: str) -> str | None:
    local = {"kubectl": KUBECTL, "helm": TOOLS / "helm3"}.get(name)
    if local is not None and local.exists():
        return str(local)
    return shutil.which(name)


def missing() -> str | None:
    """Why the kind target cannot run here (None: it can)."""
    gone = [t for t in ("docker", "kind", "helm", "kubectl") if _tool(t) is None]
    if gone:
        return f"the kind target needs {', '.join(gone)} (not found on this machine)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "the kind target needs a running Docker engine (`docker info` failed)"
    return None


def sh(*args: str, stdin: str | None = None, timeout: float = 900) -> str:
    tool = _tool(args[0]) or args[0]
    done = subprocess.run(
        [tool, *args[1:]], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


class KindTarget(Target):
    forwards: dict[str, subprocess.Popen[bytes]]

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return sh(
            "kubectl", "--kubeconfig", str(self.kubeconfig), "-n", NAMESPACE, *args, stdin=stdin
        )

    def forward(self, name: str, service: str, port: int, local: int) -> str:
        old = self.forwards.pop(name, None)
        if old is not None:
            old.kill()
            old.wait()
        self.forwards[name] = subprocess.Popen(
            [
                _tool("kubectl") or "kubectl",
                "--kubeconfig",
                str(self.kubeconfig),
                "-n",
                NAMESPACE,
                "port-forward",
                f"svc/{service}",
                f"{local}:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return f"http://127.0.0.1:{local}"

    async def component_urls(self) -> dict[str, str]:
        return dict(self.components)

    async def stop_bank(self) -> None:
        await asyncio.to_thread(self.kubectl, "scale", f"deploy/{RELEASE}-bank", "--replicas=0")
        # `kubectl wait --for=delete` fails when nothing matches any more: gone already.
        with contextlib.suppress(AssertionError):
            await asyncio.to_thread(
                self.kubectl,
                "wait",
                "--for=delete",
                "pod",
                "-l",
                "app.kubernetes.io/component=bank",
                "--timeout=120s",
            )

    async def start_bank(self) -> None:
        await asyncio.to_thread(self.kubectl, "scale", f"deploy/{RELEASE}-bank", "--replicas=1")
        await asyncio.to_thread(
            self.kubectl, "rollout", "status", f"deploy/{RELEASE}-bank", "--timeout=300s"
        )
        self.components["bank"] = self.forward("bank", f"{RELEASE}-bank", 8081, 18181)

    async def restart_redis(self) -> None:
        await asyncio.to_thread(self.kubectl, "delete", "pod", f"{RELEASE}-redis-0", "--wait=true")
        await asyncio.to_thread(
            self.kubectl, "rollout", "status", f"statefulset/{RELEASE}-redis", "--timeout=300s"
        )

    async def lose_bank_requests(self) -> None:
        await asyncio.to_thread(
            self.kubectl,
            "exec",
            f"{RELEASE}-redis-0",
            "--",
            # As Redis's administrator (REDISCLI_AUTH in its container): no service's user may.
            "redis-cli",
            "--user",
            "admin",
            "XTRIM",
            "vellet:bank:requests",
            "MAXLEN",
            "0",
        )

    async def kill_operator(self) -> None:
        await asyncio.to_thread(
            self.kubectl,
            "delete",
            "pod",
            "-l",
            "app.kubernetes.io/component=operator",
            "--grace-period=0",
            "--force",
        )
        await asyncio.to_thread(
            self.kubectl, "rollout", "status", f"deploy/{RELEASE}-operator", "--timeout=300s"
        )

    async def bank_audit(self) -> str:
        return await asyncio.to_thread(
            self.kubectl, "exec", f"deploy/{RELEASE}-bank", "--", "vellet", "bank", "audit"
        )

    async def bind(self, *accounts: str) -> None:
        doc = (
            "apiVersion: vellet.io/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: vellet\n"
            f"spec:\n  accounts: [{', '.join(repr(a) for a in accounts)}]\n"
        )
        await asyncio.to_thread(self.kubectl, "apply", "-f", "-", stdin=doc)

    def dump(self) -> str:
        out = [self.kubectl("get", "events", "--sort-by=.lastTimestamp")]
        for pod in self.kubectl("get", "pods", "-o", "name").split():
            with contextlib.suppress(AssertionError):
                out.append(
                    f"--- {pod}\n" + self.kubectl("logs", pod, "--all-containers", "--tail=200")
                )
        return "\n".join(out)


def _up(tmp: Path) -> tuple[KindTarget, bool]:
    created = CLUSTER not in sh("kind", "get", "clusters").split()
    if created:
        sh(
            "kind",
            "create",
            "cluster",
            "--name",
            CLUSTER,
            "--image",
            NODE_IMAGE,
            "--config",
            str(ROOT / "tests/e2e/kind/cluster.yaml"),
            "--wait",
            "180s",
        )
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(sh("kind", "get", "kubeconfig", "--name", CLUSTER))
    sh("docker", "build", "-t", IMAGE, str(ROOT), timeout=1800)
    sh("kind", "load", "docker-image", IMAGE, "--name", CLUSTER)
    kube = ["kubectl", "--kubeconfig", str(kubeconfig)]
    sh(*kube, "apply", "-f", INGRESS_NGINX)
    sh(
        *kube,
        "-n",
        "ingress-nginx",
        "wait",
        "--for=condition=Available",
        "deploy/ingress-nginx-controller",
        "--timeout=300s",
    )
    with contextlib.suppress(AssertionError):
        sh(*kube, "create", "namespace", NAMESPACE)
    # The service keys' Secret the chart requires, as a user makes it (the real CLI); kept
    # across reruns on a reused cluster, since `helm upgrade` keeps the pods' keys too.
    if subprocess.run(
        [_tool("kubectl") or "kubectl", "--kubeconfig", str(kubeconfig), "-n", NAMESPACE,
         "get", "secret", KEYS_SECRET], capture_output=True, check=False,
    ).returncode != 0:  # fmt: skip
        sh(*kube, "-n", NAMESPACE, "apply", "-f", "-", stdin=yaml.safe_dump(keys_secret()))
    sink = (
        (ROOT / "k8s/dev/mail-sink.yaml").read_text().replace("ghcr.io/vellet/vellet:0.1.0", IMAGE)
    )
    sh(*kube, "-n", NAMESPACE, "apply", "-f", "-", stdin=sink)
    repository, tag = IMAGE.rsplit(":", 1)
    values = [a for v in VALUES for a in ("-f", str(v))]
    sh(
        "helm",
        "--kubeconfig",
        str(kubeconfig),
        "upgrade",
        "--install",
        RELEASE,
        str(ROOT / "charts/vellet"),
        "-n",
        NAMESPACE,
        *values,
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        "--wait",
        "--timeout",
        "10m",
        timeout=900,
    )
    sh(
        "helm",
        "--kubeconfig",
        str(kubeconfig),
        "test",
        RELEASE,
        "-n",
        NAMESPACE,
        "--logs",
        timeout=600,
    )
    target = KindTarget(
        name="kind", wallet="", ingress=INGRESS_URL, sink="", components={}, kubeconfig=kubeconfig
    )
    target.forwards = {}
    for i, (component, port) in enumerate(FORWARDS.items()):
        target.components[component] = target.forward(
            component, f"{RELEASE}-{component}", port, 18180 + i
        )
    target.wallet = target.components["wallet"]
    target.sink = target.forward("sink", "vellet-mail-sink", 8025, 18190)
    return target, created


@contextlib.asynccontextmanager
async def running(tmp: Path, failed: object) -> AsyncIterator[Target]:
    target, created = await asyncio.to_thread(_up, tmp)
    await asyncio.sleep(2)  # the port-forwards listening
    try:
        yield target
    finally:
        if getattr(failed, "testsfailed", 0):
            print(target.dump())
        for proc in target.forwards.values():
            proc.kill()
        if created:
            sh("kind", "delete", "cluster", "--name", CLUSTER)
