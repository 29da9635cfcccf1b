"""Concurrent debits never take an account below zero, and the books balance."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.bank.helpers import audit, db_fetchval, transfer
from tests.support.bank import RunningBank, auth, service_token


async def test_hundred_concurrent_debits_never_overdraw(
    bank: RunningBank, bank_db: str, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("222222222", balance="370.00")  # affords 37 of 100 x 10.00

    async def debit() -> str:
        async with http.post(
            f"{bank.url}/api/v1/transfers",
            json=transfer("222222222", "10.00"),
            headers=auth(service_token()),
        ) as resp:
            assert resp.status == 200
            return str((await resp.json())["status"])

    outcomes = await asyncio.gather(*(debit() for _ in range(100)))

    assert outcomes.count("succeeded") == 37
    assert outcomes.count("rejected") == 63
    assert await db_fetchval(bank_db, "SELECT balance FROM accounts") == 0
    assert await db_fetchval(bank_db, "SELECT balance FROM settlement") == 37000
    assert await audit(bank_db) == []


async def test_audit_sees_money_created_out_of_thin_air(bank: RunningBank, bank_db: str) -> None:
    # The audit is what the tests above trust; it must be able to fail.
    await bank.create_account("222222222", balance="10.00")
    await db_fetchval(bank_db, "UPDATE accounts SET balance = balance + 1 RETURNING 1")
    problems = await audit(bank_db)
    assert any("account 222222222" in p for p in problems)
    assert any("currency INR" in p for p in problems)
