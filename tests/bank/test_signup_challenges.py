"""The bank's sign-up challenge API: the wallet's alone, codes kept only as keyed hashes,
mailed only to the address on file, never logged."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.support.bank import RunningBank, admin_token, auth, holder_email, service_token
from tests.support.mailbox import session_mailbox

CREATE = "/api/v1/signup-challenges"
VERIFY = "/api/v1/signup-challenges/verify"


async def post(http: aiohttp.ClientSession, bank: RunningBank, path: str, body: dict[str, Any],
               headers: dict[str, str]) -> tuple[int, Any]:  # fmt: skip
    async with http.post(bank.url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


# Minted when the test runs (a token made at collection could expire first).
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (dict, 401),
        (lambda: auth(service_token("operator")), 403),
        (lambda: auth(service_token(signer="operator")), 401),
        (lambda: auth(admin_token()), 401),
    ],
    ids=["no token", "the wallet's key, another sub", "another service's key", "the admin"],
)
async def test_only_the_wallet_may_create_or_verify_challenges(
    bank: RunningBank,
    http: aiohttp.ClientSession,
    headers: Callable[[], dict[str, str]],
    status: int,
) -> None:
    number = "123456780"
    await bank.create_account(number)
    created = await post(http, bank, CREATE, {"account_number": number}, headers())
    guessed = await post(http, bank, VERIFY, {"account_number": number, "code": "1"}, headers())
    assert (created[0], guessed[0]) == (status, status)
    assert session_mailbox().mail_to(holder_email(number)) == []


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the receiving SMTP server's (aiosmtpd debug-logs what it is sent)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))


async def test_codes_are_stored_only_as_keyed_hashes_and_never_logged(
    bank: RunningBank, bank_db: str, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = "123456781"
    await bank.create_account(number)
    wallet = auth(service_token("wallet"))

    status, body = await post(http, bank, CREATE, {"account_number": number}, wallet)
    code = await bank.signup_code(number)

    assert (status, body) == (202, {"status": "accepted"})
    conn = await asyncpg.connect(bank_db)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM signup_challenges WHERE account_number = $1", number
        )
    finally:
        await conn.close()
    assert row is not None
    stored = b"".join(str(v).encode() if not isinstance(v, bytes) else v for v in row.values())
    assert code.encode() not in stored
    assert bytes(row["code_hash"]) != hashlib.sha256(code.encode()).digest()  # keyed, not plain
    assert code not in ours(caplog)
    verified = await post(http, bank, VERIFY, {"account_number": number, "code": code}, wallet)
    assert verified[0] == 200
    assert verified[1]["email"] == holder_email(number)
    assert code not in ours(caplog)


async def test_the_code_goes_to_the_address_on_file_and_closed_or_unknown_get_none(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    wallet = auth(service_token("wallet"))
    open_, closed = "123456782", "123456783"
    await bank.create_account(open_, name="Emil Novak", email="emil@example.test")
    await bank.create_account(closed, email="closed@example.test")
    url = f"{bank.internal_url}/api/v1/accounts/{closed}"
    async with http.patch(url, json={"status": "closed"}, headers=auth(admin_token())) as resp:
        assert resp.status == 200
    answers = [
        await post(http, bank, CREATE, {"account_number": n}, wallet)
        for n in (open_, closed, "123456784")
    ]
    await session_mailbox().code_for("emil@example.test")  # the open one's mail arrives...

    assert answers == [(202, {"status": "accepted"})] * 3
    assert session_mailbox().mail_to("closed@example.test") == []  # ...and no other
    refused = await post(http, bank, CREATE, {"account_number": open_, "email": "x@y.z"}, wallet)
    assert refused[0] == 400
