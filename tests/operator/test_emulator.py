"""The emulator behaves like an API server where kopf and kubectl can tell.

Talks HTTP to it, as clients do. Transfers have an immutable spec, so the
generation rules are shown on a small mutable kind declared here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import kmock
import kopf
import pytest
import yaml

from tests.operator.conftest import JSON_PATCH, MERGE, TRANSFERS, load_sample, transfers_url
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer

WIDGETS = kmock.resource("test.vellet.io", "v1", "widgets")
WIDGETS_URL = "/apis/test.vellet.io/v1/namespaces/default/widgets"
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.vellet.io"},
    "spec": {
        "group": "test.vellet.io",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "maximum": 10}},
                            },
                            "status": {
                                "type": "object",
                                "properties": {"seen": {"type": "integer"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
async def widgets(api: ApiServer) -> ApiServer:
    api.add_crd(Crd.parse(WIDGET_CRD))
    return api


def widget(name: str, size: int = 1) -> dict[str, Any]:
    return {"apiVersion": "test.vellet.io/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": size}}  # fmt: skip


async def send(api: ApiServer, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    response = await api.request(method, url, **kwargs)
    return response.status, await response.json()


def version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def test_create_stamps_identity_and_drops_status(api: ApiServer) -> None:
    sample = load_sample("p2p") | {"status": {"phase": "Posted"}}
    status, first = await send(api, "POST", transfers_url(), json=sample)
    assert status == 201
    meta = first["metadata"]
    assert meta["namespace"] == "default"
    assert meta["generation"] == 1
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert "status" not in first  # only the status subresource writes status
    status, second = await send(api, "POST", transfers_url(), json=load_sample("deposit"))
    assert status == 201
    assert version(second) > version(first)
    assert second["metadata"]["uid"] != meta["uid"]


async def test_invalid_objects_get_the_api_servers_422_and_are_not_stored(api: ApiServer) -> None:
    sample = load_sample("p2p")
    sample["spec"]["amount"] = "10.005"
    del sample["spec"]["toAccount"]
    status, body = await send(api, "POST", transfers_url(), json=sample)
    assert status == 422
    assert (body["kind"], body["status"], body["reason"], body["code"]) == (
        "Status",
        "Failure",
        "Invalid",
        422,
    )
    assert body["message"].startswith('Transfer.vellet.io "rent-november" is invalid: [')
    causes = {cause["field"]: cause for cause in body["details"]["causes"]}
    assert causes["spec.toAccount"]["reason"] == "FieldValueRequired"
    assert "at most 2 decimal places" in causes["spec.amount"]["message"]
    assert api.read_all(TRANSFERS) == []
    assert api.errors == []  # a refusal is the API working, not an emulator fault


async def test_unknown_fields_are_pruned_or_refused_when_strict(api: ApiServer) -> None:
    sample = load_sample("p2p")
    sample["spec"]["memo"] = "typo"
    status, body = await send(api, "POST", transfers_url() + "?fieldValidation=Strict", json=sample)
    assert (status, body["reason"]) == (400, "BadRequest")
    assert 'unknown field "spec.memo"' in body["message"]
    status, body = await send(api, "POST", transfers_url(), json=sample)
    assert status == 201
    assert "memo" not in body["spec"]


async def test_names_are_unique_and_generated_on_request(api: ApiServer) -> None:
    sample = load_sample("p2p")
    assert (await send(api, "POST", transfers_url(), json=sample))[0] == 201
    status, body = await send(api, "POST", transfers_url(), json=sample)
    assert (status, body["reason"]) == (409, "AlreadyExists")
    del sample["metadata"]["name"]
    sample["metadata"]["generateName"] = "rent-"
    status, body = await send(api, "POST", transfers_url(), json=sample)
    assert status == 201
    assert body["metadata"]["name"].startswith("rent-")
    assert len(body["metadata"]["name"]) == len("rent-") + 5


async def test_missing_namespaces_and_objects_are_404(api: ApiServer) -> None:
    status, body = await send(api, "POST", transfers_url("nowhere"), json=load_sample("p2p"))
    assert (status, body["reason"], body["message"]) == (
        404,
        "NotFound",
        'namespaces "nowhere" not found',
    )
    status, body = await send(api, "GET", transfers_url(name="ghost"))
    assert (status, body["message"]) == (404, 'transfers.vellet.io "ghost" not found')
    status, _ = await send(api, "PATCH", transfers_url(name="ghost"), json={}, headers=MERGE)
    assert status == 404


async def test_a_404_leaves_no_status_behind_for_the_next_answers(api: ApiServer) -> None:
    """kubectl apply reads first (404), then creates; its next `get NAME`, a list and a
    merge patch must answer 200 -- kmock kept a refusal's status for later bodies."""
    status, _ = await send(api, "GET", transfers_url(name="rent-november"))
    assert status == 404
    assert (await send(api, "POST", transfers_url(), json=load_sample("p2p")))[0] == 201
    status, body = await send(api, "GET", transfers_url(name="rent-november"))
    assert (status, body["metadata"]["name"]) == (200, "rent-november")
    assert (await send(api, "GET", transfers_url()))[0] == 200
    patch = {"metadata": {"labels": {"a": "b"}}}
    assert (
        await send(api, "PATCH", transfers_url(name="rent-november"), json=patch, headers=MERGE)
    )[0] == 200


async def test_status_subresource_changes_status_only(api: ApiServer) -> None:
    _, created = await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    url = transfers_url(name="rent-november", sub="status")
    patch = {
        "status": {"phase": "Posted"},
        "spec": {"amount": "1.00"},
        "metadata": {"labels": {"a": "b"}},
    }
    status, patched = await send(api, "PATCH", url, json=patch, headers=MERGE)
    assert status == 200
    assert patched["status"] == {"phase": "Posted"}
    assert patched["spec"] == created["spec"]
    assert "labels" not in patched["metadata"]
    assert version(patched) > version(created)
    assert patched["metadata"]["generation"] == 1
    # ...and the main resource cannot write status.
    main = {"status": {"phase": "Failed"}, "metadata": {"labels": {"a": "b"}}}
    status, patched = await send(
        api, "PATCH", transfers_url(name="rent-november"), json=main, headers=MERGE
    )
    assert status == 200
    assert patched["status"] == {"phase": "Posted"}
    assert patched["metadata"]["labels"] == {"a": "b"}


async def test_an_invalid_status_is_refused(api: ApiServer) -> None:
    await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    url = transfers_url(name="rent-november", sub="status")
    status, body = await send(api, "PATCH", url, json={"status": {"phase": "Done"}}, headers=MERGE)
    assert (status, body["details"]["causes"][0]["field"]) == (422, "status.phase")


async def test_spec_changes_are_refused_by_the_crds_cel_rule(api: ApiServer) -> None:
    _, created = await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    patch = {"spec": {"amount": "999.00"}}
    url = transfers_url(name="rent-november")
    status, body = await send(api, "PATCH", url, json=patch, headers=MERGE)
    assert status == 422
    assert "spec is immutable" in body["message"]
    assert api.read(TRANSFERS, "default", "rent-november") == created


async def test_generation_grows_with_spec_changes_only(widgets: ApiServer) -> None:
    api = widgets
    _, created = await send(api, "POST", WIDGETS_URL, json=widget("w"))
    url = f"{WIDGETS_URL}/w"
    _, labelled = await send(
        api, "PATCH", url, json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE
    )
    _, resized = await send(api, "PATCH", url, json={"spec": {"size": 2}}, headers=MERGE)
    _, seen = await send(api, "PATCH", url + "/status", json={"status": {"seen": 2}}, headers=MERGE)
    generations = [o["metadata"]["generation"] for o in (created, labelled, resized, seen)]
    assert generations == [1, 1, 2, 2]
    versions = [version(o) for o in (created, labelled, resized, seen)]
    assert versions == sorted(set(versions))  # strictly increasing
    status, _ = await send(api, "PATCH", url, json={"spec": {"size": 11}}, headers=MERGE)
    assert status == 422  # the widget schema's maximum


async def test_a_no_op_update_keeps_the_resource_version(widgets: ApiServer) -> None:
    api = widgets
    _, created = await send(api, "POST", WIDGETS_URL, json=widget("w"))
    _, same = await send(
        api, "PATCH", f"{WIDGETS_URL}/w", json={"spec": {"size": 1}}, headers=MERGE
    )
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert api.revision == version(created)


async def test_replace_with_a_stale_resource_version_conflicts(widgets: ApiServer) -> None:
    api = widgets
    _, created = await send(api, "POST", WIDGETS_URL, json=widget("w"))
    await send(api, "PATCH", f"{WIDGETS_URL}/w", json={"spec": {"size": 3}}, headers=MERGE)
    stale = created | {"spec": {"size": 4}}
    status, body = await send(api, "PUT", f"{WIDGETS_URL}/w", json=stale)
    assert (status, body["reason"]) == (409, "Conflict")
    fresh = api.read(WIDGETS, "default", "w") | {"spec": {"size": 4}}
    status, body = await send(api, "PUT", f"{WIDGETS_URL}/w", json=fresh)
    assert (status, body["spec"], body["metadata"]["generation"]) == (200, {"size": 4}, 3)


async def test_json_patch_tests_the_resource_version(api: ApiServer) -> None:
    _, created = await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    url = transfers_url(name="rent-november")
    add = {"op": "add", "path": "/metadata/finalizers", "value": ["vellet.io/test"]}
    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}, add]
    status, _ = await send(api, "PATCH", url, json=stale, headers=JSON_PATCH)
    assert status == 422  # kopf reads this as "try again on the next cycle"
    fresh = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": created["metadata"]["resourceVersion"],
        },
        add,
    ]
    status, body = await send(api, "PATCH", url, json=fresh, headers=JSON_PATCH)
    assert (status, body["metadata"]["finalizers"]) == (200, ["vellet.io/test"])
    status, _ = await send(
        api,
        "PATCH",
        url,
        json={"a": 1},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert status == 415


async def test_finalizers_hold_deletion_until_removed(api: ApiServer) -> None:
    sample = load_sample("p2p")
    sample["metadata"]["finalizers"] = ["vellet.io/test"]
    await send(api, "POST", transfers_url(), json=sample)
    url = transfers_url(name="rent-november")
    status, deleting = await send(api, "DELETE", url)
    assert status == 200
    assert deleting["metadata"]["deletionTimestamp"]
    assert api.read(TRANSFERS, "default", "rent-november")["metadata"]["deletionTimestamp"]
    add = {"metadata": {"finalizers": ["vellet.io/test", "more"]}}
    status, _ = await send(api, "PATCH", url, json=add, headers=MERGE)
    assert status == 422  # no new finalizers while deleting
    status, _ = await send(
        api, "PATCH", url, json={"metadata": {"finalizers": None}}, headers=MERGE
    )
    assert status == 200
    with pytest.raises(KeyError):
        api.read(TRANSFERS, "default", "rent-november")


async def read_watch(api: ApiServer, url: str) -> list[dict[str, Any]]:
    response = await api.get(url)
    assert response.status == 200
    return [json.loads(line) for line in (await response.text()).splitlines() if line.strip()]


async def test_a_watch_resumes_after_a_listed_resource_version(api: ApiServer) -> None:
    await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    _, listed = await send(api, "GET", transfers_url())
    assert [item["metadata"]["name"] for item in listed["items"]] == ["rent-november"]
    since = listed["metadata"]["resourceVersion"]
    await send(api, "POST", transfers_url(), json=load_sample("deposit"))
    await send(api, "POST", transfers_url("other"), json=load_sample("withdrawal"))
    url = transfers_url(name="top-up-november", sub="status")
    await send(api, "PATCH", url, json={"status": {"phase": "Queued"}}, headers=MERGE)
    events = await read_watch(
        api, f"{transfers_url()}?watch=true&resourceVersion={since}&timeoutSeconds=0.2"
    )
    # Only what happened after the listing, only in this namespace, in order.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "top-up-november"),
        ("MODIFIED", "top-up-november"),
    ]
    assert events[1]["object"]["status"] == {"phase": "Queued"}
    assert version(events[0]["object"]) < version(events[1]["object"])


async def test_a_live_watch_streams_new_events_and_ends_on_its_timeout(api: ApiServer) -> None:
    since = str(api.revision)
    url = f"{transfers_url()}?watch=true&resourceVersion={since}&timeoutSeconds=1"
    watching = asyncio.create_task(read_watch(api, url))
    await asyncio.sleep(0.1)  # let the watch connect first
    await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    events = await watching
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "rent-november")
    ]


async def test_a_watch_from_before_a_compaction_is_gone(api: ApiServer) -> None:
    await send(api, "POST", transfers_url(), json=load_sample("p2p"))
    api.compact()
    events = await read_watch(
        api, f"{transfers_url()}?watch=true&resourceVersion=1&timeoutSeconds=1"
    )
    assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [
        ("ERROR", 410, "Expired")
    ]
    # A watch without a version starts with the current objects.
    events = await read_watch(api, f"{transfers_url()}?watch=true&timeoutSeconds=0.1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "rent-november")
    ]


async def test_namespaces_and_discovery_are_served(crd: Crd) -> None:
    async with ApiServer.running([crd], namespaces=["default", "other"]) as api:
        await _namespaces_and_discovery_are_served(api)


async def _namespaces_and_discovery_are_served(api: ApiServer) -> None:
    _, namespaces = await send(api, "GET", "/api/v1/namespaces")
    assert sorted(ns["metadata"]["name"] for ns in namespaces["items"]) == ["default", "other"]
    status, default = await send(api, "GET", "/api/v1/namespaces/default")
    assert (status, default["kind"]) == (200, "Namespace")
    _, resources = await send(api, "GET", "/apis/vellet.io/v1alpha1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert set(by_name) == {"transfers", "transfers/status"}
    assert by_name["transfers"]["shortNames"] == ["tr"]
    assert by_name["transfers"]["namespaced"] is True
    _, core = await send(api, "GET", "/api/v1")
    assert {"namespaces", "events"} <= {r["name"] for r in core["resources"]}


async def test_unsupported_queries_are_refused_not_ignored(api: ApiServer) -> None:
    status, body = await send(api, "GET", transfers_url() + "?labelSelector=a%3Db")
    assert (status, body["reason"]) == (400, "BadRequest")


def test_a_kubeconfig_leads_kopfs_own_login_to_the_emulator(
    api: ApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an operator started as a subprocess would do with KUBECONFIG set.
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(api.kubeconfig()))
    monkeypatch.setenv("KUBECONFIG", str(path))
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    assert info is not None
    assert info.server == str(api.url).rstrip("/")
    assert info.default_namespace == "default"
