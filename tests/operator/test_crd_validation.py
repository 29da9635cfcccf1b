"""What ``kubectl apply`` refuses, checked against the CRD file itself.

Every case runs the CRD's structural schema and its CEL rules (cel-python),
including the transition rule that freezes the spec, the way the API server
runs them. The same validator guards the emulator, so the operator tests can
never create an object a cluster would refuse.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.operator.conftest import SAMPLES, load_sample
from tests.operator.emulator.crd import Crd
from vellet.common.errors import VelletError
from vellet.common.money import CURRENCY_EXPONENTS, parse_amount

Mutation = Callable[[dict[str, Any]], None]


def with_spec(**changes: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                obj["spec"].pop(key, None)
            else:
                obj["spec"][key] = value

    return mutate


def refusals(crd: Crd, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    admission = crd.admit(obj, old)
    return [str(error) for error in admission.errors]


@pytest.mark.parametrize("name", [path.stem for path in SAMPLES])
def test_samples_are_accepted(crd: Crd, name: str) -> None:
    assert refusals(crd, load_sample(name)) == []


INVALID = [
    ("negative amount", "p2p", with_spec(amount="-5.00"), "spec.amount", "should match"),
    ("three decimals for INR", "p2p", with_spec(amount="10.005"), "spec.amount", "at most 2"),
    ("zero amount", "deposit", with_spec(amount="0.00"), "spec.amount", "greater than zero"),
    ("amount as a number", "p2p", with_spec(amount=12.5), "spec.amount", "must be of type string"),
    ("decimals for JPY", "p2p", with_spec(amount="5.5", currency="JPY"), "spec.amount", "whole"),
    ("P2P without toAccount", "p2p", with_spec(toAccount=None), "spec.toAccount", "required"),
    ("deposit with toAccount", "deposit", with_spec(toAccount="100000000009"), "spec.toAccount",
     "must be absent"),
    ("paying oneself", "p2p", with_spec(toAccount="100000000000"), "spec.toAccount", "differ"),
    ("unknown type", "p2p", with_spec(type="Refund"), "spec.type", "supported values"),
    ("letters in an account", "p2p", with_spec(fromAccount="12ab5678"), "spec.fromAccount",
     "should match"),
    ("short account", "withdrawal", with_spec(fromAccount="12345"), "spec.fromAccount", "at least"),
    ("lowercase currency", "p2p", with_spec(currency="inr"), "spec.currency", "should match"),
    ("unknown currency", "p2p", with_spec(currency="XYZ"), "spec.currency", "supported values"),
    ("long note", "p2p", with_spec(note="x" * 141), "spec.note", "Too long"),
    ("missing amount", "deposit", with_spec(amount=None), "spec.amount", "Required value"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sample", "mutate", "field", "reason"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_manifests_are_refused_with_a_reason(
    crd: Crd, sample: str, mutate: Mutation, field: str, reason: str
) -> None:
    obj = load_sample(sample)
    mutate(obj)
    found = refusals(crd, obj)
    assert any(text.startswith(f"{field}:") and reason in text for text in found), found


def test_a_transfer_without_spec_is_refused(crd: Crd) -> None:
    obj = load_sample("p2p")
    del obj["spec"]
    assert refusals(crd, obj) == ["spec: Required value"]


def test_spec_cannot_change_after_creation(crd: Crd) -> None:
    old = load_sample("p2p")
    new = copy.deepcopy(old)
    new["spec"]["amount"] = "999.00"
    found = refusals(crd, new, old)
    assert len(found) == 1
    assert found[0].startswith("spec: Invalid value")
    assert "spec is immutable" in found[0]


def test_the_immutability_rule_only_runs_on_updates(crd: Crd) -> None:
    # A transition rule needs an old object: creating anything valid passes it.
    new = load_sample("p2p")
    new["spec"]["amount"] = "999.00"
    assert refusals(crd, new) == []


def test_metadata_and_status_may_change_while_spec_stays(crd: Crd) -> None:
    old = load_sample("withdrawal")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "payroll"}
    new["status"] = {
        "phase": "Queued",
        "attempts": 2,
        "conditions": [
            {
                "type": "BankAvailable",
                "status": "False",
                "reason": "BankDown",
                "message": "the bank's health check failed",
                "lastTransitionTime": "2026-01-01T10:00:00Z",
            }
        ],
    }
    assert refusals(crd, new, old) == []


STATUS_CASES = [
    ("unknown phase", {"phase": "Done"}, "status.phase"),
    ("negative attempts", {"attempts": -1}, "status.attempts"),
    ("transferId not a UUID", {"transferId": "42"}, "status.transferId"),
    ("condition without reason", {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T10:00:00Z"}]},
     "status.conditions[0].reason"),
    ("condition status not True/False/Unknown", {"conditions": [
        {"type": "Ready", "status": "Yes", "reason": "Posted",
         "lastTransitionTime": "2026-01-01T10:00:00Z"}]}, "status.conditions[0].status"),
    ("two conditions of one type", {"conditions": [
        {"type": "Ready", "status": "True", "reason": "Posted",
         "lastTransitionTime": "2026-01-01T10:00:00Z"},
        {"type": "Ready", "status": "False", "reason": "Failed",
         "lastTransitionTime": "2026-01-01T10:00:00Z"}]}, "status.conditions[1]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "field"), [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES]
)
def test_the_operator_cannot_write_a_malformed_status(
    crd: Crd, status: dict[str, Any], field: str
) -> None:
    obj = load_sample("deposit")
    obj["status"] = status
    found = refusals(crd, obj)
    assert any(text.startswith(f"{field}:") for text in found), found


def test_unknown_spec_fields_are_pruned_not_stored(crd: Crd) -> None:
    obj = load_sample("p2p")
    obj["spec"]["memo"] = "a typo of note"
    admission = crd.admit(obj)
    assert admission.errors == []
    assert admission.unknown_fields == ["spec.memo"]
    assert "memo" not in admission.stored["spec"]


AMOUNTS = ["1", "1.5", "1.50", "1.505", "0", "0.0", "0.001", "12.345", "100.00"]


@pytest.mark.parametrize("currency", sorted(CURRENCY_EXPONENTS))
def test_the_crd_accepts_exactly_the_amounts_the_wallet_accepts(crd: Crd, currency: str) -> None:
    # The CRD's CEL lists of 0- and 3-decimal currencies mirror vellet.common.money:
    # a currency added to one and not the other makes this test fail.
    for amount in AMOUNTS:
        obj = load_sample("deposit")
        obj["spec"].update(amount=amount, currency=currency)
        try:
            parse_amount(amount, currency)
            wallet_accepts = True
        except VelletError:
            wallet_accepts = False
        assert (refusals(crd, obj) == []) == wallet_accepts, (amount, currency)


def test_the_crd_currencies_are_the_wallets(crd: Crd) -> None:
    currency = crd.schema()["properties"]["spec"]["properties"]["currency"]
    assert sorted(currency["enum"]) == sorted(CURRENCY_EXPONENTS)
