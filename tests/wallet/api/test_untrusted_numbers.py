"""Numbers in query strings are ASCII digits, nothing else: never a 500.

``"²".isdigit()`` is true and ``int("²")`` raises, so ``?limit=%C2%B2``
used to reach ``int()`` and answer 500. Other scripts' digits, signs, spaces
and ``_`` would be read by ``int()`` as numbers; they are refused the same.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, registered


@pytest.mark.parametrize(
    "raw",
    [
        "%C2%B2",  # ² superscript two: isdigit() true, int() fails
        "%E2%91%A0",  # ① circled one: isdigit() true, int() fails
        "%D9%A3",  # ٣ Arabic-Indic three: int() reads 3
        "%EF%BC%95",  # full-width five (U+FF15): int() reads 5
        "1_0",  # int() reads 10
        "%2B5",  # +5
        "%205",  # " 5"
        "9" * 40,  # longer than any limit
    ],
)
async def test_history_limit_in_anything_but_ascii_digits_is_400(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, raw: str
) -> None:
    alice = await registered(bank, wallet, http)

    reply = await alice.call("GET", f"/api/v1/transfers?limit={raw}")

    assert (reply.status, reply.body["code"]) == (400, "invalid_limit"), reply
    assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_an_ascii_limit_still_works(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    reply = await alice.call("GET", "/api/v1/transfers?limit=5")
    assert reply.status == 200, reply
