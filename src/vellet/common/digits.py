"""Whole numbers from untrusted text, in ASCII digits only.

``str.isdigit()`` is true for ``"²"`` and ``"①"``, and ``int()`` reads
full-width, Arabic-Indic and Devanagari digits, surrounding spaces, a sign
and ``_`` separators. A check with one and a parse with the other disagree
(``"²".isdigit()`` passes, ``int("²")`` raises: a 500), and even when they
agree two spellings of one number slip past anything that compares text.
Every number a client, a token or the environment hands Vellet goes through
:func:`whole_number` instead: ``[0-9]+`` and nothing else.
"""

from __future__ import annotations

import re
from typing import Final

#: Longer than any number Vellet accepts; refused before ``int()`` sees it
#: (CPython refuses to convert over 4300 digits anyway, with a ValueError).
MAX_DIGITS: Final = 30

_DECIMAL: Final = re.compile(r"(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")


def is_ascii_digits(text: str) -> bool:
    """True when ``text`` is one or more of ``0``-``9`` and nothing else."""
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def whole_number(text: object) -> int | None:
    """The value of a string of ASCII digits; None for anything else.

    No sign, no spaces, no ``_``, no other script's digits: callers say in
    their own words what range they accept, this only says "is a number".
    """
    if not isinstance(text, str) or not is_ascii_digits(text):
        return None
    return int(text)


def decimal_number(text: object) -> float | None:
    """``"2"``, ``"0.5"``, ``".5"`` as a float; None for anything else.

    ``float()`` also reads ``"nan"`` (which passes every ``<`` check),
    ``"inf"``, ``"1e9"``, ``"1_0"`` and other scripts' digits. For settings
    such as timeouts and intervals, never for money (see ``money``).
    """
    if not isinstance(text, str) or _DECIMAL.fullmatch(text) is None:
        return None
    return float(text)
