"""The container target's runner honours what it claims, so it cannot pass a broken chart:
a wrong env var name, a missing Secret key, a probe on the wrong path each fail the run
with a message naming the manifest; and a run leaves no container, volume or network
behind, whether it ends, fails or is killed.

The pure checks (translation of the rendered manifests) need no podman; the others
run containers and are marked ``image`` like every test that builds the image.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.containers import podman as pm
from tests.e2e.containers.manifests import ManifestError, Objects, expand, resolve_env
from tests.e2e.containers.pods import plan_pod
from tests.e2e.containers.runner import Runner
from tests.e2e.targets.base import KEYS_SECRET, NAMESPACE, ROOT, precreated_secrets, secret
from tests.e2e.targets.containers import CHART_IMAGE, DEPS, SINK, build_deps, manifests, render

IMAGE = os.environ.get("VELLET_TEST_IMAGE", "localhost/vellet:dev")


@pytest.fixture(scope="module")
async def chart() -> list[dict[str, Any]]:
    from tests.chart.helm import tools

    await asyncio.to_thread(tools)
    return await render(IMAGE, [])


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


# ------------------------------------------------------------ pure: what a kubelet reads


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "x"}
    assert expand("$(A)-$(B)-$(C)-$$(A)-$$", env) == "1-x-$(C)-$(A)-$"


def test_env_from_value_from_and_field_refs() -> None:
    objects = Objects(
        [
            {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"K": "v", "bad key": "x"}},
            secret("s", pw="hunter2"),
        ],
        NAMESPACE,
    )
    spec = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"}],
        "env": [
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "URL", "value": "redis://:$(PW)@r/$(P_K)"},
            {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "OPT",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "no", "optional": True}},
            },
        ],
    }
    env = resolve_env(spec, objects, "pod-0", "Deployment/x container y")
    assert env == {"P_K": "v", "PW": "hunter2", "URL": "redis://:hunter2@r/v", "ME": "pod-0"}


async def test_a_missing_secret_key_fails_naming_the_manifest(chart: list[dict[str, Any]]) -> None:
    pre = precreated_secrets()
    app = _named(pre, "Secret", "vellet-app-secrets")
    del app["data"]["session-secret"]
    objects = Objects([*pre, *chart], NAMESPACE)
    with pytest.raises(ManifestError) as refused:
        plan_pod(_named(chart, "Deployment", "vellet-wallet"), 0, objects)
    assert str(refused.value) == (
        "Deployment/vellet-wallet init container migrate: env VELLET_SESSION_SECRET: "
        "Secret 'vellet-app-secrets' has no key 'session-secret'"
    )


async def test_a_secret_made_before_the_install_is_required(chart: list[dict[str, Any]]) -> None:
    pre = [s for s in precreated_secrets() if s["metadata"]["name"] != "vellet-db-passwords"]
    with pytest.raises(
        ManifestError,
        match=r"^Deployment/vellet-bank init container migrate: env "
        r"PGPASSWORD: Secret 'vellet-db-passwords' does not exist$",
    ):
        plan_pod(_named(chart, "Deployment", "vellet-bank"), 0, Objects([*pre, *chart], NAMESPACE))


async def test_the_rendered_pods_are_read_as_written(chart: list[dict[str, Any]]) -> None:
    objects = Objects([*precreated_secrets(), *chart], NAMESPACE)
    pod = plan_pod(_named(chart, "Deployment", "vellet-wallet"), 0, objects)
    (main,) = pod.containers
    env = dict(main.env)
    assert [c.name for c in pod.init] == ["migrate"]
    assert (main.args, main.entrypoint) == (("wallet", "serve"), None)
    assert (main.user, main.read_only_root, main.drop_all_caps, main.no_new_privileges) == (
        "10001:10001",
        True,
        True,
        True,
    )
    assert [(m.path, m.kind, m.size) for m in main.mounts] == [
        ("/tmp", "tmpfs", "64m"),
        ("/etc/vellet/keys", "files", None),
    ]
    assert env["VELLET_WALLET_PORT"] == "8080"  # from the ConfigMap, by envFrom
    assert env["VELLET_WALLET_INTERNAL_PORT"] == "9080"
    assert env["VELLET_CONSUMER_NAME"] == "vellet-wallet-0"  # fieldRef metadata.name
    assert env["VELLET_WALLET_KEY_FILE"] == "/etc/vellet/keys/wallet.key"
    assert (
        env["VELLET_REDIS_URL"]
        == f"redis://wallet:{env['VELLET_REDIS_PASSWORD']}@vellet-deps-redis:6379/0"
    )
    assert main.readiness is not None
    assert (main.readiness.path, main.readiness.port) == (
        "/readyz",
        8080,
    )
    assert "vellet-wallet.vellet.svc.cluster.local" in pod.aliases


async def test_a_pod_gets_only_its_own_keys_readable_through_its_fs_group(
    chart: list[dict[str, Any]],
) -> None:
    pre = precreated_secrets()
    keys = _named(pre, "Secret", KEYS_SECRET)
    objects = Objects([*pre, *chart], NAMESPACE)
    pod = plan_pod(_named(chart, "Deployment", "vellet-wallet"), 0, objects)
    (mount,) = [m for m in pod.containers[0].mounts if m.path == "/etc/vellet/keys"]
    # The Secret's items only (never the bank's or the operator's private key), 0440 as
    # rendered, group 10001: the pod's fsGroup, so user 10001 reads what root owns.
    assert [(name, mode) for name, _, mode in mount.files] == [
        ("wallet.key", 0o440),
        ("bank.pub", 0o440),
        ("operator.pub", 0o440),
    ]
    assert (mount.group, mount.read_only) == (10001, True)
    (wallet_key,) = [content for name, content, _ in mount.files if name == "wallet.key"]
    assert wallet_key == base64.b64decode(keys["data"]["wallet.key"])
    del keys["data"]["bank.pub"]
    with pytest.raises(ManifestError, match=r"Secret 'vellet-keys' has no key 'bank.pub'$"):
        plan_pod(_named(chart, "Deployment", "vellet-wallet"), 0, objects)


def test_only_variables_defined_before_are_expanded() -> None:
    spec = {
        "env": [
            {"name": "EARLY", "value": "$(LATE)"},
            {"name": "LATE", "value": "late"},
            {"name": "AFTER", "value": "$(LATE)"},
        ],
    }
    env = resolve_env(spec, Objects([], NAMESPACE), "p", "Deployment/x container y")
    assert env == {"EARLY": "$(LATE)", "LATE": "late", "AFTER": "late"}


def test_a_service_that_remaps_a_port_is_refused() -> None:
    docs = manifests(SINK)
    service = _named(docs, "Service", "vellet-mail-sink")
    service["spec"]["ports"][1]["port"] = 80
    with pytest.raises(
        ManifestError, match="Service/vellet-mail-sink: port 80 goes to container port 8025"
    ):
        plan_pod(_named(docs, "Deployment", "vellet-mail-sink"), 0, Objects(docs, NAMESPACE))


# ------------------------------------------------------------ with containers


@pytest.mark.image
async def test_a_wrong_env_var_name_fails_the_run_naming_the_manifest(
    chart: list[dict[str, Any]],
) -> None:
    from tests.image.podman import built_image

    bank = copy.deepcopy(_named(chart, "Deployment", "vellet-bank"))
    for c in [
        *bank["spec"]["template"]["spec"]["initContainers"],
        *bank["spec"]["template"]["spec"]["containers"],
    ]:
        for item in c["env"]:
            if item["name"] == "VELLET_BANK_DATABASE_URL":
                item["name"] = "VELLET_BANK_DATABSE_URL"
    async with Runner.started(namespace=NAMESPACE, images={CHART_IMAGE: built_image()}) as runner:
        runner.add([*precreated_secrets(), *[d for d in chart if d["kind"] != "Deployment"], bank])
        with pytest.raises(ManifestError) as failed:
            await runner.up(["Deployment/vellet-bank"])
    said = str(failed.value)
    assert said.startswith("Deployment/vellet-bank init container migrate exited with"), said
    assert "VELLET_BANK_DATABASE_URL" in said  # the component's own words about what is missing


@pytest.mark.image
async def test_a_probe_on_the_wrong_path_fails_the_run_and_the_right_one_passes(
    chart: list[dict[str, Any]],
) -> None:
    from tests.image.podman import built_image

    await asyncio.to_thread(build_deps)
    good = _named(chart, "Deployment", "vellet-notifier")
    bad = copy.deepcopy(good)
    bad["metadata"]["name"] = "vellet-notifier-typo"
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] = "/ready"
    redis = [d for d in manifests(DEPS) if "redis" in d["metadata"]["name"]]
    async with Runner.started(
        namespace=NAMESPACE, images={CHART_IMAGE: built_image()}, ready_within=15
    ) as runner:
        runner.add(
            [
                *precreated_secrets(),
                *redis,
                *[d for d in chart if d["kind"] == "ConfigMap"],
                good,
                bad,
            ]
        )
        await runner.up(["StatefulSet/vellet-deps-redis"])
        await runner.up(["Deployment/vellet-notifier"])  # ready as rendered
        with pytest.raises(ManifestError) as failed:
            await runner.up(["Deployment/vellet-notifier-typo"])
    assert str(failed.value).startswith(
        "Deployment/vellet-notifier-typo container notifier (vellet-notifier-typo-0): "
        "readinessProbe GET /ready on port 8083 did not pass within 15s (last: HTTP 404)"
    ), str(failed.value)


@pytest.mark.image
async def test_a_failed_run_leaves_nothing_behind() -> None:
    from tests.image.podman import built_image

    seen: list[str] = []

    async def failing_scenario() -> None:
        async with Runner.started(
            namespace=NAMESPACE, images={CHART_IMAGE: built_image()}
        ) as runner:
            runner.add(manifests(SINK))
            await runner.up()
            seen.extend([runner.run, *await pm.leftovers(runner.run)])
            raise RuntimeError("a scenario failed")

    with pytest.raises(RuntimeError, match="a scenario failed"):
        await failing_scenario()
    run, *there = seen
    assert there, "the run had made a container and a network"
    assert await pm.leftovers(run) == []


_HOLD = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.e2e.containers.runner import Runner
from tests.e2e.targets.containers import CHART_IMAGE, SINK, manifests
async def main():
    async with Runner.started(namespace="vellet", images={{CHART_IMAGE: {image!r}}}) as runner:
        runner.add(manifests(SINK))
        await runner.up()
        print(runner.run, flush=True)
        await asyncio.sleep(600)
asyncio.run(main())
"""


async def _held_run(how: signal.Signals) -> str:
    from tests.image.podman import built_image

    code = _HOLD.format(root=str(ROOT), image=built_image())
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run = (await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 120)).strip()
    assert run.startswith("vellet-e2e-")
    assert await pm.leftovers(run)
    proc.send_signal(how)
    await asyncio.to_thread(proc.wait, 120)
    return run


@pytest.mark.image
async def test_an_interrupted_run_cleans_up_in_its_finalizer() -> None:
    run = await _held_run(signal.SIGINT)
    assert await pm.leftovers(run) == []


@pytest.mark.image
async def test_a_killed_run_is_swept_by_the_next_one() -> None:
    run = await _held_run(signal.SIGKILL)
    assert await pm.leftovers(run), "SIGKILL: no finalizer ran"
    assert run in await pm.sweep_orphans()
    assert await pm.leftovers(run) == []
