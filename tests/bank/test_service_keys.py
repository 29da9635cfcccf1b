"""Each key opens only its own door: the attacks of a leaked service key, refused.

Before, one HS256 secret known to the wallet, the bank and the operator
minted any token, the bank's admin role included -- and an admin token can
create an account with any opening balance. Now the admin routes take only
the bank-admin key, which no running service holds; the transfer API only
the wallet's key, with ``sub`` = ``wallet``. Every attack here is made with
a real key a real service holds, against the real bank.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from tests.support.bank import RunningBank, admin_token, auth, service_token, start_bank
from tests.support.keys import TEST_KEYS, key_settings
from vellet.common import tokens
from vellet.common.keys import KeySettings, PrivateKey

ACCOUNT = {"account_number": "555555555", "name": "Mallory", "email": "m@example.test",
           "currency": "INR", "balance": "1000000.00"}  # fmt: skip


def _forged_admin(signer: str, iss: str) -> str:
    """An admin token made with ``signer``'s real key, claiming to come from ``iss``."""
    return tokens.mint(TEST_KEYS[signer], signer=iss, audience=tokens.BANK_AUDIENCE,
                       subject="mallory", role=tokens.ADMIN_ROLE)  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [
        lambda: _forged_admin("wallet", "wallet"),
        lambda: _forged_admin("wallet", "bank-admin"),
        lambda: _forged_admin("operator", "bank-admin"),
        lambda: _forged_admin("bank", "bank-admin"),
    ],
    ids=["wallet key", "wallet key posing as bank-admin", "operator key", "bank's own key"],
)
async def test_a_service_key_cannot_open_an_account_with_money_in_it(
    bank: RunningBank, http: aiohttp.ClientSession, make: Callable[[], str]
) -> None:
    token = make()
    async with http.post(f"{bank.internal_url}/api/v1/accounts", json=ACCOUNT,
                         headers=auth(token)) as resp:  # fmt: skip
        assert resp.status == 401, await resp.text()
        assert (await resp.json())["code"] == "invalid_token"
    await bank.create_account("555555556")
    async with http.patch(f"{bank.internal_url}/api/v1/accounts/555555556",
                          json={"status": "closed"}, headers=auth(token)) as resp:  # fmt: skip
        assert resp.status == 401
    async with http.get(f"{bank.url}/api/v1/accounts/555555555",
                        headers=auth(service_token())) as resp:  # fmt: skip
        assert resp.status == 404  # no account was made


async def test_the_admin_key_opens_the_admin_routes_and_nothing_else(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{bank.internal_url}/api/v1/accounts", json=ACCOUNT,
                         headers=auth(admin_token())) as resp:  # fmt: skip
        assert resp.status == 201, await resp.text()
    # Not a transfer, not a look-up: those are the wallet's alone.
    token = tokens.mint(TEST_KEYS["bank-admin"], signer="bank-admin",
                        audience=tokens.BANK_AUDIENCE, subject="wallet")  # fmt: skip
    async with http.get(f"{bank.url}/api/v1/accounts/555555555", headers=auth(token)) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("subject", ["operator", "cli", "admin", "wallet "])
async def test_the_wallets_key_with_another_subject_is_refused(
    bank: RunningBank, http: aiohttp.ClientSession, subject: str
) -> None:
    await bank.create_account("123456789")
    token = service_token(subject)
    async with http.get(f"{bank.url}/api/v1/accounts/123456789", headers=auth(token)) as resp:
        assert resp.status == 403
        assert (await resp.json())["code"] == "forbidden"
    transfer = {"transfer_id": "7b0f6c7e-8f65-4d4b-9a59-3c0d1b0a6f11", "currency": "INR",
                "account_number": "123456789", "direction": "from_wallet",
                "amount": "1.00"}  # fmt: skip
    async with http.post(f"{bank.url}/api/v1/transfers", json=transfer,
                         headers=auth(token)) as resp:  # fmt: skip
        assert resp.status == 403


async def test_a_rotation_trusts_old_and_new_then_only_new(
    bank_db: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    old, new = TEST_KEYS["wallet"], PrivateKey.generate()
    base = key_settings("bank", ("wallet", "bank-admin"))

    def trusting(*wallet_keys: PrivateKey) -> KeySettings:
        trusted = dict(base.trusted) | {"wallet": tuple(k.public() for k in wallet_keys)}
        return KeySettings(own=base.own, trusted=trusted)

    def token(key: PrivateKey) -> dict[str, str]:
        return auth(tokens.mint(key, signer="wallet", audience=tokens.BANK_AUDIENCE,
                                subject="wallet"))  # fmt: skip

    for trusted, accepted in (((old, new), (old, new)), ((new,), (new,))):
        bank = await start_bank(bank_db, redis_url, keys=trusting(*trusted))
        try:
            for key in (old, new):
                async with http.get(f"{bank.url}/api/v1/accounts/999999999",
                                    headers=token(key)) as resp:  # fmt: skip
                    assert resp.status == (404 if key in accepted else 401), key
        finally:
            await bank.stop()
