"""Free text one party writes and another reads: visible characters only.

A transfer note reaches the other party's dashboard and e-mails, and a
holder's name reaches everyone who pays them. Invisible characters there
are tools for deceit, not for writing: a right-to-left override (U+202E)
makes "txt.exe" read "exe.txt" and reorders amounts, zero-width characters
(U+200B) hide text or make two names that look alike differ, and newlines
(or U+2028/U+2029) forge extra lines in an e-mail. So Unicode categories
Cc (controls, including tab and newline) and Cf (format characters) are
refused, and so are the line and paragraph separators (Zl, Zp). Ordinary
spaces are letters' neighbours, not controls, and stay.

The zero-width joiner (U+200D) is Cf too, so emoji sequences built with it
(a family) are refused; single emoji are fine. The rule stays simple on
purpose: one category test, no list of exceptions to audit.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Final

#: Categories never allowed in free text shown to another party.
REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def first_refused(text: str) -> str | None:
    """``"U+202E (RIGHT-TO-LEFT OVERRIDE)"`` for the first refused character, or None."""
    for ch in text:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            name = unicodedata.name(ch, "a control character")
            return f"U+{ord(ch):04X} ({name})"
    return None


def refusal(field: str, text: str) -> str | None:
    """The message that names ``field`` and why ``text`` is refused, or None if it is fine."""
    found = first_refused(text)
    if found is None:
        return None
    return (
        f"{field} must be plain visible text on one line: it contains {found}; "
        "control and invisible formatting characters (newlines, tabs, bidi overrides, "
        "zero-width characters) are not allowed"
    )


def _bmp_ranges() -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in REFUSED_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return ranges


@functools.cache
def schema_pattern() -> str:
    """An ECMA-262 (and Python ``re``) pattern for OpenAPI: no refused BMP character.

    Written with ``\\uXXXX`` escapes, so it needs no ``u`` flag; the few
    refused characters above the BMP (tags, musical formatting) are refused
    by the service all the same.
    """
    parts = [
        f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}"
        for lo, hi in _bmp_ranges()
        if lo < 0xD800 or lo > 0xDFFF  # surrogates are not characters of a JSON string
    ]
    return f"^[^{''.join(parts)}]*$"
