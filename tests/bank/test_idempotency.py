"""The same transfer id, however often and however it arrives, moves money once."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from tests.bank.helpers import audit, db_fetchval, results_for, transfer
from tests.support.bank import RunningBank, admin_token, auth, service_token
from tests.support.keys import TEST_KEYS
from tests.support.waiting import eventually
from vellet.common import streams


async def _post(
    http: aiohttp.ClientSession, bank: RunningBank, body: dict[str, str]
) -> dict[str, str]:
    async with http.post(
        f"{bank.url}/api/v1/transfers", json=body, headers=auth(service_token())
    ) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


@pytest.mark.parametrize(
    ("opening", "amount", "status"),
    [("1000.00", "250.00", "succeeded"), ("100.00", "250.00", "rejected")],
)
async def test_twenty_concurrent_copies_over_http_and_stream_move_money_once(
    bank: RunningBank,
    bank_db: str,
    redis_url: str,
    http: aiohttp.ClientSession,
    opening: str,
    amount: str,
    status: str,
) -> None:
    await bank.create_account("111111111", balance=opening)
    body = transfer("111111111", amount, transfer_id=str(uuid.uuid4()))
    redis = streams.connect(redis_url)
    try:
        over_stream = [
            streams.publish(redis, streams.BANK_REQUESTS, body, TEST_KEYS["wallet"])
            for _ in range(10)
        ]
        over_http = [_post(http, bank, body) for _ in range(10)]
        done = await asyncio.gather(*over_http, *over_stream)
    finally:
        await redis.aclose()
    http_replies = done[:10]
    stream_replies = await eventually(
        lambda: results_for(redis_url, body["transfer_id"]), lambda found: len(found) >= 10
    )

    replies = http_replies + stream_replies
    assert len({r["bank_txn_id"] for r in replies}) == 1, "every reply carries the first outcome"
    assert {r["status"] for r in replies} == {status}
    rows = await db_fetchval(bank_db, "SELECT count(*) FROM transactions")
    assert rows == 1
    expected = 75000 if status == "succeeded" else 10000
    assert await db_fetchval(bank_db, "SELECT balance FROM accounts") == expected
    assert await audit(bank_db) == []


async def test_a_repeat_returns_the_first_outcome_even_after_things_change(
    bank: RunningBank, bank_db: str, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("111111111", balance="10.00")
    body = transfer("111111111", "50.00")
    first = await _post(http, bank, body)
    assert first["status"] == "rejected"
    assert first["reason"] == "insufficient_funds"
    # The account is topped up by another deposit's reversal... simulated by a withdrawal:
    await _post(http, bank, transfer("111111111", "5.00"))  # deposit 5 to the wallet
    await _post(http, bank, transfer("111111111", "5.00", direction="from_wallet"))
    again = await _post(http, bank, body)
    assert again == first


async def test_reusing_a_transfer_id_for_another_transfer_is_409(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("111111111")
    body = transfer("111111111", "1.00")
    await _post(http, bank, body)
    async with http.post(
        f"{bank.url}/api/v1/transfers",
        json={**body, "amount": "2.00"},
        headers=auth(service_token()),
    ) as resp:
        assert resp.status == 409
        assert (await resp.json())["code"] == "transfer_id_reused"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("missing", "unknown_account"),
        ("closed", "account_closed"),
        ("usd", "currency_mismatch"),
    ],
)
async def test_refusals_are_outcomes_not_errors(
    bank: RunningBank, bank_db: str, http: aiohttp.ClientSession, setup: str, reason: str
) -> None:
    if setup == "closed":
        await bank.create_account("111111111")
        async with http.patch(
            f"{bank.internal_url}/api/v1/accounts/111111111",
            json={"status": "closed"},
            headers=auth(admin_token()),
        ) as resp:
            assert resp.status == 200
    elif setup == "usd":
        await bank.create_account("111111111", currency="USD")
    for direction in ("to_wallet", "from_wallet"):
        reply = await _post(http, bank, transfer("111111111", "1.00", direction=direction))
        assert (reply["status"], reply["reason"]) == ("rejected", reason)
    assert await audit(bank_db) == []


async def test_withdrawal_returns_deposited_money(
    bank: RunningBank, bank_db: str, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("111111111", balance="100.00")
    assert (await _post(http, bank, transfer("111111111", "60.00")))["status"] == "succeeded"
    back = await _post(http, bank, transfer("111111111", "25.50", direction="from_wallet"))
    assert back["status"] == "succeeded"
    assert await db_fetchval(bank_db, "SELECT balance FROM accounts") == 6550
    assert await db_fetchval(bank_db, "SELECT balance FROM settlement") == 3450
    # The wallet can never take out more than it put in.
    over = await _post(http, bank, transfer("111111111", "34.51", direction="from_wallet"))
    assert (over["status"], over["reason"]) == ("rejected", "settlement_insufficient")
    assert await audit(bank_db) == []
