"""The ledger invariant as a metric: the wallet exports the last result.

The test corrupts the books behind the wallet's back (a balance changed
without an entry, which no code path does) and waits for the next run to
say so: without the background check the metric would never turn to 0.
"""

from __future__ import annotations

import aiohttp

from tests.support.audits import FAST_AUDIT, audit_reads, tamper
from tests.support.bank import RunningBank
from tests.wallet.stack import fund, registered, start_wallet


async def test_wallet_exports_the_ledger_invariant(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url, audit=FAST_AUDIT)
    try:
        client = await registered(bank, wallet, http)
        await fund(wallet, client, 10_000)
        good = await audit_reads(http, wallet.internal_url, "wallet_ledger", 1)
        assert good["vellet_audit_violations"] == 0
        assert good["vellet_audit_last_run_timestamp_seconds"] > 0
        # Money out of nowhere: a balance no entry explains.
        await tamper(wallet_dsn, "UPDATE ledger_accounts SET balance = balance + 1 "
                     "WHERE user_id IS NOT NULL")  # fmt: skip
        bad = await audit_reads(http, wallet.internal_url, "wallet_ledger", 0)
        assert bad["vellet_audit_violations"] >= 1
        assert (
            bad["vellet_audit_last_run_timestamp_seconds"]
            >= good["vellet_audit_last_run_timestamp_seconds"]
        )
    finally:
        await wallet.stop()
