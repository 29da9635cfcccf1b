"""Batched statements find their transfers by id, whatever the statistics say.

Right after a bank outage the wallet holds thousands of queued transfers
while the planner's statistics still describe the table from before it
(almost none unfinished). A batched UPDATE whose WHERE holds ``state IN
('pending', 'queued')`` next to ``id = <the batch's ids>`` was then planned
as a scan of every unfinished transfer through ``transfers_stuck``, once per
outcome of the batch: 0.3-1 s per batch of 200 in ``vellet bench drain``.
These tests build exactly those statistics and read the plan (no timing):
no scan of ``transfers`` may go through an index on the state.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.wallet.ledger_helpers import make_user
from vellet.common.db import Pool
from vellet.wallet.banking import batch_store, queue_store

#: The indexes that select transfers by their state.
STATE_INDEXES = {"transfers_stuck", "transfers_unfinished"}
BATCH = 200


async def copies(pool: Pool, n: int, state: str) -> list[uuid.UUID]:
    """``n`` copies of the posted deposit already there, in ``state``."""
    rows = await pool.fetch(
        "INSERT INTO transfers SELECT (jsonb_populate_record(NULL::transfers, to_jsonb(t) "
        "|| jsonb_build_object('id', gen_random_uuid(), 'state', $2::text, "
        "'finished_at', NULL, 'bank_txn_id', NULL))).* "
        "FROM (SELECT * FROM transfers WHERE kind = 'deposit' LIMIT 1) t, "
        "generate_series(1, $1::int) RETURNING id",
        n, state,
    )  # fmt: skip
    return [r["id"] for r in rows]


@pytest.fixture
async def stale(pool: Pool) -> None:
    """Statistics taken with no transfer unfinished, and kept so (no autovacuum)."""
    await make_user(pool, funds=100_00)  # one posted deposit to copy
    await pool.execute("ALTER TABLE transfers SET (autovacuum_enabled = false)")
    await copies(pool, 2000, "posted")
    await pool.execute("ANALYZE transfers")


def scans_of_transfers(plan: dict[str, Any]) -> Iterator[str]:
    """Each node reading ``transfers``: its index name, or its node type."""
    if plan.get("Relation Name") == "transfers":
        yield plan.get("Index Name") or plan["Node Type"]
    for child in plan.get("Plans", []):
        yield from scans_of_transfers(child)


async def plan_of(pool: Pool, sql: str, *args: object) -> list[str]:
    async with pool.acquire() as conn, conn.transaction():
        raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    return list(scans_of_transfers(json.loads(raw)[0]["Plan"]))


@pytest.mark.usefixtures("stale")
async def test_finishing_a_batch_of_outcomes_locks_its_transfers_by_id(pool: Pool) -> None:
    ids = await copies(pool, BATCH, "queued")
    scans = await plan_of(
        pool, batch_store.FINISH_MANY_SQL, ids, [True] * BATCH, [None] * BATCH,
        [uuid.uuid4() for _ in ids], [40_00] * BATCH, ["INR"] * BATCH,
        ["300000000000"] * BATCH, ["to_wallet"] * BATCH,
    )  # fmt: skip
    assert scans, "the plan reads transfers"
    assert not STATE_INDEXES & set(scans), scans


@pytest.mark.usefixtures("stale")
async def test_marking_a_batch_of_requests_published_locks_its_transfers_by_id(
    pool: Pool,
) -> None:
    ids = await copies(pool, BATCH, "pending")
    scans = await plan_of(pool, queue_store.PUBLISHED_SQL, ids)
    assert scans, "the plan reads transfers"
    assert not STATE_INDEXES & set(scans), scans
