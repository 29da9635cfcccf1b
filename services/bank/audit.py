"""The bank's audit as a metric: checked in the background, its last result exported.

The same query as ``vellet bank audit`` (``store.audit``), run in a
read-only snapshot every few minutes (see ``vellet.common.audits``), so the
bank's books can be watched and alerted on like the wallet's ledger.
"""

from __future__ import annotations

from aiohttp import web

from vellet.bank import store
from vellet.bank.state import POOL, SETTINGS
from vellet.common import audits

CHECK = "bank_books"


async def _problems(app: web.Application) -> int:
    limit = app[SETTINGS].audit.timeout
    async with audits.snapshot(app[POOL], limit) as conn:
        # PostgreSQL's statement timeout ends it first, with its own clear error.
        return len(await store.audit(conn, give_up_after=limit + 5))


def setup(app: web.Application) -> None:
    """Call after the cleanup context that opens the pool."""
    audits.setup(app, CHECK, _problems, app[SETTINGS].audit.interval)
