"""A note is visible text on one line: it reaches the other party and e-mails.

Bidi overrides (U+202E) reorder what the recipient reads, zero-width
characters (U+200B) hide text, newlines forge lines in an e-mail. Unicode
categories Cc and Cf (and line/paragraph separators) are refused with 422
``invalid_note``, on every route that takes a note, and nothing is moved.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, WalletClient, fund, registered
from vellet.wallet.api.schemas import schemas

REFUSED = {
    "U+202E": "refund \u202e00.001",  # RIGHT-TO-LEFT OVERRIDE
    "U+200B": "pa\u200bid",  # ZERO WIDTH SPACE
    "U+000A": "rent\nBcc: eve@example.test",  # a newline
    "U+000D": "rent\r",
    "U+0009": "a\tb",
    "U+2028": "a\u2028b",  # LINE SEPARATOR
    "U+2066": "\u2066x",  # LEFT-TO-RIGHT ISOLATE
    "U+FEFF": "\ufeffx",  # ZERO WIDTH NO-BREAK SPACE
    "U+E0041": "flag\U000e0041",  # a TAG character, above the BMP
}


@pytest.fixture
async def pair(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> tuple[WalletClient, WalletClient]:
    alice = await registered(bank, wallet, http)
    bob = await registered(bank, wallet, http)
    await fund(wallet, alice, 100_00)
    return alice, bob


@pytest.mark.parametrize("char", list(REFUSED))
async def test_a_p2p_note_with_an_invisible_or_control_character_is_422(
    pair: tuple[WalletClient, WalletClient], char: str
) -> None:
    alice, bob = pair

    reply = await alice.send(bob.account_number or "", "1.00", note=REFUSED[char])

    assert (reply.status, reply.body["code"]) == (422, "invalid_note"), reply
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.body["detail"].startswith("note must be plain visible text")
    assert char in reply.body["detail"]
    history = await alice.call("GET", "/api/v1/transfers")
    assert [t["kind"] for t in history.body["items"]] == ["deposit"]  # nothing sent
    assert (await bob.me()).body["balance"]["available"] == "0.00"


@pytest.mark.parametrize("kind", ["deposit", "withdrawal"])
async def test_a_bank_transfer_note_is_held_to_the_same_rule(
    pair: tuple[WalletClient, WalletClient], kind: str
) -> None:
    alice, _ = pair
    body = {"kind": kind, "amount": "1.00", "currency": "INR", "note": "x\u202ey"}

    reply = await alice.call(
        "POST", "/api/v1/transfers", json=body, headers={"Idempotency-Key": f"note-{kind}"}
    )

    assert (reply.status, reply.body["code"]) == (422, "invalid_note"), reply
    assert "U+202E" in reply.body["detail"]


async def test_visible_text_of_any_script_and_ordinary_spaces_still_pass(
    pair: tuple[WalletClient, WalletClient],
) -> None:
    alice, bob = pair
    note = "Café 🎉 für Ünal, 東京 — शुक्रिया, شكرا"

    reply = await alice.send(bob.account_number or "", "1.00", note=note)

    assert reply.status == 201, reply
    assert reply.body["note"] == note


def test_the_openapi_note_pattern_refuses_the_same_characters() -> None:
    note_schema = schemas()["P2PTransferRequest"]["properties"]["note"]["oneOf"][0]
    pattern = re.compile(note_schema["pattern"])
    bmp = {c: text for c, text in REFUSED.items() if len(c) == 6}
    assert [c for c, text in bmp.items() if pattern.fullmatch(text)] == []
    assert pattern.fullmatch("Café 🎉 東京")
