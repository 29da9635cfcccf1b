"""``compare_books``' disagreement logic, row by row, without databases.

``Books.ok`` and :func:`disagreements` are the "exactly once, nothing lost"
verdict of the wallet-and-bank tests and of ``vellet bench drill``: a
disagreement they missed would pass every one of those. Each rule gets a
case that must be reported, by transfer id and in words the drill's summary
matches on ("never saw", "but the bank says").
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vellet.bench.books import Books, disagreements

ACCOUNT = "100000000001"


def wallet_row(state: str, amount: int = 100_00, account: str = ACCOUNT) -> dict[str, Any]:
    return {"state": state, "amount": amount, "from_account": account}


def bank_row(status: str, amount: int = 100_00, account: str = ACCOUNT) -> dict[str, Any]:
    return {"status": status, "amount": amount, "account_number": account}


def test_books_are_ok_only_without_problems() -> None:
    assert Books().ok
    assert not Books(problems=["anything"]).ok


@pytest.mark.parametrize(
    ("state", "status"), [("posted", "succeeded"), ("voided", "rejected"), ("failed", "rejected")]
)
def test_matching_outcomes_agree(state: str, status: str) -> None:
    tid = uuid.uuid4()
    assert disagreements({tid: wallet_row(state)}, {tid: bank_row(status)}) == []


@pytest.mark.parametrize("state", ["pending", "queued"])
def test_an_unfinished_transfer_is_a_disagreement_even_if_the_bank_agrees(state: str) -> None:
    tid = uuid.uuid4()
    assert disagreements({tid: wallet_row(state)}, {tid: bank_row("succeeded")}) == [
        f"{tid} still {state}"
    ]


@pytest.mark.parametrize("state", ["posted", "voided", "failed"])
def test_a_final_transfer_the_bank_never_saw(state: str) -> None:
    tid = uuid.uuid4()
    assert disagreements({tid: wallet_row(state)}, {}) == [
        f"{tid} is {state} but the bank never saw it"
    ]


@pytest.mark.parametrize(
    ("state", "status"), [("posted", "rejected"), ("voided", "succeeded"), ("failed", "succeeded")]
)
def test_opposite_outcomes(state: str, status: str) -> None:
    tid = uuid.uuid4()
    assert disagreements({tid: wallet_row(state)}, {tid: bank_row(status)}) == [
        f"{tid} is {state} but the bank says {status}"
    ]


@pytest.mark.parametrize(
    "theirs", [bank_row("succeeded", amount=100_01), bank_row("succeeded", account="100000000002")]
)
def test_the_bank_moving_another_amount_or_account(theirs: dict[str, Any]) -> None:
    tid = uuid.uuid4()
    assert disagreements({tid: wallet_row("posted")}, {tid: theirs}) == [
        f"{tid}: the bank moved another amount or account"
    ]


def test_a_bank_transaction_the_wallet_does_not_know() -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    found = disagreements(
        {ours: wallet_row("posted")}, {ours: bank_row("succeeded"), theirs: bank_row("rejected")}
    )
    assert found == [f"the bank executed {theirs}, unknown to the wallet"]


def test_every_disagreement_is_listed_not_only_the_first() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    ours = {
        ids[0]: wallet_row("posted"),
        ids[1]: wallet_row("queued"),
        ids[2]: wallet_row("posted"),
        ids[3]: wallet_row("voided"),
    }
    theirs = {ids[0]: bank_row("succeeded"), ids[3]: bank_row("succeeded"), ids[4]: bank_row("x")}
    assert disagreements(ours, theirs) == [
        f"{ids[1]} still queued",
        f"{ids[2]} is posted but the bank never saw it",
        f"{ids[3]} is voided but the bank says succeeded",
        f"the bank executed {ids[4]}, unknown to the wallet",
    ]
