"""SQL that moves money between wallets, and that reads balances and history.

SQL only. The P2P transaction itself is the ``wallet_p2p_batch`` function
of migration 0004: :func:`p2p_batch` calls it for many transfers at once
(a transfer alone is a batch of one). Reads never lock: a user's own
transfers (no BOLA), keyset history pages, any transfer for services.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import asyncpg

from vellet.common.db import Conn, Pool
from vellet.wallet.auth.store import User
from vellet.wallet.database import SETTLEMENT, TRANSFER_COLUMNS
from vellet.wallet.ledger import rules


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


async def transfer_by_id(pool: Pool, transfer_id: uuid.UUID) -> asyncpg.Record | None:
    """Any transfer: for services acting for every account (the internal API)."""
    return await pool.fetchrow(
        f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = $1",  # noqa: S608 - constant
        transfer_id,
    )


async def transfer_of(pool: Pool, user_id: int, transfer_id: uuid.UUID) -> asyncpg.Record | None:
    """A transfer the user is a party to; None otherwise (no BOLA)."""
    return await pool.fetchrow(
        f"SELECT {TRANSFER_COLUMNS} FROM transfers "  # noqa: S608 - constant
        "WHERE id = $1 AND (from_user_id = $2 OR to_user_id = $2)",
        transfer_id,
        user_id,
    )


_HISTORY_SIDE: Final = (
    f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE {{side}} = $1 "  # noqa: S608 - constant
    "AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4"
)
_HISTORY_SQL: Final = (
    f"SELECT * FROM (({_HISTORY_SIDE.format(side='from_user_id')}) UNION ALL "  # noqa: S608
    f"({_HISTORY_SIDE.format(side='to_user_id')})) AS mine "
    "ORDER BY created_at DESC, id DESC LIMIT $4"
)
# Where the first page starts: after everything.
_NEWEST: Final = rules.Cursor(datetime.max.replace(tzinfo=UTC), uuid.UUID(int=2**128 - 1))


async def history(
    pool: Pool, user_id: int, limit: int, after: rules.Cursor | None
) -> list[asyncpg.Record]:
    """Up to ``limit`` of the user's transfers strictly older than ``after``.

    Keyset on (created_at, id): rows inserted meanwhile are newer than any
    cursor already handed out, so pages never repeat or skip a row.
    """
    start = after or _NEWEST
    return list(await pool.fetch(_HISTORY_SQL, user_id, start.created_at, start.id, limit))


@dataclass(frozen=True)
class Answer:
    """What a money-moving call answered: outcome, HTTP status, body (JSON text)."""

    outcome: str
    status: int
    body: str | None


@dataclass(frozen=True)
class P2PJob:
    """One P2P transfer as the ledger takes it: who sends, under which key, what."""

    user_id: int
    #: The sender's account number, from their signed session.
    account_number: str
    key: str
    req: rules.P2PRequest
    transfer_id: uuid.UUID
    event_id: uuid.UUID
    expires_at: datetime | None
    # Rendered when the job is made, while the previous batch still runs,
    # rather than on the way to the database, when it would hold the next
    # batch back.
    fingerprint: str = field(init=False)
    success: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", self.req.fingerprint())
        success = json.dumps(rules.success_template(self.transfer_id, self.req))
        object.__setattr__(self, "success", success)


_BATCH_SQL: Final = (
    "SELECT outcome, status, body::text AS body FROM wallet_p2p_batch("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb[], $13::jsonb) ORDER BY ord"
)


async def p2p_batch(pool: Pool | Conn, jobs: Sequence[P2PJob]) -> list[Answer]:
    """Post P2P transfers in ONE transaction (``wallet_p2p_batch``, migration
    0004): one answer per job, in order. An error rolls back every job."""
    rows = await pool.fetch(
        _BATCH_SQL,
        [j.user_id for j in jobs],
        [j.account_number for j in jobs],
        [j.key for j in jobs],
        [j.fingerprint for j in jobs],
        [j.expires_at for j in jobs],
        [j.transfer_id for j in jobs],
        [j.event_id for j in jobs],
        [j.req.to_account for j in jobs],
        [j.req.amount for j in jobs],
        [j.req.currency for j in jobs],
        [j.req.note for j in jobs],
        [j.success for j in jobs],
        rules.REFUSALS_JSON,
    )
    return [Answer(row["outcome"], row["status"], row["body"]) for row in rows]


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
    conn: Conn, transfer_id: uuid.UUID, debit: int, credit: int, amount: int
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
