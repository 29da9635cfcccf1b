"""SQL for the wallet database, and nothing else.

Each function is one transaction. The money-moving P2P transaction is the
``wallet_p2p`` function of migration 0002 (one round trip); this module
calls it and the queries around it. ``INVARIANT_SQL`` is THE ledger
invariant, one query, used by tests, the property-based test, the
benchmark and anyone auditing a live database.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import asyncpg

from vellet.common.db import Pool
from vellet.wallet import domain

MIGRATIONS: Final = Path(__file__).with_name("migrations")
SETTLEMENT: Final = "bank_settlement"

if TYPE_CHECKING:
    Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
    )


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
    password_hash: str


@dataclass(frozen=True)
class NewUser:
    account_number: str
    name: str
    email: str
    currency: str
    password_hash: str


_USER_COLUMNS: Final = "id, account_number, name, email, currency, password_hash"


def _user(row: asyncpg.Record | None) -> User | None:
    return None if row is None else User(**dict(row))


async def user_by_account(pool: Pool, number: str) -> User | None:
    row = await pool.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE account_number = $1",  # noqa: S608 - constant
        number,
    )
    return _user(row)


async def user_by_id(pool: Pool, user_id: int) -> User | None:
    row = await pool.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1",  # noqa: S608 - constant
        user_id,
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


async def balance(pool: Pool, user_id: int) -> Balance | None:
    row = await pool.fetchrow(
        "SELECT a.currency, a.balance, a.pending FROM users u "
        "JOIN ledger_accounts a ON a.user_id = u.id AND a.currency = u.currency "
        "WHERE u.id = $1",
        user_id,
    )
    return None if row is None else Balance(row["currency"], row["balance"], row["pending"])


@dataclass(frozen=True)
class Answer:
    """What a money-moving call answered: outcome, HTTP status, body (JSON text)."""

    outcome: str
    status: int
    body: str | None


async def p2p(
    pool: Pool,
    user_id: int,
    account_number: str,
    key: str,
    req: domain.P2PRequest,
    *,
    transfer_id: uuid.UUID,
    event_id: uuid.UUID,
    expires_at: datetime | None,
) -> Answer:
    row = await pool.fetchrow(
        "SELECT outcome, status, body::text AS body "
        "FROM wallet_p2p($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb)",
        user_id,
        account_number,
        key,
        req.fingerprint(),
        expires_at,
        transfer_id,
        event_id,
        req.to_account,
        req.amount,
        req.currency,
        req.note,
        json.dumps(domain.success_template(transfer_id, req)),
        domain.REFUSALS_JSON,
    )
    assert row is not None  # a set-returning function that always returns one row
    return Answer(row["outcome"], row["status"], row["body"])


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


async def post_deposit(
    pool: Pool, user_id: int, amount: int, currency: str, note: str | None = None
) -> uuid.UUID:
    """Record a deposit the bank has already settled: settlement -> user.

    Tests and demo seeding fund wallets with it; the bank-facing deposit
    flow posts its pending deposits the same way.
    """
    transfer_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        accounts = await conn.fetchrow(
            "SELECT u.account_number, "
            "(SELECT id FROM ledger_accounts WHERE system_code = $3 AND currency = $2) AS debit, "
            "(SELECT id FROM ledger_accounts WHERE user_id = u.id AND currency = $2) AS credit "
            "FROM users u WHERE u.id = $1",
            user_id,
            currency,
            SETTLEMENT,
        )
        if accounts is None or accounts["debit"] is None or accounts["credit"] is None:
            raise LookupError(f"user {user_id} has no {currency} wallet")
        await conn.execute(
            "INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id, "
            "credit_account_id, to_user_id, from_account, to_account, note) "
            "VALUES ($1, 'deposit', 'posted', $2, $3, $4, $5, $6, $7, $7, $8)",
            transfer_id,
            amount,
            currency,
            accounts["debit"],
            accounts["credit"],
            user_id,
            accounts["account_number"],
            note,
        )
        await _post_entries(conn, transfer_id, accounts["debit"], accounts["credit"], amount)
        available = await conn.fetchval(
            "SELECT balance - pending FROM ledger_accounts WHERE id = $1", accounts["credit"]
        )
        await conn.execute(
            "INSERT INTO outbox (event_id, transfer_id, state, available) "
            "VALUES ($1, $2, 'posted', $3::jsonb)",
            uuid.uuid4(),
            transfer_id,
            json.dumps({"owner": available}),
        )
    return transfer_id


async def _post_entries(
    conn: Connection, transfer_id: uuid.UUID, debit: int, credit: int, amount: int
) -> None:
    """Move ``amount`` from ``debit`` to ``credit`` with its two entries."""
    await conn.execute(
        "UPDATE ledger_accounts SET updated_at = now(), "
        "balance = balance + CASE id WHEN $2 THEN -$1::bigint ELSE $1::bigint END "
        "WHERE id IN ($2, $3)",
        amount,
        debit,
        credit,
    )
    await conn.execute(
        "INSERT INTO entries (transfer_id, account_id, side, amount) "
        "VALUES ($1, $2, 'debit', $4), ($1, $3, 'credit', $4)",
        transfer_id,
        debit,
        credit,
        amount,
    )


# --- the invariant ------------------------------------------------------------

#: Every count must be zero. One query, one snapshot.
INVARIANT_SQL: Final = """
WITH entry_net AS (
    SELECT account_id, sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) AS net
    FROM entries GROUP BY account_id
), per_transfer AS (
    SELECT transfer_id, count(*) AS n,
           sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) AS imbalance
    FROM entries GROUP BY transfer_id
)
SELECT
    -- per currency, all balances (users + system) sum to zero
    (SELECT count(*) FROM (SELECT currency FROM ledger_accounts GROUP BY currency
                           HAVING sum(balance) <> 0) AS c) AS unbalanced_currencies,
    -- every transfer's debits equal its credits
    (SELECT count(*) FROM per_transfer WHERE imbalance <> 0) AS unbalanced_transfers,
    -- no user account below zero, reservations included
    (SELECT count(*) FROM ledger_accounts
      WHERE user_id IS NOT NULL AND (balance < 0 OR balance - pending < 0)) AS overdrawn_accounts,
    -- each balance is exactly what its entries say
    (SELECT count(*) FROM ledger_accounts a LEFT JOIN entry_net e ON e.account_id = a.id
      WHERE a.balance <> coalesce(e.net, 0)) AS drifted_accounts,
    -- posted transfers have exactly two entries, all others none
    (SELECT count(*) FROM transfers t LEFT JOIN per_transfer p ON p.transfer_id = t.id
      WHERE coalesce(p.n, 0) <> CASE t.state WHEN 'posted' THEN 2 ELSE 0 END)
        AS misentered_transfers,
    -- entries sit on their transfer's own legs, for its amount and currency
    (SELECT count(*) FROM entries e JOIN transfers t ON t.id = e.transfer_id
       JOIN ledger_accounts a ON a.id = e.account_id
      WHERE e.amount <> t.amount OR a.currency <> t.currency
         OR e.account_id <> CASE e.side WHEN 'debit' THEN t.debit_account_id
                                        ELSE t.credit_account_id END) AS misposted_entries,
    -- reservations equal the unfinished withdrawals that hold them
    (SELECT count(*) FROM ledger_accounts a
      WHERE a.pending <> coalesce((SELECT sum(t.amount) FROM transfers t
                                    WHERE t.debit_account_id = a.id AND t.kind = 'withdrawal'
                                      AND t.state IN ('pending', 'queued')), 0))
        AS drifted_reservations
"""


@dataclass(frozen=True)
class Invariants:
    unbalanced_currencies: int
    unbalanced_transfers: int
    overdrawn_accounts: int
    drifted_accounts: int
    misentered_transfers: int
    misposted_entries: int
    drifted_reservations: int

    @property
    def ok(self) -> bool:
        return not self.violations()

    def violations(self) -> dict[str, int]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name))}


async def check_invariants(pool: Pool | Connection) -> Invariants:
    row = await pool.fetchrow(INVARIANT_SQL)
    assert row is not None
    return Invariants(**{k: int(v) for k, v in dict(row).items()})


# --- the outbox -----------------------------------------------------------------


async def claim_outbox(conn: Connection, limit: int) -> list[asyncpg.Record]:
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


async def forget_published(conn: Connection, ids: list[int]) -> None:
    """Published rows leave the outbox (the transfer row is the lasting record)."""
    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)


async def unpublished_count(pool: Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))


def decode_json(value: Any) -> Any:
    """asyncpg hands jsonb over as text unless a codec is installed."""
    return json.loads(value) if isinstance(value, str) else value
