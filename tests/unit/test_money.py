"""Money parsing and formatting: the wire's decimal strings, never floats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vellet.common.errors import InvalidAmount, InvalidRequest
from vellet.common.money import MAX_MINOR, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("125.50", "INR", 12550),
        ("1", "INR", 100),
        ("0.01", "USD", 1),
        ("5", "JPY", 5),
        ("1.234", "KWD", 1234),
        ("10000000000000.00", "INR", MAX_MINOR),
    ],
)
def test_valid_amounts_parse_to_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("-1", "positive"),
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        ("1e3", "plain decimal"),
        ("0.001", "at most 2 decimal"),
        ("1" + "0" * 20, "at most"),
        (12.5, "decimal string"),
        (None, "decimal string"),
        ("", "plain decimal"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("01.5", "plain decimal"),
        (" 1 . 5", "plain decimal"),
        ("１２", "plain decimal"),
        (True, "decimal string"),
    ],
)
def test_invalid_amounts_say_why(value: object, why: str) -> None:
    with pytest.raises(InvalidAmount, match=why):
        parse_amount(value, "INR")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="currency must be one of"):
        parse_amount("1.00", "XXX")


@given(st.integers(min_value=1, max_value=MAX_MINOR), st.sampled_from(["INR", "JPY", "KWD"]))
def test_format_and_parse_round_trip(minor: int, currency: str) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor
