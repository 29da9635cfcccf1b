"""The outbox relay: every committed transfer reaches the event stream, even
after a crash between COMMIT and XADD, and concurrent relays do not double up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from tests.support.keys import TEST_KEYS
from tests.wallet.ledger_helpers import make_user, send
from tests.wallet.stack import start_wallet
from vellet.common import streams
from vellet.common.db import Pool
from vellet.wallet.events import store as events_store
from vellet.wallet.events.relay import OutboxRelay
from vellet.wallet.state import POOL


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[streams.Redis]:
    client = streams.connect(redis_url)
    yield client
    await client.aclose()


def relay(pool: Pool, redis: streams.Redis) -> OutboxRelay:
    counter = Counter("published", "test", registry=CollectorRegistry())
    return OutboxRelay(pool, redis, interval=0.05, published=counter, signer=TEST_KEYS["wallet"])


async def events(redis: streams.Redis) -> list[dict[str, object]]:
    return [streams.payload_of(f) for _, f in await redis.xrange(streams.TRANSFER_EVENTS)]


async def test_committed_transfers_wait_in_the_outbox_until_a_relay_runs(
    pool: Pool, redis: streams.Redis
) -> None:
    """What a crash after COMMIT and before XADD leaves: rows, no messages."""
    alice = await make_user(pool, funds=10_000)  # its deposit is an event too
    bob = await make_user(pool)
    answers = [await send(pool, alice, bob.account_number, 100) for _ in range(5)]
    assert await events(redis) == []
    assert await events_store.unpublished_count(pool) == 6

    sent = await relay(pool, redis).drain()

    assert sent == 6
    assert await events_store.unpublished_count(pool) == 0
    published = await events(redis)
    kinds = [e["kind"] for e in published]
    assert kinds == ["deposit", "p2p", "p2p", "p2p", "p2p", "p2p"]
    ids = {str(e["transfer_id"]) for e in published if e["kind"] == "p2p"}
    assert ids == {json.loads(a.body or "")["id"] for a in answers}
    assert await relay(pool, redis).drain() == 0  # nothing goes out twice


async def test_a_relay_that_dies_before_commit_publishes_again_with_the_same_event_id(
    pool: Pool, redis: streams.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)
    await relay(pool, redis).drain()  # the deposit's event: out of the way
    await redis.delete(streams.TRANSFER_EVENTS)
    await send(pool, alice, bob.account_number, 100)

    class Crash(Exception):
        pass

    async def crash_after_xadd(*args: object) -> None:
        raise Crash  # the process "dies" after XADD, before its COMMIT

    with monkeypatch.context() as patch:
        patch.setattr(events_store, "forget_published", crash_after_xadd)
        with pytest.raises(Crash):
            await relay(pool, redis).drain()
    first = await events(redis)
    await relay(pool, redis).drain()
    everything = await events(redis)

    assert len(first) == 1  # it did reach Redis before the crash
    assert len(everything) == 2  # at-least-once: the row was still there
    assert everything[0]["event_id"] == everything[1]["event_id"]  # so the notifier dedups
    assert await events_store.unpublished_count(pool) == 0


async def test_concurrent_relays_publish_each_event_once(pool: Pool, redis: streams.Redis) -> None:
    alice = await make_user(pool, funds=1_000_000)
    recipients = [await make_user(pool) for _ in range(3)]
    await asyncio.gather(
        *(send(pool, alice, recipients[i % 3].account_number, 7) for i in range(150))
    )
    counts = await asyncio.gather(*(relay(pool, redis).drain() for _ in range(4)))
    published = await events(redis)
    assert sum(counts) == len(published) == 150 + 1  # the transfers and alice's deposit
    assert len({e["event_id"] for e in published}) == len(published)


async def test_event_payload_matches_the_notifier_contract(
    pool: Pool, redis: streams.Redis
) -> None:
    alice = await make_user(pool, funds=5_000)
    bob = await make_user(pool, funds=1)
    await redis.delete(streams.TRANSFER_EVENTS)
    await pool.execute("DELETE FROM outbox")
    await send(pool, alice, bob.account_number, 1_250, note="rent")
    await relay(pool, redis).drain()
    (event,) = await events(redis)
    assert set(event) == {
        "event_id", "transfer_id", "kind", "state", "amount", "currency", "note",
        "failure_reason", "occurred_at", "parties",
    }  # fmt: skip
    assert (event["amount"], event["note"], event["state"]) == ("12.50", "rent", "posted")
    assert event["parties"] == [
        {"role": "sender", "account_number": alice.account_number, "name": alice.name,
         "email": alice.email, "available_balance": "37.50"},
        {"role": "recipient", "account_number": bob.account_number, "name": bob.name,
         "email": bob.email, "available_balance": "12.51"},
    ]  # fmt: skip
    assert str(event["occurred_at"]).endswith("Z")
    # Signed by the wallet for this stream: the notifier (trusting only the
    # wallet's key) accepts it; nothing else may verify it.
    [(_, fields)] = await redis.xrange(streams.TRANSFER_EVENTS)
    streams.verify(streams.TRANSFER_EVENTS, fields, (TEST_KEYS["wallet"].public(),))
    with pytest.raises(streams.Refused):
        streams.verify(streams.BANK_REQUESTS, fields, (TEST_KEYS["wallet"].public(),))


async def test_the_running_wallet_relays_by_itself(redis_url: str, wallet_dsn: str) -> None:
    """No explicit drain: the app's own relay task sweeps on its timer."""
    running = await start_wallet(wallet_dsn, redis_url, "http://127.0.0.1:9")
    try:
        # Written behind the app's back, so only the timer can find it.
        await make_user(running.app[POOL], funds=100)
        client = streams.connect(redis_url)
        try:
            for _ in range(100):
                if await client.xlen(streams.TRANSFER_EVENTS):
                    break
                await asyncio.sleep(0.05)
            assert await client.xlen(streams.TRANSFER_EVENTS) == 1
        finally:
            await client.aclose()
    finally:
        await running.stop()
