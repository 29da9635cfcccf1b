"""Sign-up through the real bank, login, logout, and the login rate limit."""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from tests.support.bank import RunningBank
from tests.wallet.stack import (
    PASSWORD,
    RunningWallet,
    WalletClient,
    mailed_code,
    new_account_number,
    registered,
    start_wallet,
)
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings
from vellet.wallet.settings import LoginLimits, parse_networks


async def test_signup_takes_name_email_and_currency_from_the_bank(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    number = new_account_number()
    await bank.create_account(number, currency="EUR", name="Asha Rao", email="asha@example.test")
    client = WalletClient(http, wallet.url)

    reply = await client.signup(number, email="asha@example.test")

    assert reply.status == 201
    assert reply.body == {
        "account_number": number,
        "name": "Asha Rao",
        "email": "asha@example.test",
        "currency": "EUR",
    }
    assert (await client.login(number)).status == 200
    me = await client.me()
    assert me.body["balance"] == {"currency": "EUR", "available": "0.00", "pending": "0.00"}


async def test_signup_refuses_unknown_duplicate_and_weak(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    client = WalletClient(http, wallet.url)
    # An unknown account is not told apart at the start (202, like any other);
    # nobody was mailed a code, so no code completes it.
    stranger = new_account_number()
    assert (await client.start_signup(stranger)).status == 202
    unknown = await client.complete_signup(stranger, "000000")
    assert (unknown.status, unknown.body["code"]) == (401, "invalid_code")

    number = new_account_number()
    await bank.create_account(number)
    weak = await client.signup(number, "short")
    assert (weak.status, weak.body["code"]) == (422, "weak_password")
    assert (await client.signup(number)).status == 201
    again = await client.signup(number)
    assert (again.status, again.body["code"]) == (409, "already_registered")

    bad = await client.call("POST", "/api/v1/auth/signup", json={"account_number": 12345678})
    assert (bad.status, bad.body["code"]) == (400, "invalid_account_number")


async def test_concurrent_duplicate_signups_register_once(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    client = WalletClient(http, wallet.url)
    number, code = await mailed_code(bank, client)
    # As many at once as the per-account budget (5) lets through to the bank.
    replies = await asyncio.gather(*(client.complete_signup(number, code) for _ in range(5)))
    # The code is single use: one completion wins, the others find it spent.
    assert sorted(r.status for r in replies) == [201] + [401] * 4
    assert (await client.login(number)).status == 200


async def test_signup_with_the_bank_down_is_503_bank_unavailable(
    wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    wallet = await start_wallet(wallet_dsn, redis_url, nowhere)
    try:
        reply = await WalletClient(http, wallet.url).signup(new_account_number())
    finally:
        await wallet.stop()
    assert (reply.status, reply.body["code"]) == (503, "bank_unavailable")
    assert "bank" in reply.body["detail"]


async def test_signup_with_a_bank_that_never_answers_is_503_within_the_timeout(
    wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    silent = await asyncio.start_server(accept_and_stall, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    wallet = await start_wallet(wallet_dsn, redis_url, f"http://127.0.0.1:{port}", bank_timeout=0.3)
    try:
        reply = await WalletClient(http, wallet.url).signup(new_account_number())
    finally:
        await wallet.stop()
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert (reply.status, reply.body["code"]) == (503, "bank_unavailable")


async def test_wrong_password_and_unknown_account_get_the_same_answer(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    user = await registered(bank, wallet, http)
    client = WalletClient(http, wallet.url)

    wrong = await client.login(user.account_number or "", "not the password")
    unknown = await client.login(new_account_number(), "not the password")

    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.body["code"] == "invalid_credentials"
    relevant = ("Content-Type", "Set-Cookie", "Retry-After")
    assert {h: wrong.headers.get(h) for h in relevant} == {
        h: unknown.headers.get(h) for h in relevant
    }


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp skips IP hosts by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_login_sets_an_httponly_strict_cookie_and_logout_clears_it(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with browser() as http:
        number = new_account_number()
        await bank.create_account(number)
        client = WalletClient(http, wallet.url)
        await client.signup(number)
        login = await client.login(number)
        client.token = None  # from here on only the cookie authenticates

        session = next(c for c in login.set_cookies if c.startswith("vellet_session="))
        assert "HttpOnly" in session
        assert "SameSite=Strict" in session
        assert "Path=/" in session
        csrf = next(c for c in login.set_cookies if c.startswith("vellet_csrf="))
        assert "HttpOnly" not in csrf
        assert (await client.me()).body["account_number"] == number

        logout = await client.call("POST", "/api/v1/auth/logout")

        assert logout.status == 204
        assert any(c.startswith('vellet_session=""') for c in logout.set_cookies)
        assert (await client.me()).status == 401


async def test_cookie_writes_need_the_csrf_token_bearer_writes_do_not(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with browser() as http:
        alice = await registered(bank, wallet, http)
        bob = await registered(bank, wallet, http)  # the jar now holds bob's cookie
        cookie_client = WalletClient(http, wallet.url)
        login = await cookie_client.login(bob.account_number or "")
        cookie_client.token = None
        csrf = login.body["csrf_token"]
        assert http.cookie_jar.filter_cookies(URL(wallet.url))["vellet_csrf"].value == csrf

        forged = await cookie_client.send(alice.account_number or "", "1.00")
        wrong = await cookie_client.call(
            "POST", "/api/v1/transfers",
            json={"kind": "p2p", "amount": "1.00", "currency": "INR",
                  "to_account": alice.account_number},
            headers={"Idempotency-Key": "k-wrong", "X-CSRF-Token": "guess"},
        )  # fmt: skip
        honest = await cookie_client.call(
            "POST", "/api/v1/transfers",
            json={"kind": "p2p", "amount": "1.00", "currency": "INR",
                  "to_account": alice.account_number},
            headers={"Idempotency-Key": "k-honest", "X-CSRF-Token": csrf},
        )  # fmt: skip

        assert (forged.status, forged.body["code"]) == (403, "csrf_failed")
        assert (wrong.status, wrong.body["code"]) == (403, "csrf_failed")
        # Authorised (no longer a CSRF question); bob simply has no wallet money yet.
        assert (honest.status, honest.body["code"]) == (422, "insufficient_funds")


async def test_failed_logins_are_limited_per_account_with_retry_after(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    wallet = await start_wallet(
        wallet_dsn, redis_url, bank.url,
        login=LoginLimits(per_account=3, per_address=100, window_seconds=60),
    )  # fmt: skip
    try:
        user = await registered(bank, wallet, http)
        client = WalletClient(http, wallet.url)
        number = user.account_number or ""
        guesses = await asyncio.gather(*(client.login(number, f"guess-{i}") for i in range(6)))
        after = await client.login(number)  # even the right password waits now

        assert sorted(g.status for g in guesses) == [401] * 3 + [429] * 3
        assert after.status == 429
        assert after.body["code"] == "too_many_attempts"
        assert 1 <= int(after.headers["Retry-After"]) <= 60
        # Another account from the same address is not locked out.
        other = await registered(bank, wallet, http)
        assert (await client.login(other.account_number or "", PASSWORD)).status == 200
    finally:
        await wallet.stop()


async def test_failed_logins_are_limited_per_address(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    wallet = await start_wallet(
        wallet_dsn, redis_url, bank.url,
        login=LoginLimits(per_account=100, per_address=4, window_seconds=60),
        http=HttpSettings(port=0),
    )  # fmt: skip
    try:
        client = WalletClient(http, wallet.url)
        replies = [await client.login(new_account_number(), "nope-nope") for _ in range(5)]
        assert [r.status for r in replies] == [401] * 4 + [429]
    finally:
        await wallet.stop()


async def _fail_login(http: aiohttp.ClientSession, wallet_url: str, forwarded: str) -> int:
    async with http.post(
        f"{wallet_url}/api/v1/auth/login",
        json={"account_number": new_account_number(), "password": "nope-nope"},
        headers={"X-Forwarded-For": forwarded},
    ) as resp:
        return resp.status


async def test_behind_a_trusted_proxy_each_client_has_its_own_address_budget(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    # The test client plays the ingress: it connects from 127.0.0.1.
    wallet = await start_wallet(
        wallet_dsn, redis_url, bank.url,
        login=LoginLimits(per_account=100, per_address=3, window_seconds=60,
                          trusted_proxies=parse_networks("127.0.0.1/32")),
    )  # fmt: skip
    try:
        first = [await _fail_login(http, wallet.url, "203.0.113.7") for _ in range(4)]
        # Prepending a fake address does not escape: the real one is still counted.
        spoofed = await _fail_login(http, wallet.url, "198.51.100.1, 203.0.113.7")
        other_client = await _fail_login(http, wallet.url, "203.0.113.8")

        assert first == [401, 401, 401, 429]
        assert spoofed == 429
        assert other_client == 401
    finally:
        await wallet.stop()


async def test_without_trusted_proxies_x_forwarded_for_cannot_dodge_the_limit(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    wallet = await start_wallet(
        wallet_dsn, redis_url, bank.url,
        login=LoginLimits(per_account=100, per_address=3, window_seconds=60),
    )  # fmt: skip
    try:
        statuses = [await _fail_login(http, wallet.url, f"203.0.113.{i}") for i in range(4)]
        assert statuses == [401, 401, 401, 429]
    finally:
        await wallet.stop()
