"""The container target: the chart's rendered workloads as podman containers.

``helm template`` (Helm 3 from .tools) renders the chart with the targets' values and
k8s/dev/external-values.yaml; the Secrets those files name are created first, as a
user runs `vellet keys generate --kubernetes-secret` and `kubectl create secret` before
`helm install` (see ``base.precreated_secrets``); PostgreSQL and Redis run
from tests/e2e/containers/deps/deps.yaml and the mail sink from k8s/dev/mail-sink.yaml,
all through the same runner. The operator reaches the project's Kubernetes API
emulator, served on the podman network's gateway address, through the chart's own
``operator.extraEnv``; the real kubectl talks to it with a kubeconfig.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.containers import ingress
from tests.e2e.containers.podman import ENV, ok
from tests.e2e.containers.runner import Runner
from tests.e2e.targets.base import (
    NAMESPACE,
    RELEASE,
    ROOT,
    TOOLS,
    VALUES,
    Target,
    precreated_secrets,
)
from tests.operator.conftest import BINDING_CRD_PATH, CRD_PATH, bind
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer

HELM = TOOLS / "helm3"
DEPS = ROOT / "tests/e2e/containers/deps/deps.yaml"
SINK = ROOT / "k8s/dev/mail-sink.yaml"
EXTERNAL = ROOT / "k8s/dev/external-values.yaml"
CHART_IMAGE = "ghcr.io/vellet/vellet:0.1.0"  # what raw manifests (the mail sink) name


def build_deps() -> None:
    """What a fresh clone needs first: podman & co., Helm and kubectl, the e2e images."""
    from tests.chart.helm import tools

    tools()
    subprocess.run([str(ROOT / "deploy/build-e2e-images.sh")], env=ENV, check=True, timeout=1200)


async def render(image: str, sets: list[str]) -> list[dict[str, Any]]:
    """`helm template` with the dev values, the external dependencies, the scenarios' values."""
    repository, tag = image.rsplit(":", 1)
    args = ["template", RELEASE, str(ROOT / "charts/vellet"), "--namespace", NAMESPACE]
    for path in (VALUES[0], EXTERNAL, *VALUES[1:]):
        args += ["-f", str(path)]
    for item in [f"image.repository={repository}", f"image.tag={tag}", *sets]:
        args += ["--set", item]
    proc = await asyncio.create_subprocess_exec(
        str(HELM), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return [d for d in yaml.safe_load_all(out) if d]


def manifests(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        doc.setdefault("metadata", {})["namespace"] = NAMESPACE
    return docs


class ContainerTarget(Target):
    runner: Runner
    api: ApiServer

    async def component_urls(self) -> dict[str, str]:
        ports = {"wallet": 8080, "bank": 8081, "notifier": 8083, "operator": 8084}
        return {c: await self.runner.published(f"{RELEASE}-{c}", p) for c, p in ports.items()}

    async def stop_bank(self) -> None:
        await self.runner.scale(f"Deployment/{RELEASE}-bank", 0)

    async def start_bank(self) -> None:
        await self.runner.scale(f"Deployment/{RELEASE}-bank", 1)

    async def restart_redis(self) -> None:
        await self.runner.restart("StatefulSet/vellet-deps-redis")

    async def lose_bank_requests(self) -> None:
        (pod,) = self.runner.pods("StatefulSet/vellet-deps-redis")
        name = f"{self.runner.run}-{pod.name}-{pod.containers[0].name}"
        # As Redis's administrator (REDISCLI_AUTH in its container): no service's user may.
        trim = ("redis-cli", "--user", "admin", "XTRIM", "vellet:bank:requests", "MAXLEN", "0")
        await ok("exec", name, *trim)

    async def kill_operator(self) -> None:
        await self.runner.restart(f"Deployment/{RELEASE}-operator")

    async def bank_audit(self) -> str:
        (pod,) = self.runner.pods(f"Deployment/{RELEASE}-bank")
        name = f"{self.runner.run}-{pod.name}-{pod.containers[0].name}"
        return await ok("exec", name, "vellet", "bank", "audit")

    async def bind(self, *accounts: str) -> None:
        await bind(self.api, NAMESPACE, *accounts)


def _service_port(runner: Runner, service: str, port: int | str) -> int:
    doc = runner.objects.get("Service", service)
    assert doc is not None, service
    for p in doc["spec"]["ports"]:
        if port in (p.get("name"), p["port"]):
            return int(p["port"])
    raise AssertionError(f"Service/{service} has no port {port!r}")


@contextlib.asynccontextmanager
async def running(
    image: str, tmp: Path, ready_within: float = 120.0, failed: object = None
) -> AsyncIterator[ContainerTarget]:
    await asyncio.to_thread(build_deps)
    crds = [Crd.load(CRD_PATH), Crd.load(BINDING_CRD_PATH)]
    async with Runner.started(
        namespace=NAMESPACE, images={CHART_IMAGE: image}, ready_within=ready_within
    ) as runner:
        runner.add([*precreated_secrets(), *manifests(DEPS), *manifests(SINK)])
        await runner.up(
            [
                "StatefulSet/vellet-deps-postgresql",
                "StatefulSet/vellet-deps-redis",
                "Deployment/vellet-mail-sink",
            ]
        )
        # The gateway address exists once a container is on the network (netavark).
        async with ApiServer.running(crds, namespaces=[NAMESPACE], host=runner.gateway) as api:
            kube = str(api.url).rstrip("/")
            runner.add(
                await render(
                    image,
                    [
                        "operator.extraEnv[0].name=VELLET_OPERATOR_KUBE_API_URL",
                        f"operator.extraEnv[0].value={kube}",
                    ],
                )
            )
            await runner.up(
                [f"Deployment/{RELEASE}-{c}" for c in ("bank", "wallet", "notifier", "operator")]
            )
            kubeconfig = tmp / "kubeconfig"
            kubeconfig.write_text(json.dumps(api.kubeconfig(NAMESPACE)))
            ingresses = runner.objects.of_kind("Ingress")

            async def resolve(service: str, port: int | str) -> str:
                return await runner.published(service, _service_port(runner, service, port))

            async with ingress.serving(ingresses, resolve) as ingress_url:
                target = ContainerTarget(
                    name="containers",
                    wallet=await runner.published(f"{RELEASE}-wallet", 8080),
                    ingress=ingress_url,
                    sink=await runner.published("vellet-mail-sink", 8025),
                    components={},
                    kubeconfig=kubeconfig,
                    # The emulator serves no OpenAPI document for kubectl's client-side
                    # check; it validates against the CRD's schema itself, as an API server does.
                    apply_flags=("--validate=false",),
                )
                target.runner, target.api = runner, api
                try:
                    yield target
                finally:
                    if getattr(failed, "testsfailed", 0):
                        # What a failure is read from: every workload's last log lines.
                        for name in runner.workload_names():
                            print(await runner.logs(name))
