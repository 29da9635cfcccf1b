"""Per-address budgets count an IPv6 client by its /64, through the real wallet.

One IPv6 subscriber holds a /64 (or more): counted per /128 it would have
2**64 fresh budgets. The test client plays a trusted ingress (it connects
from 127.0.0.1) and names the client in ``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, new_account_number, start_wallet
from vellet.wallet.settings import LoginLimits, SignupLimits, parse_networks

INGRESS = parse_networks("127.0.0.1/32")


@pytest.fixture
async def limited(
    bank: RunningBank, wallet_dsn: str, redis_url: str
) -> AsyncIterator[RunningWallet]:
    wallet = await start_wallet(
        wallet_dsn, redis_url, bank.url,
        login=LoginLimits(per_account=100, per_address=3, window_seconds=60,
                          trusted_proxies=INGRESS),
        signup=SignupLimits(per_account=100, per_address=3, window_seconds=60),
    )  # fmt: skip
    yield wallet
    await wallet.stop()


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, str], client: str) -> int:
    async with http.post(url, json=body, headers={"X-Forwarded-For": client}) as resp:
        return resp.status


async def _fail_login(http: aiohttp.ClientSession, wallet: RunningWallet, client: str) -> int:
    body = {"account_number": new_account_number(), "password": "nope-nope"}
    return await _post(http, f"{wallet.url}/api/v1/auth/login", body, client)


async def test_failed_logins_from_one_ipv6_64_share_one_budget(
    limited: RunningWallet, http: aiohttp.ClientSession
) -> None:
    # A new /128 for every guess, all inside 2001:db8:1:2::/64.
    hosts = [f"2001:db8:1:2:{i:x}::{i + 1:x}" for i in range(5)]
    statuses = [await _fail_login(http, limited, host) for host in hosts]
    neighbour = await _fail_login(http, limited, "2001:db8:1:3::1")  # the next /64

    assert statuses == [401, 401, 401, 429, 429]
    assert neighbour == 401


async def test_an_ipv4_mapped_address_shares_the_ipv4_budget(
    limited: RunningWallet, http: aiohttp.ClientSession
) -> None:
    clients = ["203.0.113.7", "::ffff:203.0.113.7", "::ffff:cb00:7107", "203.0.113.7"]
    statuses = [await _fail_login(http, limited, c) for c in clients]
    assert statuses == [401, 401, 401, 429]
    assert await _fail_login(http, limited, "203.0.113.8") == 401  # IPv4 stays per address


async def test_sign_up_starts_from_one_ipv6_64_share_one_budget(
    limited: RunningWallet, http: aiohttp.ClientSession
) -> None:
    url = f"{limited.url}/api/v1/auth/signup"
    statuses = [
        await _post(http, url, {"account_number": new_account_number()}, f"2001:db8:9:9::{i + 1}")
        for i in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
