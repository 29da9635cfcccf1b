"""The live channel: a user hears of their own transfers, and nobody else can.

Every way a client could name a channel is tried (a query string, a path,
a subscription message, another user's token, a forged or expired or
logged-out one, a foreign page's Origin); each is refused, and a socket
that is open never carries another account's event.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp
import jwt
import pytest

from tests.support.bank import RunningBank
from tests.support.keys import TEST_KEYS
from tests.wallet.stack import SESSION_SECRET, RunningWallet, start_wallet
from tests.wallet.web.helpers import cookie_user, pay, three_users
from vellet.common import streams
from vellet.common.settings import HttpSettings, Secret
from vellet.wallet.settings import SessionSettings
from vellet.wallet.web import hub
from vellet.wallet.web.hub import HUB


async def next_message(ws: Any, timeout: float = 3.0) -> aiohttp.WSMessage:
    return await asyncio.wait_for(ws.receive(), timeout)


async def closed_with(ws: Any, timeout: float = 3.0) -> int:
    """The code of the close frame the server sent (the client's own bookkeeping may
    report 1006 when the server drops TCP right after the handshake)."""
    msg = await next_message(ws, timeout)
    assert msg.type == aiohttp.WSMsgType.CLOSE, msg
    return int(msg.data)


async def hello(ws: Any) -> None:
    msg = await next_message(ws)
    assert msg.type == aiohttp.WSMsgType.TEXT
    assert json.loads(msg.data) == {"type": "hello"}


async def refused(user_http: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        async with user_http.ws_connect(url, **kwargs):
            pass
    return err.value.status


async def message_about(ws: Any, transfer_id: object) -> dict[str, Any]:
    """The socket's message about ``transfer_id``, past any about the user's funding deposit."""
    while True:
        msg: dict[str, Any] = json.loads((await next_message(ws)).data)
        if msg.get("transfer_id") == transfer_id:
            return msg


def token_for(number: str, *, secret: str = SESSION_SECRET, exp_in: int = 600) -> str:
    now = int(time.time())
    claims = {"iss": "vellet-wallet", "aud": "vellet-wallet", "sub": "1", "acct": number,
              "csrf": "x", "iat": now - 1000, "exp": now + exp_in}  # fmt: skip
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_a_payment_reaches_both_parties_and_nobody_else_with_nothing_but_its_id(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    url = wallet.url
    async with three_users(bank, wallet) as (alice, bob, eve):
        await _heard_by_parties_only(url, alice, bob, eve)


async def _heard_by_parties_only(url: str, alice: Any, bob: Any, eve: Any) -> None:
    async with alice.ws(url) as a_ws, bob.ws(url) as b_ws, eve.ws(url) as e_ws:
        for ws in (a_ws, b_ws, e_ws):
            await hello(ws)
        sent = await pay(alice, url, bob.number)
        for ws in (a_ws, b_ws):
            msg = await message_about(ws, sent["id"])
            # Not the names, e-mails or balances the event carries: the page re-reads.
            assert msg == {"type": "transfer", "transfer_id": sent["id"], "state": "posted"}
        with pytest.raises(TimeoutError):
            await next_message(e_ws, timeout=1.0)


async def test_a_subscription_message_naming_another_account_closes_the_socket(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    url = wallet.url
    users = three_users(bank, wallet)
    async with users as (alice, bob, eve), eve.ws(url) as e_ws:  # type: ignore[attr-defined]
        await hello(e_ws)
        await e_ws.send_str(json.dumps({"subscribe": alice.number, "account": bob.number}))
        assert await closed_with(e_ws) == 1008
        await pay(alice, url, bob.number)
        assert wallet.app[HUB].open_sockets(eve.number) == 0


@pytest.mark.parametrize("path", ["/live?account={victim}", "/live?channel={victim}",
                                  "/live/{victim}"])  # fmt: skip
async def test_a_channel_named_in_the_url_is_refused(
    bank: RunningBank, wallet: RunningWallet, path: str
) -> None:
    async with cookie_user(bank, wallet) as victim, cookie_user(bank, wallet) as eve:
        status = await refused(eve.http, wallet.url + path.format(victim=victim.number),
                               headers={"Origin": wallet.url})  # fmt: skip
        assert status in (400, 404)


async def test_no_cookie_a_forged_an_expired_or_a_foreign_origin_socket_is_refused(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    url, origin = wallet.url + "/live", {"Origin": wallet.url}
    async with cookie_user(bank, wallet) as victim:
        assert await refused(http, url, headers=origin) == 401
        forged = token_for(victim.number, secret="not-the-wallet-secret-0123456789abcdef")
        expired = token_for(victim.number, exp_in=-5)
        for token in (forged, expired):
            cookie = {"Cookie": f"vellet_session={token}", **origin}
            assert await refused(http, url, headers=cookie) == 401
        # The victim's own valid cookie, sent by a hostile page's script: wrong Origin.
        assert await refused(victim.http, url, headers={"Origin": "http://evil.test"}) == 403
        assert await refused(victim.http, url) == 403  # no Origin at all


async def test_logging_out_closes_the_sockets_on_every_replica_and_the_token_opens_no_more(
    bank: RunningBank, wallet: RunningWallet, wallet_dsn: str, redis_url: str
) -> None:
    other = await start_wallet(wallet_dsn, redis_url, bank.url)
    try:
        async with cookie_user(bank, wallet) as alice:
            here, there = alice.ws(wallet.url), alice.ws(other.url)
            async with here as here_ws, there as there_ws:  # type: ignore[attr-defined]
                await hello(here_ws)
                await hello(there_ws)
                csrf = {"X-CSRF-Token": alice.csrf}
                async with alice.http.post(wallet.url + "/logout", headers=csrf) as resp:
                    assert resp.status == 204
                for ws in (here_ws, there_ws):
                    assert await closed_with(ws) == 4000
            # A copy of the logged-out token is still a valid JWT; the channel refuses it.
            cookie = {"Cookie": f"vellet_session={alice.token}"}
            for url in (wallet.url, other.url):
                assert await refused(alice.http, url + "/live",
                                     headers={"Origin": url, **cookie}) == 401  # fmt: skip
    finally:
        await other.stop()


async def test_logout_without_the_csrf_header_is_refused_and_ends_nothing(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with cookie_user(bank, wallet) as alice, alice.ws(wallet.url) as ws:  # type: ignore[attr-defined]
        await hello(ws)
        async with alice.http.post(wallet.url + "/logout") as resp:
            assert resp.status == 403
        with pytest.raises(TimeoutError):
            await next_message(ws, timeout=0.5)


async def test_an_event_published_by_another_replica_reaches_the_socket(
    bank: RunningBank, wallet: RunningWallet, wallet_dsn: str, redis_url: str
) -> None:
    # This replica's relay never runs in time: only the other one publishes.
    quiet = await start_wallet(wallet_dsn, redis_url, bank.url, outbox_interval=3600.0)
    try:
        async with (
            cookie_user(bank, wallet, money=1000) as alice,
            cookie_user(bank, wallet) as bob,
            bob.ws(quiet.url) as ws,  # type: ignore[attr-defined]
        ):
            await hello(ws)
            sent = await pay(alice, wallet.url, bob.number)
            assert (await message_about(ws, sent["id"]))["state"] == "posted"
    finally:
        await quiet.stop()


async def test_the_socket_closes_when_the_session_expires(
    bank: RunningBank, wallet_dsn: str, redis_url: str
) -> None:
    short = SessionSettings(secret=Secret(SESSION_SECRET), ttl_seconds=2, cookie_secure=False)
    brief = await start_wallet(wallet_dsn, redis_url, bank.url, sessions=short,
                               http=HttpSettings(port=0))  # fmt: skip
    try:
        async with cookie_user(bank, brief) as alice, alice.ws(brief.url) as ws:  # type: ignore[attr-defined]
            await hello(ws)
            started = time.monotonic()
            assert await closed_with(ws, timeout=5) == 4001
            assert time.monotonic() - started < 3.5
    finally:
        await brief.stop()


async def test_an_event_the_wallet_did_not_sign_never_reaches_a_socket(
    bank: RunningBank, wallet: RunningWallet, redis_url: str
) -> None:
    """Anyone with Redis access could otherwise tell a page "you received money"."""
    redis = streams.connect(redis_url)
    try:
        async with (
            cookie_user(bank, wallet, money=1000) as alice,
            cookie_user(bank, wallet) as bob,
            bob.ws(wallet.url) as ws,  # type: ignore[attr-defined]
        ):
            await hello(ws)
            party = {"role": "recipient", "account_number": bob.number, "name": "Bo",
                     "email": "bo@example.test", "available_balance": "5000.00"}  # fmt: skip
            forged = {"event_id": str(uuid.uuid4()), "transfer_id": str(uuid.uuid4()),
                      "kind": "p2p", "state": "posted", "amount": "5000.00", "currency": "INR",
                      "note": None, "failure_reason": None, "occurred_at": "2026-01-01T00:00:00Z",
                      "parties": [party]}  # fmt: skip
            await redis.xadd(streams.TRANSFER_EVENTS, {"payload": json.dumps(forged)})
            await redis.xadd(streams.TRANSFER_EVENTS, streams.message(
                TEST_KEYS["bank"], streams.TRANSFER_EVENTS, forged))  # fmt: skip
            sent = await pay(alice, wallet.url, bob.number)  # a genuine one after them
            heard = []
            while not heard or heard[-1] != sent["id"]:
                heard.append(json.loads((await next_message(ws)).data).get("transfer_id"))
            assert forged["transfer_id"] not in heard
    finally:
        await redis.aclose()


async def _xread_calls(redis: Any) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_xread", {}).get("calls", 0))


async def test_a_hub_with_no_socket_open_reads_nothing_and_starts_when_one_opens(
    redis_url: str,
) -> None:
    """Reading every event costs a loaded replica a fifth of its CPU for nobody."""
    redis = streams.connect(redis_url)
    live = hub.LiveHub(redis, (TEST_KEYS["wallet"].public(),), block_ms=50)
    task = asyncio.create_task(live.run())
    try:
        before = await _xread_calls(redis)
        await asyncio.sleep(0.5)
        assert await _xread_calls(redis) == before
        sub = live.subscribe("100000000001", "fingerprint")
        await asyncio.sleep(0.5)
        assert await _xread_calls(redis) > before
        live.unsubscribe(sub)
        await asyncio.sleep(0.2)  # the read in flight ends
        idle = await _xread_calls(redis)
        await asyncio.sleep(0.5)
        assert await _xread_calls(redis) == idle
    finally:
        live.stopping.set()
        await task
        await redis.aclose()


async def test_an_event_made_while_the_page_loaded_reaches_its_first_socket(
    bank: RunningBank, wallet: RunningWallet, wallet_dsn: str, redis_url: str
) -> None:
    """An idle hub starts a little back, not at the newest event: the transfer that
    committed between the page's rendering and its socket opening is still heard."""
    idle = await start_wallet(wallet_dsn, redis_url, bank.url, outbox_interval=3600.0)
    redis = streams.connect(redis_url)
    try:
        async with (
            cookie_user(bank, wallet, money=1000) as alice,
            cookie_user(bank, wallet) as bob,
        ):
            sent = await pay(alice, wallet.url, bob.number)
            for _ in range(100):  # until the other replica's relay has published it
                newest = await redis.xrevrange(streams.TRANSFER_EVENTS, count=1)
                if newest and sent["id"] in json.dumps(newest[0][1]):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the event was never published")
            async with bob.ws(idle.url) as ws:  # type: ignore[attr-defined]
                await hello(ws)
                assert (await message_about(ws, sent["id"]))["state"] == "posted"
    finally:
        await redis.aclose()
        await idle.stop()
