"""The operator's decisions, without a cluster, a wallet or a bank (pure functions)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.operator.conftest import load_sample
from vellet.operator import backoff, conditions, domain
from vellet.operator.domain import WalletTransfer

T0 = datetime.datetime(2026, 1, 1, 10, 0, 0, tzinfo=datetime.UTC)
LATER = T0 + datetime.timedelta(minutes=5)
ID = "6f1c1c1e-1b0a-4a43-9f64-2d1b3c1d7c11"


def transfer(state: str, **extra: Any) -> WalletTransfer:
    return WalletTransfer(
        id=ID, kind="deposit", state=state, amount="10.00", currency="INR", **extra
    )


def test_wallet_requests_follow_the_internal_api_contract() -> None:
    assert domain.wallet_request(load_sample("p2p")["spec"]) == {
        "kind": "p2p",
        "amount": "125.50",
        "currency": "INR",
        "from_account": "100000000000",
        "to_account": "100000000001",
        "note": "Rent for November",
    }
    assert domain.wallet_request(load_sample("withdrawal")["spec"]) == {
        "kind": "withdrawal",
        "amount": "250",
        "currency": "INR",
        "from_account": "100000000001",
    }


@pytest.mark.parametrize(
    ("state", "phase", "ready"),
    [
        ("pending", "Accepted", "False"),
        ("queued", "Queued", "False"),
        ("posted", "Posted", "True"),
        ("voided", "Voided", "True"),
        ("failed", "Failed", "True"),
    ],
)
def test_every_wallet_state_has_its_phase(state: str, phase: str, ready: str) -> None:
    status = domain.after_wallet_answer({}, transfer(state), now=T0, generation=1)
    assert status["phase"] == phase
    assert status["transferId"] == ID
    assert status["observedGeneration"] == 1
    assert conditions.condition(status, "Accepted") == {
        "type": "Accepted",
        "status": "True",
        "reason": "Recorded",
        "message": f"The wallet recorded transfer {ID}.",
        "lastTransitionTime": "2026-01-01T10:00:00Z",
        "observedGeneration": 1,
    }
    ready_condition = conditions.condition(status, "Ready")
    assert ready_condition is not None
    assert (ready_condition["status"], ready_condition["reason"]) == (ready, phase)
    assert domain.is_final(status) is (ready == "True")


def ready_since(status: dict[str, Any]) -> str:
    ready = conditions.condition(status, "Ready")
    assert ready is not None
    return str(ready["lastTransitionTime"])


def test_a_condition_keeps_its_transition_time_until_its_status_changes() -> None:
    queued = domain.after_wallet_answer({}, transfer("queued"), now=T0, generation=1)
    again = domain.after_wallet_answer(queued, transfer("queued"), now=LATER, generation=1)
    posted = domain.after_wallet_answer(again, transfer("posted"), now=LATER, generation=1)
    times = [ready_since(s) for s in (queued, again, posted)]
    assert times == ["2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"]
    assert [c["type"] for c in posted["conditions"]] == ["Accepted", "Ready"]  # one per type


def test_a_refusal_is_final_and_says_why() -> None:
    status = domain.after_refusal(
        {},
        "insufficient_funds",
        "the available balance does not cover this amount",
        now=T0,
        generation=1,
    )
    assert status["phase"] == "Failed"
    assert domain.is_final(status)
    assert "does not cover" in status["message"]
    assert status["lastError"].startswith("insufficient_funds: ")
    accepted = conditions.condition(status, "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("False", "InsufficientFunds")
    assert "transferId" not in status  # nothing was recorded, nothing moved


def test_a_temporary_error_keeps_the_phase_and_counts_attempts() -> None:
    status = domain.after_temporary_error({}, "the wallet did not answer", attempts=1, generation=1)
    assert (status["phase"], status["attempts"]) == ("Pending", 1)
    queued = {"phase": "Queued"}
    status = domain.after_temporary_error(queued, "http_503: down", attempts=4, generation=1)
    assert (status["phase"], status["attempts"], status["lastError"]) == (
        "Queued",
        4,
        "http_503: down",
    )
    assert not domain.is_final(status)


def test_bank_availability_is_a_condition() -> None:
    down = domain.bank_availability({}, False, now=T0, generation=1)
    condition = conditions.condition(down, "BankAvailable")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "HealthCheckFailed")
    up = domain.bank_availability(down, True, now=LATER, generation=1)
    condition = conditions.condition(up, "BankAvailable")
    assert condition is not None
    assert (condition["status"], condition["lastTransitionTime"]) == (
        "True",
        "2026-01-01T10:05:00Z",
    )


def test_stuck_means_queued_for_at_least_the_threshold() -> None:
    queued_at = "2026-01-01T10:00:00.000000Z"
    assert domain.is_stuck(transfer("queued", updated_at=queued_at), now=LATER, threshold=60)
    assert not domain.is_stuck(transfer("queued", updated_at=queued_at), now=LATER, threshold=600)
    assert not domain.is_stuck(transfer("pending", updated_at=queued_at), now=LATER, threshold=60)
    assert not domain.is_stuck(transfer("queued"), now=LATER, threshold=60)


def test_phase_changes_deserve_events_warnings_for_bad_news() -> None:
    assert domain.transition_event("Queued", "Queued") is None
    assert domain.transition_event(None, "Accepted") == (
        "Normal",
        "Accepted",
        "The wallet recorded the transfer; waiting for the bank.",
    )
    failed = domain.transition_event("Pending", "Failed")
    assert failed is not None
    assert failed[:2] == ("Warning", "Failed")


def test_wallet_codes_become_condition_reasons() -> None:
    assert domain.condition_reason("insufficient_funds") == "InsufficientFunds"
    assert domain.condition_reason("http_503") == "Http503"
    assert domain.condition_reason("") == "Unknown"


def test_statuses_written_by_the_domain_pass_the_crd(crd: Any) -> None:
    obj = load_sample("deposit")
    status = domain.after_wallet_answer({}, transfer("queued"), now=T0, generation=1)
    status |= domain.bank_availability(status, False, now=T0, generation=1)
    status |= domain.after_temporary_error(status, "bank down", attempts=2, generation=1)
    obj["status"] = status
    assert crd.admit(obj).errors == []
    obj["status"] = domain.after_refusal({}, "same_account", "no", now=T0, generation=1)
    assert crd.admit(obj).errors == []


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [backoff.retry_delay(n, base=0.5, cap=10) for n in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.retry_delay(10_000, base=1, cap=300) == 300  # no overflow, ever


def test_the_bank_is_asked_less_often_while_it_is_down() -> None:
    assert backoff.probe_delay(0, base=2, cap=16) == 2  # healthy: the normal interval
    assert [backoff.probe_delay(n, base=2, cap=16) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 16]


def test_bank_condition_changes_deserve_events_only_when_they_change() -> None:
    down = domain.bank_availability({}, False, now=T0, generation=1)
    up = domain.bank_availability(down, True, now=LATER, generation=1)
    event = domain.bank_event({}, down)
    assert event is not None
    assert event[:2] == ("Warning", "BankUnavailable")
    assert domain.bank_event(down, down) is None
    assert domain.bank_event(down, up) == ("Normal", "BankAvailable", "The bank answers again.")
    assert domain.bank_event({}, domain.bank_availability({}, True, now=T0, generation=1)) is None


def test_a_repeated_error_is_not_news() -> None:
    first = domain.error_event({}, "http_503: down")
    assert first == ("Warning", "Retrying", "Will retry: http_503: down")
    assert domain.error_event({"lastError": "http_503: down"}, "http_503: down") is None
    assert domain.error_event({"lastError": "http_503: down"}, "timeout") is not None


def test_a_stuck_transfer_is_re_driven_once_per_threshold() -> None:
    stuck = transfer("queued", updated_at="2026-01-01T10:00:00.000000Z")
    assert backoff.is_redrive_due(stuck, now=LATER, threshold=60, redriven_at=None)
    recently = LATER - datetime.timedelta(seconds=30)
    assert not backoff.is_redrive_due(stuck, now=LATER, threshold=60, redriven_at=recently)
    long_ago = LATER - datetime.timedelta(seconds=90)
    assert backoff.is_redrive_due(stuck, now=LATER, threshold=60, redriven_at=long_ago)
    fresh = transfer("queued", updated_at="2026-01-01T10:04:30.000000Z")
    assert not backoff.is_redrive_due(fresh, now=LATER, threshold=60, redriven_at=None)


def test_a_settled_deposit_clears_a_bank_outage() -> None:
    queued = domain.after_wallet_answer({}, transfer("queued"), now=T0, generation=1)
    queued |= domain.bank_availability(queued, False, now=T0, generation=1)
    posted = domain.after_wallet_answer(queued, transfer("posted"), now=LATER, generation=1)
    bank = conditions.condition(posted, "BankAvailable")
    assert bank is not None
    assert (bank["status"], bank["reason"]) == ("True", "BankAnswered")
    # A P2P transfer never involved the bank: no condition appears.
    p2p = WalletTransfer(id=ID, kind="p2p", state="posted", amount="1.00", currency="INR")
    assert conditions.condition(domain.after_wallet_answer({}, p2p, now=T0, generation=1),
                            "BankAvailable") is None  # fmt: skip
