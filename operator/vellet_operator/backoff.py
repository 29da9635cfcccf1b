"""When to ask again: pure timing decisions, no I/O.

A wallet or bank that is down is asked less and less often, never hammered:
retries of a create back off exponentially (``retry_delay``), and so do
health checks of a bank that does not answer (``probe_delay``). A stuck
transfer is re-driven at most once per threshold (``is_redrive_due``), so
one does not go back to the bank queue on every tick while the bank works
through it.
"""

from __future__ import annotations

import datetime

from vellet.operator.domain import WalletTransfer, is_stuck


def retry_delay(retry: int, *, base: float, cap: float) -> float:
    """Seconds before retry number ``retry`` (0 = the first): doubling from ``base`` to ``cap``."""
    return float(min(cap, base * 2 ** min(max(retry, 0), 16)))


def probe_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds until the bank is asked again: ``base`` while it answers, then doubling."""
    return retry_delay(failures - 1, base=base, cap=cap) if failures > 0 else base


def is_redrive_due(
    transfer: WalletTransfer,
    *,
    now: datetime.datetime,
    threshold: float,
    redriven_at: datetime.datetime | None,
) -> bool:
    """Stuck, and not re-driven within the last ``threshold`` seconds either.

    The second half keeps one transfer from being re-driven on every tick
    while the bank works through its queue.
    """
    if not is_stuck(transfer, now=now, threshold=threshold):
        return False
    return redriven_at is None or (now - redriven_at).total_seconds() >= threshold
