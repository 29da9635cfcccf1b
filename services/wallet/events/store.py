"""SQL of the transfer-event outbox: claim what is unpublished, forget what was published.

The rows are written by the money-moving transactions themselves (P2P
batches, two-phase settlements), so an event exists exactly when its
transfer committed.
"""

from __future__ import annotations

import asyncpg

from vellet.common.db import Conn, Pool

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
