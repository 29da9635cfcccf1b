"""Money: integers in minor units inside, decimal strings on the wire.

Floats never touch an amount. A wire amount is a string of digits with at
most the currency's exponent of decimals (``"125.50"`` for INR, ``"5"`` for
JPY); anything else is refused with a reason the caller can act on.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from vellet.common.errors import InvalidAmount, InvalidRequest

# ISO 4217 minor-unit exponents for the currencies Vellet accepts. A closed
# list on purpose: an unknown code is far more likely a typo than a currency.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "INR": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2,
    "SGD": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "CNY": 2,
    "JPY": 0, "KRW": 0, "ISK": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}  # fmt: skip

# The largest amount one transfer may carry, in minor units: 10^15 (ten
# trillion rupees) keeps every sum of many amounts far inside BIGINT.
MAX_MINOR: Final[int] = 10**15

_AMOUNT_RE: Final = re.compile(r"^(0|[1-9][0-9]{0,20})(?:\.([0-9]{1,10}))?$")


def exponent(currency: object) -> int:
    """The minor-unit exponent of ``currency``; refuses unknown codes."""
    if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
        raise InvalidRequest(
            f"currency must be one of {', '.join(sorted(CURRENCY_EXPONENTS))}",
            code="invalid_currency",
        )
    return CURRENCY_EXPONENTS[currency]


def parse_amount(value: object, currency: str) -> int:
    """Parse a wire amount (a decimal string) into positive minor units."""
    exp = exponent(currency)
    if not isinstance(value, str):
        raise InvalidAmount('amount must be a decimal string such as "125.50", not a number')
    text = value.strip()
    if text.startswith("-"):
        raise InvalidAmount("amount must be positive")
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise InvalidAmount(
            f'amount must be plain decimal digits such as "125.50", got {text[:32]!r}'
        )
    decimals = match.group(2) or ""
    if len(decimals) > exp:
        raise InvalidAmount(f"{currency} amounts have at most {exp} decimal places")
    minor = int(Decimal(text).scaleb(exp))
    if minor <= 0:
        raise InvalidAmount("amount must be greater than zero")
    if minor > MAX_MINOR:
        raise InvalidAmount(f"amount must be at most {format_amount(MAX_MINOR, currency)}")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Format minor units as the wire's decimal string (``12550`` → ``"125.50"``)."""
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"
