"""Helpers for deposit/withdrawal tests: wallets with fast flows, and the books.

:func:`compare_books` is the exactly-once check every test ends with: it
reads the wallet's ledger and the bank's tables straight from their
databases and lists every way they disagree.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from tests.support.bank import FAST_STREAMS, TEST_TOKENS, admin_token, auth
from tests.wallet.stack import (
    Reply,
    RunningWallet,
    WalletClient,
    new_account_number,
    start_wallet,
)
from vellet.common import streams, tokens
from vellet.wallet import ledger
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


def internal_token(subject: str = "test-operator") -> str:
    return tokens.mint(TEST_TOKENS, audience=tokens.WALLET_INTERNAL_AUDIENCE, subject=subject)


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


@dataclass
class Books:
    """What the wallet and the bank recorded, and every way they disagree."""

    wallet_settlement: int = 0
    bank_settlement: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def compare_books(wallet_dsn: str, bank_dsn: str, currency: str = "INR") -> Books:
    books = Books()
    wallet = await asyncpg.connect(wallet_dsn)
    bank = await asyncpg.connect(bank_dsn)
    try:
        invariants = await ledger.check_invariants(wallet)
        books.problems += [f"wallet invariant {k}={v}" for k, v in invariants.violations().items()]
        books.problems += [f"bank audit: {line}" for line in await _bank_audit(bank)]
        books.wallet_settlement = -int(
            await wallet.fetchval(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts "
                "WHERE system_code = 'bank_settlement' AND currency = $1",
                currency,
            )
        )
        books.bank_settlement = int(
            await bank.fetchval(
                "SELECT coalesce(sum(balance), 0) FROM settlement WHERE currency = $1", currency
            )
        )
        if books.wallet_settlement != books.bank_settlement:
            books.problems.append(
                f"settlement: wallet {books.wallet_settlement} != bank {books.bank_settlement}"
            )
        ours = {
            r["id"]: r
            for r in await wallet.fetch(
                "SELECT id, kind, state, amount, from_account FROM transfers "
                "WHERE kind IN ('deposit', 'withdrawal')"
            )
        }
        theirs = {
            r["transfer_id"]: r
            for r in await bank.fetch(
                "SELECT transfer_id, direction, amount, status, account_number FROM transactions"
            )
        }
        for row in ours.values():
            books.by_state[row["state"]] = books.by_state.get(row["state"], 0) + 1
        books.problems += _disagreements(ours, theirs)
    finally:
        await wallet.close()
        await bank.close()
    return books


async def _bank_audit(bank: asyncpg.Connection) -> list[str]:
    from vellet.bank.store import AUDIT_SQL

    rows = await bank.fetch(AUDIT_SQL)
    return [f"{r['what']}: expected {r['expected']}, found {r['actual']}" for r in rows]


def _disagreements(ours: dict[uuid.UUID, Any], theirs: dict[uuid.UUID, Any]) -> list[str]:
    problems = []
    for tid, row in ours.items():
        bank_row = theirs.get(tid)
        if row["state"] in ("pending", "queued"):
            problems.append(f"{tid} still {row['state']}")
        elif bank_row is None:
            problems.append(f"{tid} is {row['state']} but the bank never saw it")
        elif (row["state"] == "posted") != (bank_row["status"] == "succeeded"):
            problems.append(f"{tid} is {row['state']} but the bank says {bank_row['status']}")
        elif (
            bank_row["amount"] != row["amount"] or bank_row["account_number"] != row["from_account"]
        ):
            problems.append(f"{tid}: the bank moved another amount or account")
    problems += [f"the bank executed {tid}, unknown to the wallet" for tid in theirs.keys() - ours]
    return problems


async def open_accounts(bank_url: str, wallet_url: str, http: aiohttp.ClientSession, count: int,
                        *, balance: str = "1000.00") -> list[WalletClient]:  # fmt: skip
    """``count`` bank accounts, each signed up in the wallet and logged in."""
    clients = []
    for _ in range(count):
        number = new_account_number()
        body = {"account_number": number, "name": "Test Holder", "currency": "INR",
                "email": f"holder{number}@example.test", "balance": balance}  # fmt: skip
        async with http.post(f"{bank_url}/api/v1/accounts", json=body,
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
