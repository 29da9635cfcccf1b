"""The bank's audit as a metric: the bank exports the last result.

The test changes a balance behind the bank's back (no transaction explains
it) and waits for the next run to say so.
"""

from __future__ import annotations

import aiohttp

from tests.support.audits import FAST_AUDIT, audit_reads, tamper
from tests.support.bank import start_bank


async def test_bank_exports_its_audit(
    bank_db: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    bank = await start_bank(bank_db, redis_url, audit=FAST_AUDIT)
    try:
        await bank.create_account("990000000001")
        await audit_reads(http, bank.internal_url, "bank_books", 1)
        await tamper(bank_db, "UPDATE accounts SET balance = balance + 1")
        bad = await audit_reads(http, bank.internal_url, "bank_books", 0)
        assert bad["vellet_audit_violations"] >= 1
    finally:
        await bank.stop()
