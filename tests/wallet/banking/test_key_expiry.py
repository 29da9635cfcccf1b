"""An idempotency key never expires while its transfer is unfinished.

With ``VELLET_IDEMPOTENCY_RETENTION_HOURS > 0`` a key used to be forgotten
once old enough, whatever its transfer was doing: a deposit queued while
the bank was away outlived its key, and the client's retry with the same
key opened a second deposit. Real PostgreSQL, real wallets; the key's age
is set in the database (retention is hours: no test waits that long).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.bank import FAST_STREAMS, RunningBank, start_bank
from tests.wallet.banking.helpers import FAST_FLOWS, move
from tests.wallet.stack import RunningWallet, WalletClient, registered, start_wallet
from vellet.common.embedded import free_port
from vellet.wallet.auth import store as auth_store
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking import store as banking_store
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL

RETAIN = {"idempotency_retention_hours": 1}


@pytest.fixture
async def bank(bank_db: str, redis_url: str) -> AsyncIterator[RunningBank]:
    """The real bank, answering direct calls only: a queued request stays queued
    (no stream consumer races the test to finish it)."""
    running = await start_bank(bank_db, redis_url, consume=False)
    yield running
    await running.stop()


@pytest.fixture
async def kept_wallet(
    wallet_dsn: str, redis_url: str, bank: RunningBank
) -> AsyncIterator[RunningWallet]:
    """A wallet that forgets keys after an hour, talking to the real bank."""
    running = await start_wallet(wallet_dsn, redis_url, bank.url, streams=FAST_STREAMS,
                                 flows=FAST_FLOWS, **RETAIN)  # fmt: skip
    yield running
    await running.stop()


@pytest.fixture
async def bankless_wallet(wallet_dsn: str, redis_url: str) -> AsyncIterator[RunningWallet]:
    """The same database, but the bank it calls never answers: transfers stay queued."""
    dead_bank = f"http://127.0.0.1:{free_port()}"
    running = await start_wallet(wallet_dsn, redis_url, dead_bank, streams=FAST_STREAMS,
                                 flows=FAST_FLOWS, **RETAIN)  # fmt: skip
    yield running
    await running.stop()


async def age_key(wallet: RunningWallet, key: str) -> None:
    """Make ``key`` older than its retention, as hours of waiting would."""
    done = await wallet.app[POOL].execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1",
        key,
    )
    assert done == "UPDATE 1"


async def transfers_of(wallet: RunningWallet, client: WalletClient, kind: str) -> list[str]:
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, client.account_number or "")
    assert user is not None
    rows = await pool.fetch(
        "SELECT id FROM transfers WHERE kind = $1 AND $2 IN (from_user_id, to_user_id)",
        kind, user.id,
    )  # fmt: skip
    return [str(r["id"]) for r in rows]


async def test_a_queued_deposit_keeps_its_key_past_its_age_and_a_retry_is_the_same_transfer(
    bank: RunningBank, kept_wallet: RunningWallet, bankless_wallet: RunningWallet,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    alice = await registered(bank, kept_wallet, http)
    alice = WalletClient(http, bankless_wallet.url, alice.token, alice.account_number)

    first = await move(alice, "deposit", "10.00", key="late-retry")
    assert (first.status, first.body["state"]) == (202, "queued"), first
    await age_key(bankless_wallet, "late-retry")
    retry = await move(alice, "deposit", "10.00", key="late-retry")

    assert retry.status == 202, retry
    assert (retry.body["id"], retry.body["state"]) == (first.body["id"], "queued")
    assert await transfers_of(bankless_wallet, alice, "deposit") == [first.body["id"]]


async def test_a_pending_transfers_in_flight_key_is_not_expired_either(
    bank: RunningBank, kept_wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, kept_wallet, http)
    pool = kept_wallet.app[POOL]
    user = await auth_store.user_by_account(pool, alice.account_number or "")
    assert user is not None
    req = banking_rules.parse_bank_transfer({"kind": "deposit", "amount": "5.00",
                                             "currency": "INR"})  # fmt: skip
    # What a request commits before it asks the bank: a pending transfer, its key in flight.
    opened = await banking_store.open_transfer(
        pool, user.id, "in-flight", req, transfer_id=uuid.uuid4(), expires_at=None, grace=60
    )
    assert opened.outcome == "opened"
    assert opened.transfer is not None
    await age_key(kept_wallet, "in-flight")

    again = await banking_store.open_transfer(
        pool, user.id, "in-flight", req, transfer_id=uuid.uuid4(), expires_at=None, grace=60
    )

    assert (again.outcome, again.status) == ("in_flight", 409)
    assert await transfers_of(kept_wallet, alice, "deposit") == [str(opened.transfer["id"])]


async def test_a_p2p_with_the_key_of_a_queued_deposit_does_not_take_it_over(
    bank: RunningBank, kept_wallet: RunningWallet, bankless_wallet: RunningWallet,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    alice = await registered(bank, kept_wallet, http)
    bob = await registered(bank, kept_wallet, http)
    pool = kept_wallet.app[POOL]
    user = await auth_store.user_by_account(pool, alice.account_number or "")
    assert user is not None
    await ledger_store.post_deposit(pool, user.id, 100_00, "INR")
    alice = WalletClient(http, bankless_wallet.url, alice.token, alice.account_number)
    queued = await move(alice, "deposit", "10.00", key="shared")
    assert queued.status == 202, queued
    await age_key(bankless_wallet, "shared")

    p2p = await alice.send(bob.account_number or "", "1.00", key="shared")

    assert (p2p.status, p2p.body["code"]) == (422, "idempotency_mismatch"), p2p
    assert await transfers_of(bankless_wallet, alice, "p2p") == []


async def test_a_finished_transfers_key_still_expires(
    bank: RunningBank, kept_wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, kept_wallet, http)
    first = await move(alice, "deposit", "10.00", key="old-key")
    assert (first.status, first.body["state"]) == (201, "posted"), first
    replay = await move(alice, "deposit", "10.00", key="old-key")
    assert replay.body["id"] == first.body["id"]  # young: remembered

    await age_key(kept_wallet, "old-key")
    later = await move(alice, "deposit", "10.00", key="old-key")

    assert (later.status, later.body["state"]) == (201, "posted"), later
    assert later.body["id"] != first.body["id"]  # retention passed: a new deposit, as configured
    assert sorted(await transfers_of(kept_wallet, alice, "deposit")) == sorted(
        [first.body["id"], later.body["id"]]
    )
