"""The ledger invariant as a metric: checked in the background, its last result exported.

``vellet wallet audit`` answers a person once; this answers Prometheus all
the time, so a dashboard shows that the books balance and an alert says
when they stop to (see ``vellet.common.audits`` for why it is not run on
each scrape).
"""

from __future__ import annotations

from aiohttp import web

from vellet.common import audits
from vellet.wallet.ledger import audit
from vellet.wallet.state import POOL, SETTINGS

CHECK = "wallet_ledger"


async def _violations(app: web.Application) -> int:
    limit = app[SETTINGS].audit.timeout
    async with audits.snapshot(app[POOL], limit) as conn:
        # PostgreSQL's statement timeout ends it first, with its own clear error.
        report = await audit.check_invariants(conn, give_up_after=limit + 5)
    return sum(report.violations().values())


def setup(app: web.Application) -> None:
    """Call after the cleanup context that opens the pool."""
    audits.setup(app, CHECK, _violations, app[SETTINGS].audit.interval)
