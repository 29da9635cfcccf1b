"""``vellet wallet audit``: exit 0 when the ledger balances, 1 with the reasons when not.

Operators and scripts read the exit code, not the text: an audit that always
exited 0 would report a broken ledger as healthy. The real command runs in a
child process against this test's own database.
"""

from __future__ import annotations

from tests.support.cli import run_vellet
from tests.support.keys import key_env
from tests.wallet.ledger_helpers import make_user
from tests.wallet.stack import SESSION_SECRET
from vellet.common.db import Pool


async def audit(wallet_dsn: str, redis_url: str) -> tuple[int | None, str]:
    return await run_vellet("wallet", "audit", settings={
        "VELLET_WALLET_DATABASE_URL": wallet_dsn, "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_URL": "http://127.0.0.1:9", **key_env("wallet", ("bank", "operator")),
        "VELLET_SESSION_SECRET": SESSION_SECRET,
    })  # fmt: skip


async def test_a_forged_balance_fails_the_audit_with_exit_1_and_says_why(
    pool: Pool, wallet_dsn: str, redis_url: str
) -> None:
    alice = await make_user(pool, funds=100)
    assert await audit(wallet_dsn, redis_url) == (0, "wallet audit: ledger balances\n")

    await pool.execute(
        "UPDATE ledger_accounts SET balance = balance + 1 WHERE user_id = $1", alice.id
    )

    assert await audit(wallet_dsn, redis_url) == (
        1,
        "wallet audit: unbalanced_currencies = 1\n"
        "wallet audit: drifted_accounts = 1\n"
        "wallet audit: LEDGER DOES NOT BALANCE\n",
    )
