"""SQL for users: find one by account number, create one with their wallet.

SQL only, one transaction per function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import asyncpg

from vellet.common.db import Pool
from vellet.wallet.database import SETTLEMENT


@dataclass(frozen=True)
class User:
    id: int
    account_number: str
    name: str
    email: str
    currency: str
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class NewUser:
    account_number: str
    name: str
    email: str
    currency: str
    password_hash: str = field(repr=False)


_USER_COLUMNS: Final = "id, account_number, name, email, currency, password_hash"


def _user(row: asyncpg.Record | None) -> User | None:
    return None if row is None else User(**dict(row))


async def user_by_account(pool: Pool, number: str) -> User | None:
    row = await pool.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE account_number = $1",  # noqa: S608 - constant
        number,
    )
    return _user(row)


async def insert_user(pool: Pool, new: NewUser) -> User | None:
    """Create a user, their wallet account and (once per currency) the
    settlement account. None when the account number is already registered."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO users (account_number, name, email, currency, password_hash) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_number) DO NOTHING "
            "RETURNING " + _USER_COLUMNS,
            new.account_number,
            new.name,
            new.email,
            new.currency,
            new.password_hash,
        )
        if row is None:
            return None
        await conn.execute(
            "INSERT INTO ledger_accounts (user_id, currency) VALUES ($1, $2)",
            row["id"],
            new.currency,
        )
        await conn.execute(
            "INSERT INTO ledger_accounts (system_code, currency) VALUES ($1, $2) "
            "ON CONFLICT (system_code, currency) WHERE system_code IS NOT NULL DO NOTHING",
            SETTLEMENT,
            new.currency,
        )
        return _user(row)


async def set_password_hash(pool: Pool, user_id: int, password_hash: str) -> None:
    await pool.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)
