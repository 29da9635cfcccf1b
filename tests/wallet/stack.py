"""A real wallet for tests, in-process on a random port, talking to a real bank.

``start_wallet`` runs the real app (``create_app``) with test settings:
cheap argon2 parameters (the cost is a setting, the algorithm is the same)
and the shared test service key. ``WalletClient`` is a thin HTTP client
that speaks the public API the way a user would.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.bank import FAST_STREAMS, TEST_TOKENS, RunningBank, holder_email
from tests.support.keys import key_settings
from tests.support.mailbox import session_mailbox
from vellet.common.settings import HttpSettings, Secret
from vellet.common.web import Site, start
from vellet.wallet.app import create_app
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.settings import (
    LoginLimits,
    PasswordSettings,
    SessionSettings,
    SignupLimits,
    WalletSettings,
)
from vellet.wallet.state import POOL

SESSION_SECRET = "wallet-session-test-secret-0123456789abcdef"
#: Test wallets serve plain HTTP on loopback, as ``vellet up`` does, and opt out
#: of Secure cookies the same explicit way (the shipped default is secure).
TEST_SESSIONS = SessionSettings(secret=Secret(SESSION_SECRET), cookie_secure=False)
#: argon2id at test cost: the same code path, a fraction of the memory and time.
CHEAP_PASSWORDS = PasswordSettings(memory_kib=1024, time_cost=1, parallelism=1)
PASSWORD = "correct horse battery"

_numbers = itertools.count(200_000_000_001)


def new_account_number() -> str:
    return str(next(_numbers))


def wallet_settings(
    database_url: str, redis_url: str, bank_url: str, **overrides: Any
) -> WalletSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "bank_url": bank_url,
        "http": HttpSettings(port=0),
        "internal_http": HttpSettings(port=0),
        "tokens": TEST_TOKENS,
        "keys": key_settings("wallet", ("bank", "operator")),
        "sessions": TEST_SESSIONS,
        "passwords": CHEAP_PASSWORDS,
        "login": LoginLimits(),
        # Every test user signs up from 127.0.0.1: the per-address budget would be
        # the suite's, not an attacker's. The per-account one stays as shipped.
        "signup": SignupLimits(per_address=1_000_000),
        "bank_timeout": 2.0,
        "outbox_interval": 0.2,
        # In-line: spawning a relay process per test app would cost a second
        # each. tests/wallet/events/test_relay_process.py runs the process one.
        "outbox_relay_process": False,
        # The bank result consumer stops within one stream read: keep it short.
        "streams": FAST_STREAMS,
    }
    values.update(overrides)
    return WalletSettings(**values)


@dataclass
class RunningWallet:
    url: str
    settings: WalletSettings
    site: Site
    app: web.Application

    @property
    def internal_url(self) -> str:
        """``/internal/v1`` and ``/metrics``: the wallet's internal port."""
        return self.site.internal_url

    async def stop(self) -> None:
        await self.site.stop()


async def start_wallet(
    database_url: str, redis_url: str, bank_url: str, **overrides: Any
) -> RunningWallet:
    settings = wallet_settings(database_url, redis_url, bank_url, **overrides)
    app = create_app(settings)
    site = await start("wallet", app, settings.http)
    return RunningWallet(site.url, settings, site, app)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)


@dataclass
class WalletClient:
    """One user agent: keeps the token it logged in with."""

    http: aiohttp.ClientSession
    url: str
    token: str | None = None
    account_number: str | None = None

    async def call(self, method: str, path: str, *, json: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        hdrs = dict(headers or {})
        if self.token is not None and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        async with self.http.request(method, self.url + path, json=json, headers=hdrs) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            cookies = resp.headers.getall("Set-Cookie", [])
            return Reply(resp.status, body, dict(resp.headers), list(cookies))

    async def start_signup(self, number: str, **headers: str) -> Reply:
        return await self.call(
            "POST", "/api/v1/auth/signup", json={"account_number": number}, headers=headers
        )

    async def complete_signup(self, number: str, code: str, password: str = PASSWORD) -> Reply:
        body = {"account_number": number, "code": code, "password": password}
        return await self.call("POST", "/api/v1/auth/signup/complete", json=body)

    async def signup(self, number: str, password: str = PASSWORD, *,
                     email: str | None = None) -> Reply:  # fmt: skip
        """Sign up the way a holder does: start, read the code the bank mailed to the
        address on file (``email``; by default the one ``create_account`` gives) from
        the real SMTP sink, complete. A start that is not 202 is returned as it is."""
        started = await self.start_signup(number)
        if started.status != 202:
            return started
        code = await session_mailbox().code_for(email or holder_email(number))
        return await self.complete_signup(number, code, password)

    async def login(self, number: str, password: str = PASSWORD) -> Reply:
        reply = await self.call(
            "POST", "/api/v1/auth/login", json={"account_number": number, "password": password}
        )
        if reply.status == 200:
            self.token, self.account_number = reply.body["token"], number
        return reply

    async def me(self) -> Reply:
        return await self.call("GET", "/api/v1/me")

    async def send(self, to: str, amount: str, *, key: str | None = None,
                   currency: str = "INR", note: str | None = None) -> Reply:  # fmt: skip
        body: dict[str, Any] = {
            "kind": "p2p",
            "amount": amount,
            "currency": currency,
            "to_account": to,
        }
        if note is not None:
            body["note"] = note
        return await self.call(
            "POST", "/api/v1/transfers", json=body,
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )  # fmt: skip


async def registered(bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession,
                     *, balance: str = "1000.00", currency: str = "INR",
                     name: str = "Test Holder") -> WalletClient:  # fmt: skip
    """A bank account, signed up in the wallet through the bank, logged in."""
    number = new_account_number()
    await bank.create_account(number, balance=balance, currency=currency, name=name)
    client = WalletClient(http, wallet.url)
    reply = await client.signup(number, email=bank.emails[number])
    assert reply.status == 201, reply
    reply = await client.login(number)
    assert reply.status == 200, reply
    return client


async def mailed_code(bank: RunningBank, client: WalletClient,
                      **account: Any) -> tuple[str, str]:  # fmt: skip
    """A new bank account whose sign-up ``client`` started: (its number, the code mailed)."""
    number = new_account_number()
    await bank.create_account(number, **account)
    reply = await client.start_signup(number)
    assert reply.status == 202, reply
    return number, await bank.signup_code(number)


async def fund(wallet: RunningWallet, client: WalletClient, minor: int) -> None:
    """Credit a wallet with a deposit the bank has settled (deposits over HTTP
    belong to the bank flows; P2P tests only need money to be there)."""
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, client.account_number or "")
    assert user is not None
    await ledger_store.post_deposit(pool, user.id, minor, user.currency)
