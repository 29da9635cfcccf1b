"""Wallet fixtures: a fresh wallet database per test, and ledger helpers.

Store-level tests insert users straight into the wallet database
(:func:`make_user`); everything that signs up over HTTP goes through the real
bank (see ``stack.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vellet.common.db import Pool, create_pool
from vellet.wallet import store


@pytest.fixture
async def wallet_dsn(clean_databases) -> str:  # type: ignore[no-untyped-def]
    return await clean_databases.create("wallet", store.MIGRATIONS)


@pytest.fixture
async def pool(wallet_dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(wallet_dsn, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()
