"""The wallet as an operated service: health, metrics, hostile input, CLI, demo logins."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp

from tests.support.bank import RunningBank, holder_email
from tests.support.keys import key_env
from tests.support.mailbox import session_mailbox
from tests.wallet.stack import SESSION_SECRET, RunningWallet, WalletClient, fund, registered
from vellet.wallet.auth.demo import demo_password, sign_up_demo_users


async def test_health_readiness_and_metrics(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    await fund(wallet, alice, 10_00)
    bob = await registered(bank, wallet, http)
    await alice.send(bob.account_number or "", "1.00")
    await alice.send(bob.account_number or "", "100.00")
    await WalletClient(http, wallet.url).login(alice.account_number or "", "wrong password")

    assert (await alice.call("GET", "/healthz")).status == 200
    ready = await alice.call("GET", "/readyz")
    assert ready.status == 200
    assert set(ready.body["checks"]) == {"postgres", "redis"}
    async with http.get(f"{wallet.internal_url}/metrics") as resp:
        text = await resp.text()
    assert 'vellet_transfers_total{kind="p2p",outcome="posted"} 1.0' in text
    assert 'vellet_transfers_total{kind="p2p",outcome="insufficient_funds"} 1.0' in text
    assert 'vellet_transfer_duration_seconds_count{kind="p2p"} 2.0' in text
    assert 'vellet_logins_total{outcome="invalid_credentials"} 1.0' in text
    assert 'vellet_signups_total{outcome="created"} 2.0' in text
    assert "vellet_outbox_unpublished" in text
    assert 'vellet_http_requests_total{method="POST",route="/api/v1/transfers"' in text
    for secret in ("PRIVATE KEY", SESSION_SECRET, alice.token or "?"):
        assert secret not in text


async def test_invented_http_methods_do_not_mint_time_series(
    wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    """The HTTP parser passes some thirty methods (WebDAV's among them) to the
    app; counted by name, each would be a series of its own per route."""
    for method in ("PROPFIND", "MKCOL", "LOCK", "UNLOCK", "PROPPATCH"):
        async with http.request(method, f"{wallet.url}/api/v1/transfers") as resp:
            assert resp.status == 405
    async with http.get(f"{wallet.internal_url}/metrics") as resp:
        text = await resp.text()
    assert "PROPFIND" not in text
    assert 'method="other",route="unmatched",service="wallet",status="405"} 5.0' in text


async def test_hostile_bodies_get_4xx_problems_never_500(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    signup = b'{"account_number": "123456789", "password": "\\ud800\\ud800xxxxxx"}'
    raw = [
        ("/api/v1/auth/signup", signup),
        ("/api/v1/auth/login", b'{"account_number": "123456789", "password": "\\udfff"}'),
        ("/api/v1/transfers", b'{"kind": "p2p", "amount": "1.00", "currency": "INR", '
                              b'"to_account": "123456789", "note": "\\ud83d"}'),
        ("/api/v1/transfers", b"[1, 2, 3]"),
        ("/api/v1/transfers", b"{not json"),
        ("/api/v1/auth/login", b'{"account_number": "1234567", "password": "x", "role": "admin"}'),
    ]  # fmt: skip
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k",
               "Authorization": f"Bearer {alice.token}"}  # fmt: skip
    for path, data in raw:
        async with http.post(wallet.url + path, data=data, headers=headers) as resp:
            assert resp.status == 400, (path, data, await resp.text())
            assert resp.content_type == "application/problem+json"
    too_big = b"x" * (70 * 1024)
    async with http.post(f"{wallet.url}/api/v1/transfers", data=too_big, headers=headers) as resp:
        assert resp.status == 413


async def read_code(number: str) -> str:
    return await session_mailbox().code_for(holder_email(number))


async def test_demo_logins_sign_up_once_and_work(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    numbers = ["100000000901", "100000000902"]
    for number in numbers:
        await bank.create_account(number)
    first = await sign_up_demo_users(wallet.url, numbers, read_code)
    again = await sign_up_demo_users(wallet.url, numbers, read_code)  # already there: fine
    assert first == again
    assert [d.password for d in first] == [demo_password(n) for n in numbers]
    client = WalletClient(http, wallet.url)
    assert (await client.login(numbers[0], "demo-100000000901")).status == 200


async def test_cli_migrates_and_audits(wallet_dsn: str, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")} | {
        "VELLET_WALLET_DATABASE_URL": wallet_dsn,
        "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_URL": "http://127.0.0.1:9",
        **key_env("wallet", ("bank", "operator")),
        "VELLET_SESSION_SECRET": SESSION_SECRET,
        **key_env("wallet", ("bank", "operator")),
    }
    for command, expected in (("migrate", b"applied 0 migration"), ("audit", b"ledger balances")):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vellet", "wallet", command, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert expected in out
