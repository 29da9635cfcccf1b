"""SQL of the bank request outbox and of stuck transfers (see ``store``).

SQL only. Lock order as in ``store``: ``bank_outbox`` rows first, then
``transfers``; claims skip rows another replica holds (``SKIP LOCKED``) and
only one reconciler re-drives at a time (a transaction advisory lock).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg

from vellet.common.db import Conn, Pool
from vellet.wallet.banking.store import UNFINISHED_SQL, settle_keys
from vellet.wallet.database import TRANSFER_COLUMNS

# Only one reconciler claims stuck transfers at a time, whichever replica runs it.
_RECONCILE_LOCK: Final = 0x7E11E7_02

#: Locked by primary key and judged on the locked copy, as ``batch_store``'s
#: finish (see there): the state's statistics are stale during an outage.
PUBLISHED_SQL: Final = (
    "WITH locked AS MATERIALIZED (SELECT id AS lid, state AS was FROM transfers "  # noqa: S608
    "WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE) "
    "UPDATE transfers SET attempts = attempts + 1, attempted_at = now(), state = 'queued', "
    "updated_at = CASE l.was WHEN 'pending' THEN now() ELSE updated_at END "
    f"FROM locked l WHERE id = l.lid AND l.was IN {UNFINISHED_SQL} RETURNING {TRANSFER_COLUMNS}"
)
_REDRIVE_SQL: Final = (
    "INSERT INTO bank_outbox (transfer_id) SELECT id FROM transfers "  # noqa: S608
    f"WHERE id = $1 AND state IN {UNFINISHED_SQL} "
    "ON CONFLICT (transfer_id) DO UPDATE SET due_at = now() RETURNING 1"
)

# --- the bank request outbox -------------------------------------------------------


async def claim_due_requests(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Due bank requests, locked for this transaction (other relays skip them)."""
    return list(
        await conn.fetch(
            "SELECT b.transfer_id, t.kind, t.state, t.amount, t.currency, t.from_account "
            "FROM bank_outbox b JOIN transfers t ON t.id = b.transfer_id "
            "WHERE b.due_at <= now() ORDER BY b.due_at LIMIT $1 FOR UPDATE OF b SKIP LOCKED",
            limit,
        )
    )


async def published(conn: Conn, ids: list[uuid.UUID]) -> None:
    """The requests are on the stream: forget the rows, mark the transfers queued."""
    await conn.execute("DELETE FROM bank_outbox WHERE transfer_id = ANY($1::uuid[])", ids)
    rows = await conn.fetch(
        PUBLISHED_SQL,
        ids,
    )
    await settle_keys(conn, list(rows))


async def backlog(pool: Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM bank_outbox"))


# --- stuck transfers -----------------------------------------------------------------


async def redrive(pool: Pool, transfer_id: uuid.UUID) -> bool:
    """Make an unfinished transfer's request due now; False if it is final (or unknown)."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            _REDRIVE_SQL,
            transfer_id,
        )
        if found:
            await conn.execute("UPDATE transfers SET attempted_at = now() WHERE id = $1",
                               transfer_id)  # fmt: skip
        return bool(found)


async def count_stuck(pool: Pool, older_than: float) -> int:
    return int(
        await pool.fetchval(
            f"SELECT count(*) FROM transfers WHERE state IN {UNFINISHED_SQL} "  # noqa: S608
            "AND attempted_at < now() - make_interval(secs => $1)",
            older_than,
        )
    )


# A transfer re-driven again and again waits twice as long each time (at most 16x):
# re-publishing at a fixed pace into a bank that drains slower than that grew the
# request stream without bound in the fault drill (650,000 entries for 789 transfers,
# none of them finishing) -- the retry storm that keeps an overloaded system down.
_BACKOFF: Final = "least(power(2, greatest(attempts - 1, 0)), 16)"


async def redrive_stuck(pool: Pool, older_than: float, limit: int) -> list[uuid.UUID] | None:
    """Re-drive up to ``limit`` transfers unattempted for ``older_than`` seconds, times
    a backoff that doubles with every attempt (see ``_BACKOFF``).

    None when another replica's reconciler holds the lock right now.
    """
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RECONCILE_LOCK):
            return None
        ids = [
            r["id"]
            for r in await conn.fetch(
                f"SELECT id FROM transfers WHERE state IN {UNFINISHED_SQL} "  # noqa: S608
                f"AND attempted_at < now() - make_interval(secs => $1 * {_BACKOFF}) "
                "ORDER BY attempted_at LIMIT $2",
                older_than,
                limit,
            )
        ]
        if ids:
            await conn.execute(
                "INSERT INTO bank_outbox (transfer_id) SELECT unnest($1::uuid[]) "
                "ON CONFLICT (transfer_id) DO UPDATE SET due_at = now()",
                ids,
            )
            await conn.execute(
                "UPDATE transfers SET attempted_at = now() WHERE id = ANY($1::uuid[])", ids
            )
        return ids


async def list_stuck(pool: Pool, state: str, older_than: float, limit: int) -> list[Any]:
    return list(
        await pool.fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers "  # noqa: S608 - constants
            f"WHERE state = $1 AND state IN {UNFINISHED_SQL} "
            "AND attempted_at < now() - make_interval(secs => $2) "
            "ORDER BY attempted_at LIMIT $3",
            state,
            older_than,
            limit,
        )
    )


async def unfinished_counts(pool: Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"SELECT kind, state, count(*) AS n FROM transfers "  # noqa: S608
            f"WHERE state IN {UNFINISHED_SQL} GROUP BY kind, state"
        )
    )
