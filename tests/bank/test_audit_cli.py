"""``vellet bank audit``: exit 0 when the books balance, 1 with the reasons when not.

Operators and scripts read the exit code, not the text: an audit that always
exited 0 would report broken books as healthy. The real command runs in a
child process against this test's own bank database.
"""

from __future__ import annotations

import asyncpg

from tests.support.bank import BANK_KEYS
from tests.support.cli import run_vellet
from tests.support.keys import key_env


async def audit(bank_db: str, redis_url: str) -> tuple[int | None, str]:
    return await run_vellet("bank", "audit", settings={
        "VELLET_BANK_DATABASE_URL": bank_db, "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_CODE_KEY": "c" * 32, **key_env(*BANK_KEYS),
    })  # fmt: skip


async def test_money_made_at_the_bank_fails_the_audit_with_exit_1_and_says_why(
    bank_db: str, redis_url: str
) -> None:
    conn = await asyncpg.connect(bank_db)
    try:
        await conn.execute(
            "INSERT INTO accounts (account_number, holder_name, email, currency, balance, "
            "opening_balance) VALUES ('300000000001', 'Audit Holder', 'a@example.test', 'INR', "
            "1000, 1000)"
        )
        assert await audit(bank_db, redis_url) == (0, "bank audit: books balance\n")

        await conn.execute(
            "UPDATE accounts SET balance = balance + 1 WHERE account_number = '300000000001'"
        )

        assert await audit(bank_db, redis_url) == (
            1,
            "bank audit: account 300000000001: expected 1000, found 1001\n"
            "bank audit: currency INR: expected 1000, found 1001\n"
            "bank audit: BOOKS DO NOT BALANCE\n",
        )
    finally:
        await conn.close()
