"""Helpers for deposit/withdrawal tests: wallets with fast flows, users, evidence.

The exactly-once verdict every test ends with is
:func:`vellet.bench.books.compare_books` (re-exported here), the same check
``vellet bench drill`` prints.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from tests.support.bank import FAST_STREAMS, admin_token, auth, holder_email
from tests.support.bank import internal_token as support_internal_token
from tests.wallet.stack import (
    Reply,
    RunningWallet,
    WalletClient,
    new_account_number,
    start_wallet,
)
from vellet.bench.books import compare_books
from vellet.common import streams
from vellet.wallet.settings import BankFlowSettings

#: Short timeouts and thresholds: an outage is noticed and repaired in seconds.
FAST_FLOWS = BankFlowSettings(
    transfer_timeout=1.0,
    breaker_failures=3,
    breaker_reset=0.5,
    consumer_name="wallet-test",
    reconciler=False,
    reconcile_interval=0.2,
    stuck_after=1.0,
    relay_interval=0.1,
)


async def start_flow_wallet(database_url: str, redis_url: str, bank_url: str,
                            **flow_overrides: Any) -> RunningWallet:  # fmt: skip
    flows = dataclasses.replace(FAST_FLOWS, **flow_overrides)
    return await start_wallet(database_url, redis_url, bank_url, streams=FAST_STREAMS,
                              flows=flows)  # fmt: skip


def internal_token(subject: str = "operator") -> str:
    return support_internal_token(subject)


def internal_headers(key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {internal_token()}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def move(client: WalletClient, kind: str, amount: str, *, key: str | None = None,
               currency: str = "INR") -> Reply:  # fmt: skip
    """A deposit or withdrawal through the public API."""
    return await client.call(
        "POST", "/api/v1/transfers",
        json={"kind": kind, "amount": amount, "currency": currency},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )  # fmt: skip


async def open_accounts(bank_admin_url: str, wallet_url: str, http: aiohttp.ClientSession,
                        count: int, *, balance: str = "1000.00") -> list[WalletClient]:  # fmt: skip
    """``count`` bank accounts (opened on the bank's internal port, ``bank_admin_url``),
    each signed up in the wallet and logged in."""
    clients = []
    for _ in range(count):
        number = new_account_number()
        body = {"account_number": number, "name": "Test Holder", "currency": "INR",
                "email": holder_email(number), "balance": balance}  # fmt: skip
        async with http.post(f"{bank_admin_url}/api/v1/accounts", json=body,
                             headers=auth(admin_token())) as resp:  # fmt: skip
            assert resp.status == 201, await resp.text()
        client = WalletClient(http, wallet_url)
        assert (await client.signup(number)).status == 201
        assert (await client.login(number)).status == 200
        clients.append(client)
    return clients


async def events_per_transfer(redis_url: str) -> Counter[str]:
    """How many distinct events the notifier's stream carries for each transfer id.

    Distinct by ``event_id``: the event relay delivers at least once (a crash
    between XADD and COMMIT sends a batch again) and the notifier
    de-duplicates on ``event_id``; a second *event* would be a second outcome.
    """
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await client.xrange(streams.TRANSFER_EVENTS)
    finally:
        await client.aclose()
    events = {json.loads(fields["payload"])["event_id"]: json.loads(fields["payload"])
              for _, fields in entries}  # fmt: skip
    return Counter(event["transfer_id"] for event in events.values())


async def unfinished(wallet_dsn: str) -> int:
    conn = await asyncpg.connect(wallet_dsn)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM transfers WHERE state IN ('pending', 'queued')"))  # fmt: skip
    finally:
        await conn.close()


__all__ = [
    "FAST_FLOWS", "compare_books", "events_per_transfer", "internal_headers", "internal_token",
    "move", "open_accounts", "start_flow_wallet", "unfinished",
]  # fmt: skip
