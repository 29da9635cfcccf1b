"""Session cookies are ``Secure`` unless a deployment opts out explicitly.

A session cookie sent over plain HTTP can be read by anyone on the path,
so the shipped default marks it (and the CSRF cookie) ``Secure``. Only a
plain-HTTP loopback stack (``vellet up``, these tests' wallets) says
``VELLET_COOKIE_SECURE=false``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import (
    SESSION_SECRET,
    RunningWallet,
    WalletClient,
    new_account_number,
    start_wallet,
)
from tests.wallet.test_settings import ENV
from vellet.common.settings import Secret
from vellet.wallet.settings import SessionSettings, WalletSettings


def test_the_environment_default_is_secure_and_false_opts_out() -> None:
    assert WalletSettings.from_env(ENV).sessions.cookie_secure is True
    assert SessionSettings().cookie_secure is True
    opted_out = WalletSettings.from_env(ENV | {"VELLET_COOKIE_SECURE": "false"})
    assert opted_out.sessions.cookie_secure is False


@pytest.fixture
async def default_wallet(
    wallet_dsn: str, redis_url: str, bank: RunningBank
) -> AsyncIterator[RunningWallet]:
    """A wallet whose sessions are configured with nothing but their key."""
    sessions = SessionSettings(secret=Secret(SESSION_SECRET))
    running = await start_wallet(wallet_dsn, redis_url, bank.url, sessions=sessions)
    yield running
    await running.stop()


async def test_by_default_login_and_logout_cookies_are_secure(
    bank: RunningBank, default_wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    number = new_account_number()
    await bank.create_account(number)
    client = WalletClient(http, default_wallet.url)
    assert (await client.signup(number)).status == 201

    login = await client.login(number)
    logout = await client.call("POST", "/api/v1/auth/logout")

    assert login.status == 200
    cookies = {c.split("=", 1)[0]: c for c in login.set_cookies}
    assert set(cookies) == {"vellet_session", "vellet_csrf"}
    for name, cookie in cookies.items():
        assert "Secure" in cookie.split("; "), (name, cookie)
    assert logout.status == 204
    assert logout.set_cookies
    assert all("Secure" in c.split("; ") for c in logout.set_cookies), logout.set_cookies


async def test_an_explicit_opt_out_leaves_secure_off(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    number = new_account_number()
    await bank.create_account(number)
    client = WalletClient(http, wallet.url)  # the suite's wallet opts out, as vellet up does
    assert (await client.signup(number)).status == 201
    login = await client.login(number)
    assert login.set_cookies
    assert not any("Secure" in c.split("; ") for c in login.set_cookies)
