"""The circuit breaker's rules (pure: the test owns the clock)."""

from __future__ import annotations

from vellet.wallet.banking.breaker import Breaker


def test_it_opens_after_consecutive_failures_only() -> None:
    breaker = Breaker(failure_threshold=3, reset_after=5.0)
    breaker.failed(0.0)
    breaker.failed(0.1)
    breaker.succeeded()  # a success in between resets the count
    breaker.failed(0.2)
    breaker.failed(0.3)
    assert (breaker.state, breaker.allow(0.4)) == ("closed", True)
    breaker.failed(0.5)
    assert breaker.state == "open"
    assert not breaker.available
    assert not breaker.allow(5.4)  # still cooling down


def test_after_the_cool_down_exactly_one_trial_goes_through() -> None:
    breaker = Breaker(failure_threshold=1, reset_after=5.0)
    breaker.failed(10.0)
    assert breaker.allow(15.0)  # the trial
    assert breaker.state == "half_open"
    assert not breaker.allow(15.1)  # everyone else queues meanwhile
    assert not breaker.allow(19.9)


def test_a_successful_trial_closes_it_and_a_failed_one_reopens_it() -> None:
    breaker = Breaker(failure_threshold=2, reset_after=1.0)
    breaker.failed(0.0)
    breaker.failed(0.0)
    assert breaker.allow(1.0)
    breaker.failed(1.2)  # one failure is enough when half-open
    assert breaker.state == "open"
    assert not breaker.allow(2.1)
    assert breaker.allow(2.2)
    breaker.succeeded()
    assert (breaker.state, breaker.failures, breaker.available) == ("closed", 0, True)
    breaker.failed(3.0)
    assert breaker.state == "closed"  # the count starts again from zero


def test_a_trial_that_never_reports_back_does_not_wedge_it_half_open() -> None:
    breaker = Breaker(failure_threshold=1, reset_after=1.0)
    breaker.failed(0.0)
    assert breaker.allow(1.0)  # the trial's task is then cancelled: no report at all
    assert not breaker.allow(1.5)
    assert breaker.allow(2.0)  # given up on; another trial
