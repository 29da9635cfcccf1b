"""SQL for the wallet database: users, balances, reads, the outbox.

SQL only, one transaction per function. What moves money, and the ledger
invariant, live next door in ``ledger``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg

from vellet.common import db
from vellet.common.db import Conn, Pool
from vellet.wallet import domain

MIGRATIONS: Final = Path(__file__).with_name("migrations")
SETTLEMENT: Final = "bank_settlement"


async def migrate(database_url: str) -> list[str]:
    """Apply the wallet's pending migrations; return the names applied."""
    return await db.migrate(database_url, "wallet", MIGRATIONS)


async def open_pool(dsn: str, size: int) -> Pool:
    """A pool that hands connections back without asyncpg's reset query.

    asyncpg resets every released connection with one more round trip
    (unlock advisory locks, close cursors, UNLISTEN, RESET ALL). The wallet
    never leaves session state behind: its advisory locks are
    transaction-scoped, it sets nothing and listens to nothing; and an open
    transaction is still rolled back on release. Skipping the reset halves
    the round trips of a P2P transfer.
    """
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, command_timeout=30, reset=_keep_session
    )
    assert pool is not None
    return pool


async def _keep_session(conn: Any) -> None:
    return None


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


@dataclass(frozen=True)
class Balance:
    currency: str
    balance: int
    pending: int

    @property
    def available(self) -> int:
        return self.balance - self.pending


async def user_and_balance(pool: Pool, user_id: int) -> tuple[User, Balance] | None:
    """A user and their wallet balance, in one round trip."""
    row = await pool.fetchrow(
        "SELECT u.id, u.account_number, u.name, u.email, u.currency, u.password_hash, "
        "a.balance, a.pending FROM users u "
        "JOIN ledger_accounts a ON a.user_id = u.id AND a.currency = u.currency "
        "WHERE u.id = $1",
        user_id,
    )
    if row is None:
        return None
    values = dict(row)
    money = Balance(values["currency"], values.pop("balance"), values.pop("pending"))
    return User(**values), money


_TRANSFER_COLUMNS: Final = (
    "id, kind, state, amount, currency, from_account, to_account, note, failure_reason, "
    "created_at, updated_at"
)


async def transfer_of(pool: Pool, user_id: int, transfer_id: uuid.UUID) -> asyncpg.Record | None:
    """A transfer the user is a party to; None otherwise (no BOLA)."""
    return await pool.fetchrow(
        f"SELECT {_TRANSFER_COLUMNS} FROM transfers "  # noqa: S608 - constant
        "WHERE id = $1 AND (from_user_id = $2 OR to_user_id = $2)",
        transfer_id,
        user_id,
    )


_HISTORY_SIDE: Final = (
    f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE {{side}} = $1 "  # noqa: S608 - constant
    "AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4"
)
_HISTORY_SQL: Final = (
    f"SELECT * FROM (({_HISTORY_SIDE.format(side='from_user_id')}) UNION ALL "  # noqa: S608
    f"({_HISTORY_SIDE.format(side='to_user_id')})) AS mine "
    "ORDER BY created_at DESC, id DESC LIMIT $4"
)
# Where the first page starts: after everything.
_NEWEST: Final = domain.Cursor(datetime.max.replace(tzinfo=UTC), uuid.UUID(int=2**128 - 1))


async def history(
    pool: Pool, user_id: int, limit: int, after: domain.Cursor | None
) -> list[asyncpg.Record]:
    """Up to ``limit`` of the user's transfers strictly older than ``after``.

    Keyset on (created_at, id): rows inserted meanwhile are newer than any
    cursor already handed out, so pages never repeat or skip a row.
    """
    start = after or _NEWEST
    return list(await pool.fetch(_HISTORY_SQL, user_id, start.created_at, start.id, limit))


# --- the outbox -----------------------------------------------------------------


async def claim_outbox(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """The oldest unpublished events, locked for this transaction (other relays skip them)."""
    return list(
        await conn.fetch(
            "SELECT o.id, o.event_id, o.state, o.available, o.created_at AS occurred_at, "
            "t.id AS transfer_id, t.kind, t.amount, t.currency, t.note, t.failure_reason, "
            "fu.account_number AS from_number, fu.name AS from_name, fu.email AS from_email, "
            "tu.account_number AS to_number, tu.name AS to_name, tu.email AS to_email "
            "FROM outbox o JOIN transfers t ON t.id = o.transfer_id "
            "LEFT JOIN users fu ON fu.id = t.from_user_id "
            "LEFT JOIN users tu ON tu.id = t.to_user_id "
            "ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED",
            limit,
        )
    )


async def forget_published(conn: Conn, ids: list[int]) -> None:
    """Published rows leave the outbox (the transfer row is the lasting record)."""
    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)


async def unpublished_count(pool: Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))
