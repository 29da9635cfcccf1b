"""Pure rules: event validation, wording per kind/state/role, backoff, headers."""

from __future__ import annotations

import email
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest

from tests.notifier.factories import ASHA, BO, bank, p2p
from vellet.common.errors import ConfigError
from vellet.notifier.compose import Composer, InvalidAddress, check_address, sender_address
from vellet.notifier.domain import MalformedEvent, backoff_ms, one_line, parse_event

SENDER = Address(display_name="Vellet", addr_spec="no-reply@vellet.test")
COMPOSER = Composer(SENDER)


def mail(event: Any, index: int = 0) -> tuple[str, str, str]:
    parsed = parse_event(event)
    msg = email.message_from_bytes(
        COMPOSER.message(parsed, parsed.parties[index]), policy=policy.default
    )
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return str(msg["Subject"]), text, html


@pytest.mark.parametrize(
    ("event", "index", "subject", "says"),
    [
        (p2p(), 0, "You sent 125.50 INR to Bo Chen", "Available balance: 874.50 INR"),
        (p2p(), 1, "You received 125.50 INR from Asha Rao", "Available balance: 1125.50 INR"),
        (
            p2p(state="failed", failure_reason="limit"),
            0,
            "Your payment of 125.50 INR to Bo Chen did not go through",
            "No money left your wallet.",
        ),
        (
            p2p(state="voided", failure_reason="limit"),
            1,
            "A payment of 125.50 INR from Asha Rao did not go through",
            "Reason:            limit",
        ),
        (bank("deposit"), 0, "500.00 INR from your bank account is now in your wallet", "1500.00"),
        (
            bank("deposit", state="voided", failure_reason="bank said no"),
            0,
            "Your deposit of 500.00 INR was cancelled",
            "Nothing was added to your wallet.",
        ),
        (
            bank("deposit", state="failed", failure_reason="bank said no"),
            0,
            "Your deposit of 500.00 INR failed",
            "Reason:            bank said no",
        ),
        (
            bank("withdrawal"),
            0,
            "500.00 INR was sent from your wallet to your bank account",
            "Available balance: 1500.00 INR",
        ),
        (
            bank("withdrawal", state="voided", failure_reason="account closed"),
            0,
            "Your withdrawal of 500.00 INR was cancelled",
            "The money stays in your wallet",
        ),
        (
            bank("withdrawal", state="failed", failure_reason="account closed"),
            0,
            "Your withdrawal of 500.00 INR failed",
            "account closed",
        ),
    ],
)
def test_every_kind_state_and_role_has_its_own_words(
    event: Any, index: int, subject: str, says: str
) -> None:
    got_subject, text, html = mail(event, index)
    assert got_subject == subject
    assert says in text
    assert event["transfer_id"] in text
    assert event["transfer_id"] in html


def test_balance_is_left_out_when_unknown() -> None:
    _, text, html = mail(bank("deposit", balance=None))
    assert "Available balance" not in text
    assert "Available balance" not in html


def test_amounts_are_shown_in_the_currency_exponent() -> None:
    subject, _, _ = mail(p2p(amount="5", currency="JPY"))
    assert subject == "You sent 5 JPY to Bo Chen"
    subject, _, _ = mail(p2p(amount="7.5", currency="KWD"))
    assert subject == "You sent 7.500 KWD to Bo Chen"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 12.5}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"currency": "XXX"}, "amount"),
        ({"kind": "refund"}, "kind"),
        ({"state": "pending"}, "state"),
        ({"event_id": "a b"}, "event_id"),
        ({"event_id": "x" * 200}, "event_id"),
        ({"parties": []}, "parties"),
        ({"parties": "everyone"}, "parties"),
        ({"note": 5}, "note"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(change: dict[str, Any], reason: str) -> None:
    event: Any = {**p2p(), **change}
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(event)


def test_a_party_listed_twice_is_malformed() -> None:
    event: Any = p2p()
    event["parties"].append(dict(event["parties"][0]))
    with pytest.raises(MalformedEvent, match="repeat"):
        parse_event(event)


def test_one_line_removes_every_line_break_and_control_character() -> None:
    assert one_line("a\r\nBcc: x\u2028y\x00z\t w", 100) == "a Bcc: x y z w"
    assert one_line("x" * 10, 5) == "xxxx…"


@pytest.mark.parametrize(
    "address",
    ["bo@example.test\r\nBcc: e@x", "bo@example.test, eve@x", "Bo <bo@x>", "bö@x.test", "", "a@"],
)
def test_only_plain_addresses_are_written_to(address: str) -> None:
    with pytest.raises(InvalidAddress):
        check_address(address)


def test_the_from_address_is_checked_at_start() -> None:
    assert sender_address("Vellet <no-reply@vellet.test>").addr_spec == "no-reply@vellet.test"
    with pytest.raises(ConfigError):
        sender_address("not an address")


def test_the_same_event_and_party_always_gives_the_same_bytes() -> None:
    event = parse_event(p2p())
    first = COMPOSER.message(event, event.parties[0])
    again = Composer(SENDER).message(event, event.parties[0])
    other = COMPOSER.message(event, event.parties[1])
    assert first == again
    assert first != other
    assert f"<{event.event_id}.sender.{ASHA['account_number']}@vellet.test>".encode() in first
    assert f"<{event.event_id}.recipient.{BO['account_number']}@vellet.test>".encode() in other


def test_backoff_doubles_is_capped_and_jittered_within_half() -> None:
    assert [backoff_ms(n, 100, 1000, 1.0 - 1e-9) for n in (1, 2, 3, 4, 5, 50)] == [
        99,
        199,
        399,
        799,
        999,
        999,
    ]
    assert [backoff_ms(n, 100, 1000, 0.0) for n in (1, 2, 5)] == [50, 100, 500]
