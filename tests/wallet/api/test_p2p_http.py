"""P2P over HTTP against a real wallet whose users signed up through the real bank."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.support.bank import RunningBank
from tests.support.tcp_proxy import lossy_proxy_to
from tests.wallet.stack import (
    RunningWallet,
    WalletClient,
    fund,
    new_account_number,
    registered,
    start_wallet,
)
from vellet.bench.faults import LossyProxy
from vellet.common import streams
from vellet.wallet.ledger import audit
from vellet.wallet.state import POOL


@pytest.fixture
async def alice(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> WalletClient:
    client = await registered(bank, wallet, http, name="Alice Example")
    await fund(wallet, client, 100_00)
    return client


@pytest.fixture
async def bob(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> WalletClient:
    return await registered(bank, wallet, http, name="Bob Example")


async def available(client: WalletClient) -> str:
    reply = await client.me()
    assert reply.status == 200, reply
    return str(reply.body["balance"]["available"])


async def test_p2p_posts_and_moves_the_money(alice: WalletClient, bob: WalletClient) -> None:
    reply = await alice.send(bob.account_number or "", "25.50", note="dinner")

    assert reply.status == 201
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.body
    assert {k: body[k] for k in ("kind", "state", "amount", "currency", "note")} == {
        "kind": "p2p", "state": "posted", "amount": "25.50", "currency": "INR", "note": "dinner",
    }  # fmt: skip
    assert (body["from_account"], body["to_account"]) == (alice.account_number, bob.account_number)
    assert body["failure_reason"] is None
    assert body["created_at"].endswith("Z")
    assert await available(alice) == "74.50"
    assert await available(bob) == "25.50"
    fetched = await bob.call("GET", f"/api/v1/transfers/{body['id']}")
    assert fetched.body == body


async def test_the_event_reaches_the_stream_with_both_parties(
    alice: WalletClient, bob: WalletClient, redis_url: str
) -> None:
    reply = await alice.send(bob.account_number or "", "10.00", note="<b>hi</b>")
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for _ in range(100):  # the relay is woken by the commit; give it its moment
            entries = await redis.xrange(streams.TRANSFER_EVENTS)
            events = [streams.payload_of(f) for _, f in entries]
            mine = [e for e in events if e["transfer_id"] == reply.body["id"]]
            if mine:
                break
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    assert len(mine) == 1
    event = mine[0]
    assert (event["kind"], event["state"], event["amount"], event["note"]) == (
        "p2p", "posted", "10.00", "<b>hi</b>",
    )  # fmt: skip
    sender, recipient = event["parties"]
    assert (sender["role"], sender["name"], sender["available_balance"]) == (
        "sender", "Alice Example", "90.00",
    )  # fmt: skip
    assert (recipient["role"], recipient["name"], recipient["available_balance"]) == (
        "recipient", "Bob Example", "10.00",
    )  # fmt: skip
    assert recipient["email"] == f"holder{bob.account_number}@example.test"


async def test_same_key_same_payload_gets_the_same_answer(
    alice: WalletClient, bob: WalletClient
) -> None:
    first = await alice.send(bob.account_number or "", "5.00", key="order-17")
    # "5" and "5.00" are the same amount: the same request.
    again = await alice.send(bob.account_number or "", "5", key="order-17")

    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await available(alice) == "95.00"


async def test_same_key_other_payload_is_422_and_moves_nothing(
    alice: WalletClient, bob: WalletClient
) -> None:
    await alice.send(bob.account_number or "", "5.00", key="order-18")
    other = await alice.send(bob.account_number or "", "6.00", key="order-18")
    assert (other.status, other.body["code"]) == (422, "idempotency_mismatch")
    assert await available(alice) == "95.00"


async def test_concurrent_retries_of_one_key_move_money_once(
    alice: WalletClient, bob: WalletClient
) -> None:
    replies = await asyncio.gather(
        *(alice.send(bob.account_number or "", "1.00", key="burst") for _ in range(20))
    )
    assert {r.status for r in replies} <= {201, 409}
    created = {r.body["id"] for r in replies if r.status == 201}
    assert len(created) == 1
    assert all(r.body["code"] == "idempotency_in_flight" for r in replies if r.status == 409)
    assert await available(alice) == "99.00"


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_idempotency_key"), ({"Idempotency-Key": "x" * 256}, "invalid_idempotency_key")],
)
async def test_the_idempotency_key_is_required_and_bounded(
    alice: WalletClient, bob: WalletClient, headers: dict[str, str], code: str
) -> None:
    body = {"kind": "p2p", "amount": "1.00", "currency": "INR", "to_account": bob.account_number}
    reply = await alice.call("POST", "/api/v1/transfers", json=body, headers=headers)
    assert (reply.status, reply.body["code"]) == (400, code)
    ok = await alice.call(
        "POST", "/api/v1/transfers", json=body, headers={"Idempotency-Key": "x" * 255}
    )
    assert ok.status == 201


@pytest.mark.parametrize(
    ("amount", "fragment"),
    [("-1.00", "positive"), ("0.00", "greater than zero"), ("1.001", "at most 2 decimal"),
     (5, "decimal string"), ("1e3", "plain decimal"), ("abc", "plain decimal")],
)  # fmt: skip
async def test_bad_amounts_are_422_with_a_reason(
    alice: WalletClient, bob: WalletClient, amount: object, fragment: str
) -> None:
    body = {"kind": "p2p", "amount": amount, "currency": "INR", "to_account": bob.account_number}
    reply = await alice.call(
        "POST", "/api/v1/transfers", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (reply.status, reply.body["code"]) == (422, "invalid_amount")
    assert fragment in reply.body["detail"]


async def test_refusals_carry_the_api_codes(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession,
    alice: WalletClient, bob: WalletClient,
) -> None:  # fmt: skip
    euro = await registered(bank, wallet, http, currency="EUR")
    cases = [
        (new_account_number(), "1.00", "INR", 404, "unknown_recipient"),
        (alice.account_number, "1.00", "INR", 422, "same_account"),
        (euro.account_number, "1.00", "INR", 422, "currency_mismatch"),
        (bob.account_number, "1.00", "EUR", 422, "currency_mismatch"),
        (bob.account_number, "100.01", "INR", 422, "insufficient_funds"),
    ]
    for to, amount, currency, status, code in cases:
        reply = await alice.send(to or "", amount, currency=currency)
        assert (reply.status, reply.body["code"]) == (status, code), code
        assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert await available(alice) == "100.00"


async def test_200_concurrent_transfers_from_one_account_post_exactly_the_affordable_ones(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    """Must show: 200 concurrent P2P requests, 37 affordable, over HTTP."""
    sender = await registered(bank, wallet, http)
    await fund(wallet, sender, 37 * 3_00 + 2_99)  # 37 transfers of 3.00, and 2.99 left over
    recipients = [await registered(bank, wallet, http) for _ in range(4)]
    lowest: list[Decimal] = []
    racing = True

    async def watch() -> None:  # the balance, as the API shows it, while the race runs
        while racing:
            lowest.append(Decimal(await available(sender)))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    replies = await asyncio.gather(
        *(sender.send(recipients[i % 4].account_number or "", "3.00") for i in range(200))
    )
    racing = False
    await watcher

    statuses = [r.status for r in replies]
    assert statuses.count(201) == 37
    assert statuses.count(422) == 163
    assert {r.body["code"] for r in replies if r.status == 422} == {"insufficient_funds"}
    assert await available(sender) == "2.99"
    assert sum([Decimal(await available(r)) for r in recipients]) == Decimal("111.00")
    assert lowest
    assert min(lowest) >= 0
    report = await audit.check_invariants(wallet.app[POOL])
    assert report.ok, report.violations()


async def test_another_users_transfer_is_404_like_a_missing_one(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession,
    alice: WalletClient, bob: WalletClient,
) -> None:  # fmt: skip
    carol = await registered(bank, wallet, http)
    sent = await alice.send(bob.account_number or "", "1.00")
    path = f"/api/v1/transfers/{sent.body['id']}"

    theirs = await carol.call("GET", path)
    missing = await carol.call("GET", f"/api/v1/transfers/{uuid.uuid4()}")
    not_an_id = await carol.call("GET", "/api/v1/transfers/not-a-uuid")

    assert theirs.status == missing.status == not_an_id.status == 404
    assert theirs.body == missing.body
    assert (await alice.call("GET", path)).status == 200
    assert (await bob.call("GET", path)).status == 200
    history = await carol.call("GET", "/api/v1/transfers")
    assert history.body == {"items": [], "next_cursor": None}


async def test_a_refusal_is_replayed_even_after_funds_arrive(
    wallet: RunningWallet, alice: WalletClient, bob: WalletClient
) -> None:
    refused = await alice.send(bob.account_number or "", "500.00", key="too-much")
    await fund(wallet, alice, 1_000_00)
    again = await alice.send(bob.account_number or "", "500.00", key="too-much")
    fresh = await alice.send(bob.account_number or "", "500.00", key="new-key")

    assert (refused.status, refused.body["code"]) == (422, "insufficient_funds")
    assert (again.status, again.body) == (refused.status, refused.body)
    assert fresh.status == 201


async def test_a_database_outage_is_503_and_a_retry_with_the_key_moves_money_once(
    wallet_dsn: str, redis_url: str, bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    # The wallet reaches PostgreSQL through a proxy this test can cut.
    target = urlsplit(wallet_dsn)
    assert target.hostname is not None
    assert target.port is not None
    proxy = await lossy_proxy_to(wallet_dsn)
    through = wallet_dsn.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    wallet = await start_wallet(through, redis_url, bank.url)
    try:
        alice = await registered(bank, wallet, http)
        bob = await registered(bank, wallet, http)
        await fund(wallet, alice, 100_00)

        await proxy.stop()  # every connection cut, new ones refused
        cut = await alice.send(bob.account_number or "", "10.00", key="during-outage")

        assert cut.status == 503, cut
        assert cut.headers["Content-Type"].startswith("application/problem+json")
        assert cut.body["code"] == "unavailable"
        assert "Idempotency-Key" in cut.body["detail"]
        assert str(target.port) not in str(cut.body)
        assert str(proxy.port) not in str(cut.body)

        proxy = await LossyProxy(target.hostname, target.port, port=proxy.port).start()
        retried = await alice.send(bob.account_number or "", "10.00", key="during-outage")
        again = await alice.send(bob.account_number or "", "10.00", key="during-outage")

        assert retried.status == 201, retried
        assert again.status == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert await available(bob) == "10.00"
        assert (await audit.check_invariants(wallet.app[POOL])).ok
    finally:
        await wallet.stop()
        await proxy.stop()
