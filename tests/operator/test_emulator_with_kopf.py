"""A real kopf operator against the emulator: the proof that the emulator is enough.

The handlers here are throwaway (the real operator's come with the wallet's
internal API). They show what the operator tests will rely on: kopf finds the
resource by discovery, lists and watches it, its status patches go through the
status subresource and are validated, ``resourceVersion`` and ``generation``
behave as in a cluster, and the operator stops cleanly when asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import kopf

from tests.operator.conftest import TRANSFERS, load_sample, transfers_url
from tests.operator.emulator.server import EVENTS, ApiServer
from tests.operator.kopf_thread import OperatorThread, running_operator


def fast_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # Kopf's known pitfall: without timeouts a watch may hang forever. Short ones
    # here also exercise reconnects (resumed from the last resourceVersion).
    settings.watching.server_timeout = 1
    settings.watching.client_timeout = 3
    settings.watching.connect_timeout = 1
    settings.networking.request_timeout = 5
    settings.queueing.exit_timeout = 0.5  # idle per-object workers need no 2 s to finish
    return settings


def registry_for(api: ApiServer, on_create: Callable[..., Any]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    server = str(api.url).rstrip("/")

    # Log in explicitly: kopf's default login reads a kubeconfig (or the client
    # library reads KUBECONFIG at import), which could point at a real cluster.
    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server, insecure=True)

    kopf.on.create("vellet.io", "v1alpha1", "transfers", registry=registry)(on_create)
    return registry


def accept(body: kopf.Body, uid: str, meta: dict[str, Any], patch: kopf.Patch, **_: Any) -> None:
    kopf.info(body, reason="Accepted", message="The throwaway handler saw it.")
    patch.status["phase"] = "Accepted"
    patch.status["observedGeneration"] = meta["generation"]
    patch.status["message"] = f"seen {uid}"


def events_about(api: ApiServer, name: str) -> list[dict[str, Any]]:
    return [e for e in api.read_all(EVENTS) if e["involvedObject"]["name"] == name]


def phase_is(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: obj.get("status", {}).get("phase") == phase


async def test_status_patched_by_kopf_arrives_with_new_resource_version(api: ApiServer) -> None:
    registry = registry_for(api, accept)
    async with running_operator(
        registry=registry, settings=fast_settings(), standalone=True, namespaces=["default"]
    ):
        response = await api.post(transfers_url(), json=load_sample("p2p"))
        created = await response.json()
        assert response.status == 201
        name = created["metadata"]["name"]
        done = await api.wait_for(TRANSFERS, "default", name, phase_is("Accepted"))
        # kopf posts Kubernetes Events about the object in the background.
        events = await api.until(lambda: events_about(api, name) or None)

    assert [e["reason"] for e in events] == ["Accepted"]
    assert events[0]["involvedObject"]["uid"] == created["metadata"]["uid"]
    assert done["status"]["message"] == f"seen {created['metadata']['uid']}"
    # The status subresource changed status only: same uid and generation, newer version.
    assert done["metadata"]["uid"] == created["metadata"]["uid"]
    assert done["metadata"]["generation"] == created["metadata"]["generation"] == 1
    assert done["status"]["observedGeneration"] == 1
    assert int(done["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert done["spec"] == created["spec"]
    # kopf kept its own bookkeeping in an annotation and used the status subresource.
    assert "kopf.zalando.org/last-handled-configuration" in done["metadata"]["annotations"]
    status_patches = [r for r in api if r.method == "PATCH" and r.subresource == "status"]
    assert status_patches


async def test_transfers_that_existed_before_the_operator_are_handled(api: ApiServer) -> None:
    sample = load_sample("deposit")
    response = await api.post(transfers_url(), json=sample)
    assert response.status == 201
    registry = registry_for(api, accept)
    async with running_operator(
        registry=registry, settings=fast_settings(), standalone=True, namespaces=["default"]
    ):
        done = await api.wait_for(
            TRANSFERS, "default", sample["metadata"]["name"], phase_is("Accepted")
        )
    assert done["status"]["observedGeneration"] == 1


async def test_kopf_relists_after_its_watch_position_expired(api: ApiServer) -> None:
    registry = registry_for(api, accept)
    async with running_operator(
        registry=registry, settings=fast_settings(), standalone=True, namespaces=["default"]
    ):
        first = load_sample("p2p")
        await api.post(transfers_url(), json=first)
        await api.wait_for(TRANSFERS, "default", first["metadata"]["name"], phase_is("Accepted"))
        # As after an etcd compaction: the operator's next watch answers 410 Gone and
        # kopf must list again; objects created afterwards must still be handled.
        api.compact()
        compacted_at, seen = api.revision, len(list(api))
        await api.until(lambda: relisted_after(api, seen, compacted_at) or None)
        second = load_sample("withdrawal")
        await api.post(transfers_url(), json=second)
        await api.wait_for(TRANSFERS, "default", second["metadata"]["name"], phase_is("Accepted"))


def relisted_after(api: ApiServer, seen: int, compacted_at: int) -> bool:
    """Whether, after request number ``seen``, a watch got 410 and a list followed."""
    later = [r for r in list(api)[seen:] if r.resource == TRANSFERS and r.method == "GET"]
    for index, request in enumerate(later):
        version = request.params.get("resourceVersion", "")
        if request.params.get("watch") == "true" and version and int(version) <= compacted_at:
            return any("watch" not in r.params for r in later[index + 1 :])
    return False


async def test_a_handler_killed_midway_runs_again_after_a_restart(api: ApiServer) -> None:
    # The pattern the operator's crash test relies on: kopf records a handler as
    # done only after it returns, so a restarted operator calls it again -- which
    # is why creating the wallet transfer must be idempotent on the resource uid.
    calls: list[int] = []

    async def stalls_the_first_time(retry: int, **kwargs: Any) -> None:
        calls.append(retry)
        if len(calls) == 1:
            await asyncio.Event().wait()  # the operator dies in here
        accept(**kwargs)

    options = {"settings": fast_settings(), "standalone": True, "namespaces": ["default"]}
    first = OperatorThread(registry=registry_for(api, stalls_the_first_time), **options)
    await asyncio.to_thread(first.start, 10)
    sample = load_sample("p2p")
    await api.post(transfers_url(), json=sample)
    await eventually(lambda: calls)
    await asyncio.to_thread(first.kill, 10)
    name = sample["metadata"]["name"]
    assert "status" not in api.read(TRANSFERS, "default", name)

    async with running_operator(registry=registry_for(api, stalls_the_first_time), **options):
        done = await api.wait_for(TRANSFERS, "default", name, phase_is("Accepted"))
    assert len(calls) == 2
    assert done["status"]["message"] == f"seen {done['metadata']['uid']}"


async def eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll a condition set by another thread (not a timing assertion: no deadline checked)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
