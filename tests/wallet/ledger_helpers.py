"""Helpers for tests that work on the ledger directly (no HTTP)."""

from __future__ import annotations

import itertools
import uuid

from vellet.common.db import Pool
from vellet.wallet import domain, ledger, store

_numbers = itertools.count(100_000_000_001)


def new_account_number() -> str:
    return str(next(_numbers))


async def make_user(
    pool: Pool, *, currency: str = "INR", funds: int = 0, number: str | None = None
) -> store.User:
    """A wallet user inserted straight into the database, funded by a settled deposit."""
    number = number or new_account_number()
    user = await store.insert_user(
        pool,
        store.NewUser(number, f"User {number}", f"u{number}@example.test", currency, "x"),
    )
    assert user is not None
    if funds:
        await ledger.post_deposit(pool, user.id, funds, currency)
    return user


async def send(
    pool: Pool,
    sender: store.User,
    to: str,
    amount: int,
    *,
    key: str | None = None,
    currency: str | None = None,
    note: str | None = None,
) -> ledger.Answer:
    req = domain.P2PRequest(to, amount, currency or sender.currency, note)
    job = ledger.P2PJob(
        sender.id,
        sender.account_number,
        key or uuid.uuid4().hex,
        req,
        transfer_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        expires_at=None,
    )
    (answer,) = await ledger.p2p_batch(pool, [job])  # alone: a batch of one
    return answer


async def available(pool: Pool, user: store.User) -> int:
    found = await store.user_and_balance(pool, user.id)
    assert found is not None
    return found[1].available
