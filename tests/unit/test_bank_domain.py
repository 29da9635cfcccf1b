"""The bank's pure rules: parsing requests and explaining refusals."""

from __future__ import annotations

import uuid

import pytest

from vellet.bank.domain import (
    AccountState,
    TransferRequest,
    demo_accounts,
    parse_new_account,
    parse_transfer_request,
    rejection_reason,
)
from vellet.common.errors import InvalidAmount, InvalidRequest

REQ = TransferRequest(uuid.uuid4(), "123456789", "to_wallet", 500, "INR")


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        (None, "unknown_account"),
        (AccountState("INR", 10_000, "closed"), "account_closed"),
        (AccountState("USD", 10_000, "active"), "currency_mismatch"),
        (AccountState("INR", 100, "active"), "insufficient_funds"),
    ],
)
def test_rejection_reasons(account: AccountState | None, reason: str) -> None:
    assert rejection_reason(account, REQ) == reason


def test_parse_transfer_request() -> None:
    tid = str(uuid.uuid4())
    req = parse_transfer_request({"transfer_id": tid, "account_number": "123456789",
                                  "direction": "from_wallet", "amount": "12.34",
                                  "currency": "INR"})  # fmt: skip
    assert req == TransferRequest(uuid.UUID(tid), "123456789", "from_wallet", 1234, "INR")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"transfer_id": "x"}, InvalidRequest),
        ({"transfer_id": 5}, InvalidRequest),
        ({"direction": "up"}, InvalidRequest),
        ({"amount": "0.001"}, InvalidAmount),
        ({"account_number": "1234"}, InvalidRequest),
        ({"currency": "inr"}, InvalidRequest),
    ],
)
def test_parse_transfer_request_refuses(change: dict[str, object], error: type[Exception]) -> None:
    data = {
        "transfer_id": str(uuid.uuid4()),
        "account_number": "123456789",
        "direction": "to_wallet",
        "amount": "1.00",
        "currency": "INR",
        **change,
    }
    with pytest.raises(error):
        parse_transfer_request(data)


def test_new_account_allows_zero_opening_balance_and_checks_email() -> None:
    base = {
        "account_number": "123456789",
        "name": "A",
        "email": "a@example.test",
        "currency": "INR",
    }
    assert parse_new_account(base).balance == 0
    assert parse_new_account({**base, "balance": "5.25"}).balance == 525
    with pytest.raises(InvalidRequest, match="email"):
        parse_new_account({**base, "email": "not-an-address"})
    with pytest.raises(InvalidAmount):
        parse_new_account({**base, "balance": "-1"})


def test_demo_accounts_are_deterministic_and_valid() -> None:
    first, again = demo_accounts(25), demo_accounts(25)
    assert first == again
    assert len({a.account_number for a in first}) == 25
    for account in first:
        parse_new_account(
            {
                "account_number": account.account_number,
                "name": account.name,
                "email": account.email,
                "currency": account.currency,
            }
        )
