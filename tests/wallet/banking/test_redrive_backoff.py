"""The reconciler backs off a transfer it has re-driven many times.

Found by the fault drill on a busy machine: re-publishing every stuck
transfer at a fixed pace into a bank that drained slower than that grew the
request stream to 650,000 entries for 789 transfers, and none finished.
"""

from __future__ import annotations

from tests.wallet.ledger_helpers import make_user
from vellet.common.db import Pool
from vellet.wallet.banking.queue_store import redrive_stuck


async def _stuck(pool: Pool, attempts: int, seconds_ago: float) -> None:
    await pool.execute(
        "UPDATE transfers SET state = 'queued', attempts = $1, "
        "attempted_at = now() - make_interval(secs => $2)",
        attempts,
        seconds_ago,
    )


async def test_a_first_timer_is_redriven_after_the_threshold(pool: Pool) -> None:
    await make_user(pool, funds=100)  # its deposit is the one transfer
    await _stuck(pool, attempts=1, seconds_ago=5)
    assert len(await redrive_stuck(pool, older_than=3, limit=10) or []) == 1


async def test_a_transfer_redriven_often_waits_twice_as_long_each_time(pool: Pool) -> None:
    await make_user(pool, funds=100)
    await _stuck(pool, attempts=4, seconds_ago=20)  # 4th attempt: waits 3 s x 8 = 24 s
    assert await redrive_stuck(pool, older_than=3, limit=10) == []
    await _stuck(pool, attempts=4, seconds_ago=25)
    assert len(await redrive_stuck(pool, older_than=3, limit=10) or []) == 1


async def test_the_backoff_is_capped(pool: Pool) -> None:
    await make_user(pool, funds=100)
    await _stuck(pool, attempts=300, seconds_ago=49)  # capped at 16 x 3 s = 48 s
    assert len(await redrive_stuck(pool, older_than=3, limit=10) or []) == 1
