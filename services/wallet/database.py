"""The wallet's database as a whole: its migrations, its pool, shared schema names.

Each capability keeps its own SQL in its own ``store``; what they all rely
on (the migration folder, how the pool treats a released connection, the
settlement account's code, the columns of a transfer row) lives here once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import asyncpg

from vellet.common import db
from vellet.common.db import Pool

MIGRATIONS: Final = Path(__file__).with_name("migrations")
SETTLEMENT: Final = "bank_settlement"
#: A transfer row as every reader renders it (``wire.transfer_json``).
TRANSFER_COLUMNS: Final = (
    "id, kind, state, amount, currency, from_account, to_account, note, failure_reason, "
    "created_at, updated_at"
)


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
