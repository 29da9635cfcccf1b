"""Pure P2P rules: parsing, fingerprints, cursors, refusals. No servers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from vellet.common.errors import InvalidAmount, InvalidRequest, Unprocessable
from vellet.wallet.ledger import rules as ledger_rules

BOB = "100000000002"


def body(**changes: object) -> dict[str, object]:
    return {"kind": "p2p", "amount": "12.50", "currency": "INR", "to_account": BOB} | changes


def test_a_transfer_request_parses_to_minor_units() -> None:
    req = ledger_rules.parse_transfer(body(note="lunch"))
    assert (req.amount, req.currency, req.to_account, req.note) == (1250, "INR", BOB, "lunch")


def test_the_fingerprint_is_about_meaning_not_spelling() -> None:
    same = ledger_rules.parse_transfer(body(amount="12.5")).fingerprint()
    assert ledger_rules.parse_transfer(body()).fingerprint() == same
    assert ledger_rules.parse_transfer(body(amount="12.51")).fingerprint() != same
    assert ledger_rules.parse_transfer(body(note="x")).fingerprint() != same
    assert ledger_rules.parse_transfer(body(to_account="100000000003")).fingerprint() != same


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"kind": "deposit"}, InvalidRequest, "invalid_kind"),
        ({"currency": "XYZ"}, InvalidRequest, "invalid_currency"),
        ({"currency": 5}, InvalidRequest, "invalid_currency"),
        ({"amount": "0"}, InvalidAmount, "invalid_amount"),
        ({"amount": 12.5}, InvalidAmount, "invalid_amount"),
        ({"to_account": "12"}, InvalidRequest, "invalid_account_number"),
        ({"to_account": "１２３４５６７"}, InvalidRequest, "invalid_account_number"),
        ({"note": "x" * 141}, InvalidRequest, "invalid_request"),
        ({"note": "nul\x00"}, Unprocessable, "invalid_note"),  # a control character
        ({"note": "rtl\u202e"}, Unprocessable, "invalid_note"),  # a bidi override
        ({"note": "\ud800"}, InvalidRequest, "invalid_request"),
        ({"note": 7}, InvalidRequest, "invalid_request"),
        ({"extra": 1}, InvalidRequest, "invalid_request"),
    ],
)
def test_bad_transfer_requests_say_why(changes: dict[str, object], error: type, code: str) -> None:
    with pytest.raises(error) as caught:
        ledger_rules.parse_transfer(body(**changes))
    assert caught.value.code == code


def test_cursors_round_trip_to_the_microsecond() -> None:
    cursor = ledger_rules.Cursor(datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC), uuid.uuid4())
    assert ledger_rules.Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@@@",
        "bm9wZQ",
        "MTIzOng",
        "LTE6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw",
        "x" * 200,
    ],
)
def test_foreign_cursors_are_400(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        ledger_rules.Cursor.decode(text)
    assert caught.value.code == "invalid_cursor"


def test_refusals_are_fixed_problem_documents() -> None:
    stored = json.loads(ledger_rules.REFUSALS_JSON)
    assert set(stored) == {"unknown_recipient", "same_account", "currency_mismatch",
                           "insufficient_funds"}  # fmt: skip
    assert stored["unknown_recipient"]["status"] == 404
    assert stored["insufficient_funds"]["body"]["code"] == "insufficient_funds"
