"""The one parser of untrusted whole numbers, and the settings that use it."""

from __future__ import annotations

import pytest

from vellet.common.digits import decimal_number, whole_number
from vellet.common.errors import ConfigError, InvalidRequest
from vellet.common.settings import Env
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.ledger import rules as ledger_rules

#: Text that ``int()`` or ``float()`` reads (or ``isdigit()`` passes) but is
#: not a plain ASCII number.
NOT_ASCII_NUMBERS = ["²", "①", "٣", "５", "१२", "1_0", "+5", "-5", " 5", "5 ", "", "9" * 40]


@pytest.mark.parametrize("raw", NOT_ASCII_NUMBERS)
def test_whole_number_refuses_what_int_would_read(raw: str) -> None:
    assert whole_number(raw) is None


def test_whole_number_reads_ascii_digits() -> None:
    assert [whole_number(s) for s in ("0", "7", "0042", "1000")] == [0, 7, 42, 1000]
    assert whole_number(7) is None  # only text is parsed


@pytest.mark.parametrize("raw", ["nan", "inf", "1e3", "1_0", "٣", "５.5", "-1", "."])
def test_decimal_number_refuses_what_float_would_read(raw: str) -> None:
    assert decimal_number(raw) is None


def test_decimal_number_reads_plain_decimals() -> None:
    assert [decimal_number(s) for s in ("2", "0.5", ".5", "10.25")] == [2.0, 0.5, 0.5, 10.25]


@pytest.mark.parametrize("raw", ["８０８０", "٨٠", "1_000", "+5"])
def test_integer_settings_are_ascii_digits(raw: str) -> None:
    with pytest.raises(ConfigError, match="VELLET_X must be a whole number"):
        Env({"VELLET_X": raw}).integer("VELLET_X", 1)


@pytest.mark.parametrize("raw", ["nan", "inf", "1e3", "٣", "1_0"])
def test_number_settings_are_ascii_decimals(raw: str) -> None:
    with pytest.raises(ConfigError, match="VELLET_X must be a number"):
        Env({"VELLET_X": raw}).number("VELLET_X", 1.0)


@pytest.mark.parametrize(
    "parse",
    [
        ledger_rules.history_limit,
        banking_rules.parse_list_limit,
        banking_rules.parse_older_than,
    ],
)
@pytest.mark.parametrize("raw", ["²", "①", "٣", "1_0", "+5"])
def test_query_numbers_are_400_not_500(parse: object, raw: str) -> None:
    with pytest.raises(InvalidRequest):
        parse(raw)  # type: ignore[operator]
