"""A Transfer may debit only an account bound to its namespace, checked twice.

At admission: the ValidatingAdmissionPolicy shipped in k8s/crds/, evaluated
from its own file with the variables Kubernetes gives CEL (``object``,
``namespaceObject``, ``params``, ...). In the operator: the real kopf
operator against the emulator (which runs no admission policies, like a
cluster without this one) denies an unbound Transfer before calling the wallet.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest
import yaml

from tests.operator.conftest import (
    BINDING_CRD_PATH,
    POLICY_PATH,
    ROOT,
    TRANSFERS,
    Bank,
    bind,
    load_sample,
    transfers_url,
)
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.policy import Policy
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    NAMESPACE,
    TIMER,
    condition,
    events_about,
    member,
    operator_settings,
    p2p,
    phase_is,
    requests_to,
    running,
)
from tests.wallet.stack import RunningWallet, fund, registered
from vellet.operator import bindings

POLICY = Policy.load(POLICY_PATH)
CREATE_ROUTE = "/internal/v1/transfers"


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def binding(*accounts: str, name: str = "vellet") -> dict[str, Any]:
    return {"apiVersion": "vellet.io/v1alpha1", "kind": "AccountBinding",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": {"accounts": list(accounts)}}  # fmt: skip


def transfer(from_account: str, ns: str = "team-a") -> dict[str, Any]:
    manifest = load_sample("p2p")
    manifest["metadata"] |= {"name": "rent", "namespace": ns}
    manifest["spec"] |= {"fromAccount": from_account, "toAccount": "100000000009"}
    return manifest


def admit(obj: dict[str, Any], params: dict[str, Any] | None, operation: str = "CREATE") -> Any:
    found = {} if params is None else {("team-a", params["metadata"]["name"]): params}
    return POLICY.admit(obj, operation=operation, resource="transfers",
                        namespace=namespace("team-a"), param_objects=found)  # fmt: skip


# ------------------------------------------------------------------ admission


def test_the_policy_admits_a_transfer_from_a_bound_account() -> None:
    decision = admit(transfer("100000000001"), binding("100000000001", "100000000002"))
    assert decision.allowed, decision.message


def test_the_policy_refuses_an_unbound_account_with_a_readable_message() -> None:
    decision = admit(transfer("100000000003"), binding("100000000001"))
    assert not decision.allowed
    assert decision.reason == "Forbidden"
    assert decision.message == (
        'transfers.vellet.io "rent" is forbidden: ValidatingAdmissionPolicy '
        "'transfers-debit-bound-accounts.vellet.io' with binding "
        "'transfers-debit-bound-accounts.vellet.io' denied request: account 100000000003 is "
        "not bound to namespace team-a: a Transfer here may only debit the accounts listed in "
        'its AccountBinding "vellet" (written by cluster administrators)'
    )
    # The operator says the very same words when it denies one.
    assert decision.message.endswith(bindings.denial_message("100000000003", "team-a"))


def test_a_namespace_without_a_binding_is_refused_by_kubernetes_itself() -> None:
    decision = admit(transfer("100000000001"), None)
    assert not decision.allowed
    assert "no params found for policy binding with `Deny` parameterNotFoundAction" in (
        decision.message
    )
    # A binding with another name is not the one the policy reads.
    assert not admit(transfer("100000000001"), binding("100000000001", name="other")).allowed


def test_only_creation_is_checked_so_the_operator_can_still_finish_a_transfer() -> None:
    # Status patches and finalizer removal are UPDATEs: they must pass even once
    # a binding is withdrawn (the money was already requested).
    assert admit(transfer("100000000003"), binding("100000000001"), operation="UPDATE").allowed
    assert POLICY.matches("vellet.io", "v1alpha1", "transfers", "CREATE")
    assert not POLICY.matches("vellet.io", "v1alpha1", "accountbindings", "CREATE")


def test_the_binding_crd_takes_one_binding_named_vellet_of_account_numbers() -> None:
    crd = Crd.load(BINDING_CRD_PATH)
    assert crd.namespaced
    assert crd.validate(binding("100000000001")) == []
    wrong_name = crd.validate(binding("100000000001", name="mine"))
    assert any('must be named "vellet"' in e.detail for e in wrong_name)
    assert crd.validate(binding("not-a-number")) != []
    described = yaml.safe_load(BINDING_CRD_PATH.read_text())
    schema = described["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "cluster administrators" in schema["description"]  # what kubectl explain shows


def test_every_copy_of_the_binding_files_is_byte_identical() -> None:
    for source in (BINDING_CRD_PATH, POLICY_PATH):
        copy = ROOT / "charts" / "vellet" / "files" / "crds" / source.name
        assert copy.read_bytes() == source.read_bytes(), f"{copy} drifted: copy {source}"


@pytest.mark.parametrize("path", [BINDING_CRD_PATH, POLICY_PATH], ids=lambda p: p.stem)
def test_the_binding_files_pass_kubernetes_validate(path: Any) -> None:
    import kubernetes_validate

    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.33.0", strict=True)


# ------------------------------------------------------------------- operator


async def test_an_unbound_transfer_is_denied_without_calling_the_wallet(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    mallory_victim = await registered(bank.running, wallet, http)  # not bound to default
    await fund(wallet, alice, 10_000)
    await fund(wallet, mallory_victim, 10_000)
    stolen = p2p(mallory_victim, alice, "50.00")
    honest = p2p(alice, mallory_victim, "1.00")
    settings = operator_settings(api, wallet.internal_url, bank.url, binding_grace=TIMER)
    async with running(settings):
        assert (await api.post(transfers_url(), json=stolen)).status == 201
        denied = await api.wait_for(
            TRANSFERS, NAMESPACE, stolen["metadata"]["name"], phase_is("Denied")
        )
        await api.post(transfers_url(), json=honest)
        await api.wait_for(TRANSFERS, NAMESPACE, honest["metadata"]["name"], phase_is("Posted"))
        await asyncio.sleep(6 * TIMER)  # a retrying operator would have tried again by now

    status = denied["status"]
    expected = bindings.denial_message(mallory_victim.account_number or "", NAMESPACE)
    assert status["message"] == expected
    assert "transferId" not in status
    accepted = condition(denied, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "NotAuthorized")
    [event] = [e for e in events_about(api, stolen["metadata"]["name"])
               if e["reason"] == "NotAuthorized"]  # fmt: skip
    assert (event["type"], event["message"]) == ("Warning", expected)
    # One create reached the wallet: the honest one. The stolen one never did.
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1
    assert api.read(TRANSFERS, NAMESPACE, stolen["metadata"]["name"])["status"]["phase"] == (
        "Denied"
    )


async def test_a_binding_that_arrives_with_the_transfer_is_waited_for(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await registered(bank.running, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 10_000)
    manifest = p2p(alice, bob, "2.00")
    settings = operator_settings(api, wallet.internal_url, bank.url, binding_grace=1.0)
    async with running(settings):
        await api.post(transfers_url(), json=manifest)
        await asyncio.sleep(0.2)
        await bind(api, NAMESPACE, alice.account_number or "")  # the admin was a moment late
        await api.wait_for(TRANSFERS, NAMESPACE, manifest["metadata"]["name"], phase_is("Posted"))
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1


async def test_a_transfer_in_a_namespace_the_operator_does_not_watch_is_left_alone(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await bind(api, "other", alice.account_number or "")  # bound there too: scope alone decides
    await fund(wallet, alice, 10_000)
    elsewhere = p2p(alice, bob, "3.00") | {}
    elsewhere["metadata"] = {"name": f"other-{uuid.uuid4().hex[:6]}", "namespace": "other"}
    here = p2p(alice, bob, "4.00")
    async with running(
        operator_settings(api, wallet.internal_url, bank.url, namespaces=(NAMESPACE,))
    ):
        assert (await api.post(transfers_url("other"), json=elsewhere)).status == 201
        await api.post(transfers_url(), json=here)
        await api.wait_for(TRANSFERS, NAMESPACE, here["metadata"]["name"], phase_is("Posted"))
        await asyncio.sleep(6 * TIMER)

    untouched = api.read(TRANSFERS, "other", elsewhere["metadata"]["name"])
    assert "status" not in untouched or not untouched["status"]
    assert not untouched["metadata"].get("finalizers")
    assert not any("kopf" in key for key in untouched["metadata"].get("annotations", {}))
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1  # only "here"
