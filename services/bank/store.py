"""The bank's SQL, and nothing else.

Every money-moving statement is a conditional UPDATE that changes nothing
when the rule it guards would break (not enough money, account closed,
wrong currency); callers learn from the row count, never by reading first.
Row locks are always taken customer account first, settlement second, so
concurrent deposits and withdrawals cannot deadlock each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from vellet.bank.challenges import NewChallenge
from vellet.bank.domain import AccountState, AccountView, NewAccount, Outcome, TransferRequest
from vellet.common.db import Conn, Pool


async def find_transaction(conn: Conn, transfer_id: uuid.UUID) -> Outcome | None:
    row = await conn.fetchrow(
        "SELECT bank_txn_id, transfer_id, account_number, direction, amount, currency, "
        "status, reason FROM transactions WHERE transfer_id = $1",
        transfer_id,
    )
    if row is None:
        return None
    request = TransferRequest(
        transfer_id=row["transfer_id"],
        account_number=row["account_number"],
        direction=row["direction"],
        amount=row["amount"],
        currency=row["currency"],
    )
    if row["status"] == "succeeded":
        return Outcome(request, row["bank_txn_id"], "succeeded", None)
    return Outcome(request, row["bank_txn_id"], "rejected", row["reason"])


async def claim_transaction(conn: Conn, bank_txn_id: uuid.UUID, req: TransferRequest) -> bool:
    """Record the transfer as succeeded, unless it is known already.

    Inside the caller's transaction, so nobody sees the row before the
    movement (or its rejection) commits with it. A concurrent claim of the
    same transfer id waits here for this one to finish, then gets False.
    """
    row = await conn.fetchval(
        "INSERT INTO transactions (bank_txn_id, transfer_id, account_number, direction, "
        "amount, currency, status) VALUES ($1, $2, $3, $4, $5, $6, 'succeeded') "
        "ON CONFLICT (transfer_id) DO NOTHING RETURNING bank_txn_id",
        bank_txn_id, req.transfer_id, req.account_number, req.direction, req.amount,
        req.currency,
    )  # fmt: skip
    return row is not None


async def mark_rejected(conn: Conn, transfer_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE transactions SET status = 'rejected', reason = $2 WHERE transfer_id = $1",
        transfer_id,
        reason,
    )


async def debit_customer(conn: Conn, req: TransferRequest) -> bool:
    done = await conn.fetchval(
        "UPDATE accounts SET balance = balance - $3, updated_at = now() "
        "WHERE account_number = $1 AND currency = $2 AND status = 'active' AND balance >= $3 "
        "RETURNING 1",
        req.account_number, req.currency, req.amount,
    )  # fmt: skip
    return done is not None


async def credit_customer(conn: Conn, req: TransferRequest) -> bool:
    done = await conn.fetchval(
        "UPDATE accounts SET balance = balance + $3, updated_at = now() "
        "WHERE account_number = $1 AND currency = $2 AND status = 'active' RETURNING 1",
        req.account_number, req.currency, req.amount,
    )  # fmt: skip
    return done is not None


async def credit_settlement(conn: Conn, currency: str, amount: int) -> None:
    await conn.execute(
        "INSERT INTO settlement (currency, balance) VALUES ($1, $2) "
        "ON CONFLICT (currency) DO UPDATE "
        "SET balance = settlement.balance + EXCLUDED.balance, updated_at = now()",
        currency,
        amount,
    )


async def debit_settlement(conn: Conn, currency: str, amount: int) -> bool:
    done = await conn.fetchval(
        "UPDATE settlement SET balance = balance - $2, updated_at = now() "
        "WHERE currency = $1 AND balance >= $2 RETURNING 1",
        currency,
        amount,
    )
    return done is not None


async def account_state(conn: Conn, number: str) -> AccountState | None:
    row = await conn.fetchrow(
        "SELECT currency, balance, status FROM accounts WHERE account_number = $1", number
    )
    if row is None:
        return None
    return AccountState(row["currency"], row["balance"], row["status"])


async def account_view(pool: Pool, number: str) -> AccountView | None:
    row = await pool.fetchrow(
        "SELECT account_number, holder_name, email, currency, status FROM accounts "
        "WHERE account_number = $1",
        number,
    )
    if row is None:
        return None
    return AccountView(row[0], row[1], row[2], row[3], row[4])


async def insert_account(pool: Pool, new: NewAccount) -> AccountView | None:
    """Create an account; None when the number is taken."""
    row = await pool.fetchrow(
        "INSERT INTO accounts (account_number, holder_name, email, currency, balance, "
        "opening_balance) VALUES ($1, $2, $3, $4, $5, $5) "
        "ON CONFLICT (account_number) DO NOTHING "
        "RETURNING account_number, holder_name, email, currency, status",
        new.account_number, new.name, new.email, new.currency, new.balance,
    )  # fmt: skip
    if row is None:
        return None
    return AccountView(row[0], row[1], row[2], row[3], row[4])


async def set_status(pool: Pool, number: str, status: str) -> AccountView | None:
    row = await pool.fetchrow(
        "UPDATE accounts SET status = $2, updated_at = now() WHERE account_number = $1 "
        "RETURNING account_number, holder_name, email, currency, status",
        number,
        status,
    )
    if row is None:
        return None
    return AccountView(row[0], row[1], row[2], row[3], row[4])


async def balance(pool: Pool, number: str) -> int | None:
    value = await pool.fetchval("SELECT balance FROM accounts WHERE account_number = $1", number)
    return None if value is None else int(value)


# Per currency, the money in the bank never changes: customer balances plus
# Vellet's settlement account equal what the accounts were opened with; and
# each account's balance is its opening balance moved by its succeeded
# transactions. Every row returned is a discrepancy.
AUDIT_SQL = """
WITH moved AS (
    SELECT account_number,
           sum(CASE direction WHEN 'from_wallet' THEN amount ELSE -amount END) AS delta
    FROM transactions WHERE status = 'succeeded' GROUP BY account_number
), per_account AS (
    SELECT 'account ' || a.account_number AS what,
           a.opening_balance + coalesce(m.delta, 0) AS expected, a.balance AS actual
    FROM accounts a LEFT JOIN moved m USING (account_number)
), per_currency AS (
    SELECT 'currency ' || c.currency AS what,
           (SELECT coalesce(sum(opening_balance), 0) FROM accounts WHERE currency = c.currency)
               AS expected,
           (SELECT coalesce(sum(balance), 0) FROM accounts WHERE currency = c.currency)
             + coalesce((SELECT balance FROM settlement s WHERE s.currency = c.currency), 0)
               AS actual
    FROM (SELECT currency FROM accounts UNION SELECT currency FROM settlement) c
)
SELECT what, expected, actual FROM per_account WHERE expected <> actual
UNION ALL
SELECT what, expected, actual FROM per_currency WHERE expected <> actual
"""


async def audit(pool: Pool | Conn, give_up_after: float | None = None) -> list[str]:
    rows = await pool.fetch(AUDIT_SQL, timeout=give_up_after)
    return [f"{r['what']}: expected {r['expected']}, found {r['actual']}" for r in rows]


# --- sign-up challenges ----------------------------------------------------------


async def put_challenge(pool: Pool, new: NewChallenge, ttl_seconds: int) -> None:
    """Store ``new`` as the account's one live challenge (replacing any other)."""
    async with pool.acquire() as conn, conn.transaction():
        # Expired rows go as new ones come: the expiry index keeps this a probe.
        await conn.execute("DELETE FROM signup_challenges WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO signup_challenges (account_number, challenge_id, code_hash, expires_at) "
            "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) "
            "ON CONFLICT (account_number) DO UPDATE SET challenge_id = EXCLUDED.challenge_id, "
            "code_hash = EXCLUDED.code_hash, attempts = 0, expires_at = EXCLUDED.expires_at, "
            "created_at = now()",
            new.account_number, new.challenge_id, new.code_hash, float(ttl_seconds),
        )  # fmt: skip


async def use_challenge(
    pool: Pool, number: str, max_attempts: int, check: Callable[[uuid.UUID, bytes], bool]
) -> bool:
    """Spend one attempt on the account's live challenge; True if ``check`` accepts it.

    The row is locked for the whole decision, so concurrent guesses are
    counted one after the other and one right code succeeds once. A match
    deletes the challenge (single use); so does the attempt that uses up
    the budget, and a guess at an expired one: a dead challenge is gone.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT challenge_id, code_hash, attempts, expires_at > now() AS live "
            "FROM signup_challenges WHERE account_number = $1 FOR UPDATE",
            number,
        )
        if row is None:
            return False
        attempts = int(row["attempts"]) + 1
        ok = bool(row["live"]) and attempts <= max_attempts
        ok = ok and check(row["challenge_id"], bytes(row["code_hash"]))
        if ok or not row["live"] or attempts >= max_attempts:
            await conn.execute("DELETE FROM signup_challenges WHERE account_number = $1", number)
        else:
            await conn.execute(
                "UPDATE signup_challenges SET attempts = $2 WHERE account_number = $1",
                number,
                attempts,
            )
        return ok
