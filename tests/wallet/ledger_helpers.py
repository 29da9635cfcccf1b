"""Helpers for tests that work on the ledger directly (no HTTP)."""

from __future__ import annotations

import itertools
import uuid

from vellet.common.db import Pool
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import rules as ledger_rules
from vellet.wallet.ledger import store as ledger_store

_numbers = itertools.count(100_000_000_001)


def new_account_number() -> str:
    return str(next(_numbers))


async def make_user(
    pool: Pool, *, currency: str = "INR", funds: int = 0, number: str | None = None
) -> auth_store.User:
    """A wallet user inserted straight into the database, funded by a settled deposit."""
    number = number or new_account_number()
    user = await auth_store.insert_user(
        pool,
        auth_store.NewUser(number, f"User {number}", f"u{number}@example.test", currency, "x"),
    )
    assert user is not None
    if funds:
        await ledger_store.post_deposit(pool, user.id, funds, currency)
    return user


async def send(
    pool: Pool,
    sender: auth_store.User,
    to: str,
    amount: int,
    *,
    key: str | None = None,
    currency: str | None = None,
    note: str | None = None,
) -> ledger_store.Answer:
    req = ledger_rules.P2PRequest(to, amount, currency or sender.currency, note)
    job = ledger_store.P2PJob(
        sender.id,
        sender.account_number,
        key or uuid.uuid4().hex,
        req,
        transfer_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        expires_at=None,
    )
    (answer,) = await ledger_store.p2p_batch(pool, [job])  # alone: a batch of one
    return answer


async def available(pool: Pool, user: auth_store.User) -> int:
    found = await ledger_store.user_and_balance(pool, user.id)
    assert found is not None
    return found[1].available
