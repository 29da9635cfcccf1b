"""The dashboard's pure rules: who hears an event, what they are told, how a transfer reads."""

from __future__ import annotations

import json
from typing import Any

from vellet.wallet.web import rules

EVENT: dict[str, Any] = {
    "event_id": "e1",
    "transfer_id": "t1",
    "kind": "p2p",
    "state": "posted",
    "amount": "5.00",
    "currency": "INR",
    "note": "secret note",
    "parties": [
        {"role": "sender", "account_number": "111111", "name": "Ann", "email": "a@x.test",
         "available_balance": "95.00"},
        {"role": "recipient", "account_number": "222222", "name": "Ben", "email": "b@x.test",
         "available_balance": "5.00"},
    ],
}  # fmt: skip


def test_an_event_is_heard_by_its_parties_only() -> None:
    assert rules.audience(EVENT) == {"111111", "222222"}
    assert rules.audience({"parties": [{"account_number": 3}, "junk", {}]}) == frozenset()
    assert rules.audience({}) == frozenset()


def test_the_socket_is_told_which_transfer_changed_and_nothing_else() -> None:
    message = rules.live_message(EVENT)
    assert message is not None
    assert json.loads(message) == {"type": "transfer", "transfer_id": "t1", "state": "posted"}
    for private in ("Ann", "b@x.test", "95.00", "secret note"):
        assert private not in message
    assert rules.live_message({"transfer_id": 1, "state": "posted"}) is None


def _transfer(**fields: Any) -> dict[str, Any]:
    base = {"id": "t1", "kind": "p2p", "state": "posted", "amount": "5.00", "currency": "INR",
            "from_account": "111111", "to_account": "222222", "note": None,
            "failure_reason": None, "created_at": "2026-01-02T03:04:05.000000Z",
            "updated_at": "2026-01-02T03:04:06.000000Z"}  # fmt: skip
    return base | fields


def test_a_payment_reads_from_each_side() -> None:
    sent = rules.transfer_view(_transfer(), "111111")
    got = rules.transfer_view(_transfer(), "222222")
    assert (sent.title, sent.signed_amount, sent.incoming) == ("To 222222", "\u22125.00", False)
    assert (got.title, got.signed_amount, got.incoming) == ("From 111111", "+5.00", True)
    assert got.to_label == "you (222222)"
    assert got.created_at == "2026-01-02 03:04:05 UTC"


def test_bank_transfers_name_the_bank_and_the_wallet_and_explain_a_refusal() -> None:
    deposit = rules.transfer_view(
        _transfer(kind="deposit", state="failed", from_account="111111", to_account="111111",
                  failure_reason="insufficient_funds"), "111111")  # fmt: skip
    assert (deposit.title, deposit.from_label, deposit.to_label) == (
        "From your bank", "your bank account 111111", "your wallet")  # fmt: skip
    assert (
        deposit.failure_reason == "Your bank account does not have enough money for this deposit."
    )
    withdrawal = rules.transfer_view(
        _transfer(kind="withdrawal", from_account="111111", to_account="111111"), "111111"
    )
    assert (withdrawal.title, withdrawal.signed_amount) == ("To your bank", "\u22125.00")
    assert rules.failure_text("new_reason") == "The bank refused it (new_reason)."


def test_a_session_fingerprint_names_it_without_carrying_it() -> None:
    token = "header.payload.signature"
    print_ = rules.session_fingerprint(token)
    assert len(print_) == 64
    assert token not in print_
    assert print_ == rules.session_fingerprint(token)
    assert print_ != rules.session_fingerprint(token + "x")
