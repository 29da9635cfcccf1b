"""Sign-up proves ownership: only whoever reads the bank's e-mail on file gets a wallet.

Every attack here would succeed against the old one-step sign-up: no code,
a wrong, expired or used code, guessing, telling accounts apart by the start
answer or its timing, and reading the holder's name before the proof.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp
import pytest

from tests.support.bank import RunningBank, auth, service_token, start_bank
from tests.support.mailbox import session_mailbox
from tests.wallet.stack import (
    RunningWallet,
    WalletClient,
    mailed_code,
    new_account_number,
    start_wallet,
)
from vellet.bank.settings import SignupSettings
from vellet.wallet.auth import store as auth_store
from vellet.wallet.settings import SignupLimits
from vellet.wallet.state import POOL

GENEROUS = SignupLimits(per_account=1000, per_address=1000, window_seconds=60)


async def no_wallet(wallet: RunningWallet, number: str) -> bool:
    return await auth_store.user_by_account(wallet.app[POOL], number) is None


async def test_without_a_code_or_with_a_wrong_one_nothing_is_registered(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    client = WalletClient(http, wallet.url)
    other = new_account_number()
    await bank.create_account(other)
    never_started = await client.complete_signup(other, "123456")
    number, code = await mailed_code(bank, client)
    wrong = await client.complete_signup(number, f"{(int(code) + 1) % 1_000_000:06d}")
    missing = await client.call(
        "POST", "/api/v1/auth/signup/complete",
        json={"account_number": number, "password": "long enough password"},
    )  # fmt: skip

    assert (never_started.status, never_started.body["code"]) == (401, "invalid_code")
    assert (wrong.status, wrong.body["code"]) == (401, "invalid_code")
    assert never_started.body == wrong.body  # one answer for every way of being wrong
    assert (missing.status, missing.body["code"]) == (400, "invalid_code_format")
    assert await no_wallet(wallet, number)
    assert await no_wallet(wallet, other)
    assert (await client.login(number)).status == 401


async def test_an_expired_code_is_refused(
    bank_db: str, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    bank = await start_bank(bank_db, redis_url, signup=SignupSettings(ttl_seconds=1))
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url)
    try:
        client = WalletClient(http, wallet.url)
        number, code = await mailed_code(bank, client)
        await asyncio.sleep(1.5)

        late = await client.complete_signup(number, code)

        assert (late.status, late.body["code"]) == (401, "invalid_code")
        assert await no_wallet(wallet, number)
    finally:
        await wallet.stop()
        await bank.stop()


async def test_a_code_works_once(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    client = WalletClient(http, wallet.url)
    number, code = await mailed_code(bank, client)
    # Someone uses the code first (at the bank, under the wallet's identity).
    async with http.post(
        f"{bank.url}/api/v1/signup-challenges/verify",
        json={"account_number": number, "code": code},
        headers=auth(service_token("wallet")),
    ) as resp:
        assert resp.status == 200

    again = await client.complete_signup(number, code)

    assert (again.status, again.body["code"]) == (401, "invalid_code")
    assert await no_wallet(wallet, number)


async def test_guessing_stops_after_the_attempt_limit_and_the_challenge_dies(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url, signup=GENEROUS)
    try:
        client = WalletClient(http, wallet.url)
        number, code = await mailed_code(bank, client)
        limit = bank.settings.signup.max_attempts
        guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, limit + 1)]

        refused = [await client.complete_signup(number, guess) for guess in guesses]
        right_but_dead = await client.complete_signup(number, code)

        assert [r.status for r in refused] == [401] * limit
        assert (right_but_dead.status, right_but_dead.body["code"]) == (401, "invalid_code")
        assert await no_wallet(wallet, number)
        # A new challenge, a new code: the holder can still sign up.
        assert (await client.signup(number)).status == 201
    finally:
        await wallet.stop()


async def test_the_code_goes_to_the_e_mail_on_file_only_and_the_name_shows_after_it(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    number = new_account_number()
    await bank.create_account(number, name="Asha Secret-Name", email="asha.rao@example.test")
    client = WalletClient(http, wallet.url)
    mails_before = len(session_mailbox().everything())

    elsewhere = await client.call(
        "POST", "/api/v1/auth/signup",
        json={"account_number": number, "email": "attacker@example.test"},
    )  # fmt: skip
    started = await client.start_signup(number)
    code = await bank.signup_code(number)  # waits for the mail, then takes it

    assert (elsewhere.status, elsewhere.body["code"]) == (400, "invalid_request")
    assert started.status == 202
    assert "Asha" not in str(started.body)
    assert "asha" not in str(started.body)
    assert len(session_mailbox().everything()) == mails_before  # the one mail, to asha, only
    assert session_mailbox().mail_to("attacker@example.test") == []
    done = await client.complete_signup(number, code)
    assert done.status == 201
    assert (done.body["name"], done.body["email"]) == ("Asha Secret-Name", "asha.rao@example.test")
    assert (await client.login(number)).status == 200
    assert (await client.me()).body["email"] == "asha.rao@example.test"


def _comparable(reply_headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in reply_headers.items() if k.lower() != "date"}


async def _timed_start(client: WalletClient, number: str) -> tuple[float, int, bytes, dict]:  # type: ignore[type-arg]
    started = time.perf_counter()
    async with client.http.post(
        f"{client.url}/api/v1/auth/signup", json={"account_number": number}
    ) as resp:
        body = await resp.read()
        return time.perf_counter() - started, resp.status, body, _comparable(dict(resp.headers))


async def test_start_answers_are_identical_for_unknown_registered_and_fresh_accounts(
    bank: RunningBank,
    wallet_dsn: str,
    redis_url: str,
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url, signup=GENEROUS)
    try:
        client = WalletClient(http, wallet.url)
        registered, fresh = new_account_number(), new_account_number()
        unknown = new_account_number()  # the bank has no such account
        for number in (registered, fresh):
            await bank.create_account(number)
        assert (await client.signup(registered)).status == 201
        cases = {"unknown": unknown, "registered": registered, "fresh": fresh}
        for number in cases.values():  # warm the bank's look-up cache alike
            await _timed_start(client, number)

        times: dict[str, list[float]] = {name: [] for name in cases}
        answers: dict[str, set[tuple[int, bytes, str]]] = {name: set() for name in cases}
        for _ in range(40):  # interleaved, so a busy moment of the machine hits all three
            for name, number in cases.items():
                took, status, body, headers = await _timed_start(client, number)
                times[name].append(took)
                answers[name].add((status, body, repr(sorted(headers.items()))))

        medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
        with capsys.disabled():  # shown in every run's output, not only on failure
            print(
                "\nstart-sign-up median ms: "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in medians.items())
            )
        assert answers["unknown"] == answers["registered"] == answers["fresh"]
        assert len(answers["fresh"]) == 1
        ((status, body, _),) = answers["fresh"]
        assert status == 202
        assert b"If this account can be registered" in body
        # About the same time: no case is twice as fast as another (medians of 40,
        # interleaved). Skipping the bank for registered accounts, or answering an
        # unknown one before the database write, shows up here.
        assert max(medians.values()) < 2 * min(medians.values()), medians
    finally:
        await wallet.stop()


async def test_both_steps_are_limited_per_account_and_per_address(
    bank: RunningBank, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    limits = SignupLimits(per_account=3, per_address=5, window_seconds=60)
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url, signup=limits)
    try:
        client = WalletClient(http, wallet.url)
        number = new_account_number()
        starts = [await client.start_signup(number) for _ in range(4)]
        guesses = [await client.complete_signup(number, "000000") for _ in range(4)]
        others = [await client.start_signup(new_account_number()) for _ in range(3)]

        assert [s.status for s in starts] == [202, 202, 202, 429]
        assert starts[-1].body["code"] == "too_many_attempts"
        assert 1 <= int(starts[-1].headers["Retry-After"]) <= 60
        assert [g.status for g in guesses] == [401, 401, 401, 429]
        assert "Retry-After" in guesses[-1].headers
        # Other accounts from the same address: four starts (the refused one too) were
        # counted against its budget of 5, so one more goes through.
        assert [o.status for o in others] == [202, 429, 429]
    finally:
        await wallet.stop()
