"""A session the wallet has already verified still expires on time.

``sessions.Verifier`` remembers tokens it has verified, so it does not check
the same HMAC on every request. The forged-token tests only send tokens the
memo never saw; here the token is used once (and so remembered), its
``exp`` passes (a 3-second session), and it must be refused like any other
expired session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import TEST_SESSIONS, RunningWallet, WalletClient, registered, start_wallet


@pytest.fixture
async def short_sessions(
    wallet_dsn: str, redis_url: str, bank: RunningBank
) -> AsyncIterator[RunningWallet]:
    sessions = dataclasses.replace(TEST_SESSIONS, ttl_seconds=3)
    running = await start_wallet(wallet_dsn, redis_url, bank.url, sessions=sessions)
    yield running
    await running.stop()


async def test_a_remembered_session_is_refused_once_it_expires(
    bank: RunningBank, short_sessions: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, short_sessions, http)
    token = alice.token or ""
    cookie = {"Cookie": f"vellet_session={token}"}
    by_cookie = WalletClient(http, short_sessions.url)
    assert (await alice.me()).status == 200  # verified once: now remembered
    assert (await by_cookie.call("GET", "/api/v1/me", headers=cookie)).status == 200

    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)

    for reply in (await alice.me(), await by_cookie.call("GET", "/api/v1/me", headers=cookie)):
        assert reply.status == 401
        assert reply.body["code"] == "session_expired"
