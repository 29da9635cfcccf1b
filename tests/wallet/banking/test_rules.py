"""Pure rules of deposits and withdrawals: requests, bank outcomes, states."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vellet.common.errors import InvalidAmount, InvalidRequest
from vellet.wallet.banking import rules as banking_rules

TID = uuid.UUID("5f0e8a56-0d5c-4c1e-9d1b-3a2f1e0c9b8a")
TXN = uuid.UUID("9b1c0000-0d5c-4c1e-9d1b-3a2f1e0c9b8a")


def body(**changes: Any) -> dict[str, Any]:
    return {"kind": "withdrawal", "amount": "12.50", "currency": "INR"} | changes


def test_a_request_parses_to_minor_units_and_its_direction() -> None:
    req = banking_rules.parse_bank_transfer(body(note="rent"))
    assert (req.kind, req.amount, req.currency, req.note) == ("withdrawal", 1250, "INR", "rent")
    assert req.direction == "from_wallet"
    assert banking_rules.parse_bank_transfer(body(kind="deposit")).direction == "to_wallet"


def test_the_fingerprint_covers_the_kind() -> None:
    withdrawal = banking_rules.parse_bank_transfer(body())
    assert (
        withdrawal.fingerprint()
        == banking_rules.parse_bank_transfer(body(amount="12.5")).fingerprint()
    )
    assert (
        withdrawal.fingerprint()
        != banking_rules.parse_bank_transfer(body(kind="deposit")).fingerprint()
    )


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"kind": "loan"}, InvalidRequest, "invalid_kind"),
        ({"kind": "p2p"}, InvalidRequest, "invalid_kind"),  # not a bank movement
        ({"to_account": "100000000002"}, InvalidRequest, "invalid_request"),
        ({"from_account": "100000000002"}, InvalidRequest, "invalid_request"),
        ({"currency": None}, InvalidRequest, "invalid_currency"),
        ({"amount": "-1"}, InvalidAmount, "invalid_amount"),
        ({"amount": "1.001"}, InvalidAmount, "invalid_amount"),
        ({"note": "x" * 141}, InvalidRequest, "invalid_request"),
    ],
)
def test_bad_requests_say_why(changes: dict[str, Any], error: type, code: str) -> None:
    with pytest.raises(error) as caught:
        banking_rules.parse_bank_transfer(body(**changes))
    assert caught.value.code == code


def test_what_the_bank_is_asked() -> None:
    assert banking_rules.bank_request(TID, "100000000001", "deposit", 12345, "INR") == {
        "transfer_id": str(TID), "account_number": "100000000001", "direction": "to_wallet",
        "amount": "123.45", "currency": "INR",
    }  # fmt: skip


def outcome(**changes: Any) -> dict[str, Any]:
    return {"transfer_id": str(TID), "bank_txn_id": str(TXN), "status": "rejected",
            "reason": "account_closed", "account_number": "100000000001",
            "direction": "from_wallet", "amount": "12.50", "currency": "INR"} | changes  # fmt: skip


def test_a_refusal_voids_a_withdrawal_and_fails_a_deposit_with_the_banks_reason() -> None:
    result = banking_rules.parse_bank_result(outcome())
    assert (result.final_state("withdrawal"), result.final_state("deposit")) == ("voided", "failed")
    assert result.failure_reason() == "account_closed"
    ok = banking_rules.parse_bank_result(outcome(status="succeeded", reason=None))
    assert (ok.final_state("withdrawal"), ok.failure_reason()) == ("posted", None)


def test_an_outcome_that_describes_another_movement_is_a_contradiction() -> None:
    result = banking_rules.parse_bank_result(outcome())
    assert not result.contradicts("withdrawal", "100000000001", 1250, "INR")
    assert result.contradicts("deposit", "100000000001", 1250, "INR")
    assert result.contradicts("withdrawal", "100000000002", 1250, "INR")
    assert result.contradicts("withdrawal", "100000000001", 1251, "INR")


@pytest.mark.parametrize(
    "bad",
    [outcome(status="maybe"), outcome(bank_txn_id="x"), outcome(amount="1.2.3"),
     outcome(reason=5), outcome(transfer_id="nope"), ["not", "an", "object"]],
)  # fmt: skip
def test_garbage_from_the_bank_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every fault is the same fault
        banking_rules.parse_bank_result(bad)


def test_an_http_answer_about_another_transfer_is_refused() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        banking_rules.parse_bank_result(outcome(), uuid.uuid4())
    assert banking_rules.parse_bank_result(outcome(), TID).transfer_id == TID


@pytest.mark.parametrize(
    ("raw", "ok"), [(None, 60), ("0", 0), ("3600", 3600), ("-1", None), ("1.5", None),
                    ("９", None), ("x", None)],
)  # fmt: skip
def test_older_than_is_whole_seconds(raw: str | None, ok: int | None) -> None:
    if ok is None:
        with pytest.raises(InvalidRequest):
            banking_rules.parse_older_than(raw)
    else:
        assert banking_rules.parse_older_than(raw) == ok


@pytest.mark.parametrize("field", ["account_number", "direction", "amount", "currency",
                                   "transfer_id", "bank_txn_id", "status"])  # fmt: skip
def test_an_outcome_that_does_not_say_what_it_moved_is_refused_not_trusted(field: str) -> None:
    partial = {k: v for k, v in outcome().items() if k != field}
    with pytest.raises(banking_rules.MissingField, match=field):
        banking_rules.parse_bank_result(partial)


def test_finishing_moves_the_ledger_as_the_single_path_does() -> None:
    finish = banking_rules.Finish.of
    assert finish(7, "deposit", True, 40) == banking_rules.Finish(7, 40, 0, -40)
    assert finish(7, "deposit", False, 40) == banking_rules.Finish(7, 0, 0, 0)
    # A withdrawal releases its reservation either way; posted, the money leaves too.
    assert finish(7, "withdrawal", True, 40) == banking_rules.Finish(7, -40, -40, 40)
    assert finish(7, "withdrawal", False, 40) == banking_rules.Finish(7, 0, -40, 0)


def test_each_event_gets_the_balance_right_after_its_own_transfer() -> None:
    finish = banking_rules.Finish.of
    batch = [
        finish(1, "deposit", True, 10),
        finish(2, "withdrawal", False, 5),  # voided: 5 available again
        finish(1, "withdrawal", True, 30),  # posted: available unchanged
        finish(1, "deposit", True, 1),
        finish(2, "deposit", False, 99),
    ]
    after = banking_rules.available_after_each({1: 100, 2: 0}, batch)
    assert after == [110, 5, 110, 111, 5]
    # The last event of each account states its final balance.
    assert banking_rules.net_by_account(batch) == {1: (-19, -30), 2: (0, -5)}


def test_accounts_whose_changes_cancel_out_are_not_written() -> None:
    finish = banking_rules.Finish.of
    assert banking_rules.net_by_account([finish(3, "deposit", False, 10)]) == {}
