"""Cookie-holding users for live-channel tests: what a browser holds, without a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from tests.support.bank import RunningBank
from tests.wallet.stack import PASSWORD, RunningWallet, WalletClient, fund, new_account_number


@dataclass
class CookieUser:
    number: str
    http: aiohttp.ClientSession
    token: str
    csrf: str

    def ws(self, url: str, path: str = "/live", **kwargs: object) -> object:
        headers = {"Origin": url}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.http.ws_connect(url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def cookie_user(bank: RunningBank, wallet: RunningWallet, *,
                      money: int = 0) -> AsyncIterator[CookieUser]:  # fmt: skip
    """A signed-up user logged in with a cookie jar (``unsafe``: the host is an IP)."""
    number = new_account_number()
    await bank.create_account(number)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        client = WalletClient(http, wallet.url)
        assert (await client.signup(number)).status == 201
        creds = {"account_number": number, "password": PASSWORD}
        async with http.post(wallet.url + "/api/v1/auth/login", json=creds) as resp:
            assert resp.status == 200
            body = await resp.json()
        if money:
            client.account_number = number
            await fund(wallet, client, money)
        yield CookieUser(number, http, body["token"], body["csrf_token"])


@asynccontextmanager
async def three_users(bank: RunningBank, wallet: RunningWallet
                      ) -> AsyncIterator[tuple[CookieUser, CookieUser, CookieUser]]:  # fmt: skip
    """Alice (with 100.00), who pays Bob, and Eve, who should hear nothing of it."""
    async with (
        cookie_user(bank, wallet, money=10_000) as alice,
        cookie_user(bank, wallet) as bob,
        cookie_user(bank, wallet) as eve,
    ):
        yield alice, bob, eve


async def pay(user: CookieUser, url: str, to: str, amount: str = "1.00") -> dict[str, object]:
    """A P2P transfer the way the dashboard sends it: cookie, CSRF header, a key."""
    import uuid

    body = {"kind": "p2p", "amount": amount, "currency": "INR", "to_account": to}
    headers = {"X-CSRF-Token": user.csrf, "Idempotency-Key": uuid.uuid4().hex}
    async with user.http.post(url + "/api/v1/transfers", json=body, headers=headers) as resp:
        assert resp.status == 201, await resp.text()
        answer: dict[str, object] = await resp.json()
        return answer
