"""The rule of a batch (``bank.batch.plan_batch``): the same decisions as one at a time.

Each case is what :func:`executor.execute` would decide for the same
requests sent one after the other; the batch must neither allow a debit
the requests before it made unaffordable nor reject one they paid for.
"""

from __future__ import annotations

import uuid

from vellet.bank.batch import plan_batch
from vellet.bank.domain import AccountState, TransferRequest


def req(account: str, amount: int, direction: str = "to_wallet",
        currency: str = "INR") -> TransferRequest:  # fmt: skip
    return TransferRequest(uuid.uuid4(), account, direction, amount, currency)  # type: ignore[arg-type]


ACTIVE = AccountState("INR", 1_000, "active")


def test_insufficient_funds_is_decided_in_request_order() -> None:
    # 600 + 600 from 1,000: the first moves, the second finds 400 left, a third of 400 fits.
    plan = plan_batch([req("111111", 600), req("111111", 600), req("111111", 400)],
                      {"111111": ACTIVE}, {})  # fmt: skip
    assert plan.reasons == [None, "insufficient_funds", None]
    assert plan.accounts == {"111111": -1_000}
    assert plan.settlement == {"INR": 1_000}


def test_a_credit_earlier_in_the_batch_pays_for_a_later_debit() -> None:
    plan = plan_batch(
        [req("111111", 500, "from_wallet"), req("111111", 1_500)],
        {"111111": ACTIVE},
        {"INR": 500},
    )
    assert plan.reasons == [None, None]
    assert plan.accounts == {"111111": -1_000}
    assert plan.settlement == {"INR": 1_000}


def test_the_same_account_twice_nets_to_one_change_and_zero_is_no_change() -> None:
    plan = plan_batch(
        [req("111111", 300), req("111111", 300, "from_wallet")], {"111111": ACTIVE}, {}
    )
    assert plan.reasons == [None, None]
    assert plan.accounts == {}  # nothing to write
    assert plan.settlement == {}


def test_closed_unknown_and_mismatched_accounts_are_rejected_and_move_nothing() -> None:
    plan = plan_batch(
        [req("222222", 10), req("333333", 10), req("444444", 10), req("111111", 10, "from_wallet")],
        {"222222": AccountState("INR", 1_000, "closed"),
         "444444": AccountState("USD", 1_000, "active"), "111111": ACTIVE},
        {"INR": 10},
    )  # fmt: skip
    assert plan.reasons == ["account_closed", "unknown_account", "currency_mismatch", None]
    assert plan.accounts == {"111111": 10}
    assert plan.settlement == {"INR": -10}


def test_a_withdrawal_beyond_the_settlement_balance_is_short_even_after_deposits() -> None:
    # 100 in settlement, a deposit brings 200: a 300 withdrawal fits, the next 1 does not.
    plan = plan_batch(
        [req("111111", 200), req("555555", 300, "from_wallet"), req("555555", 1, "from_wallet")],
        {"111111": ACTIVE, "555555": ACTIVE},
        {"INR": 100},
    )
    assert plan.reasons == [None, None, "settlement_insufficient"]
    assert plan.accounts == {"111111": -200, "555555": 300}
    assert plan.settlement == {"INR": -100}


def test_no_settlement_row_yet_counts_as_zero() -> None:
    plan = plan_batch([req("111111", 1, "from_wallet"), req("111111", 5)], {"111111": ACTIVE}, {})
    assert plan.reasons == ["settlement_insufficient", None]
    assert plan.settlement == {"INR": 5}


def test_a_rejected_debit_does_not_change_the_running_balance() -> None:
    plan = plan_batch([req("111111", 2_000), req("111111", 1_000)], {"111111": ACTIVE}, {})
    assert plan.reasons == ["insufficient_funds", None]
    assert plan.accounts == {"111111": -1_000}
