"""Account creation and look-up over the real HTTP API."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.bank import RunningBank, admin_token, auth, service_token


async def test_created_account_can_be_looked_up(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("123456789", name="Zoë Ångström", email="zoe@example.test")
    async with http.get(
        f"{bank.url}/api/v1/accounts/123456789", headers=auth(service_token())
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body == {
        "account_number": "123456789",
        "name": "Zoë Ångström",
        "email": "zoe@example.test",
        "currency": "INR",
        "status": "active",
    }
    assert "balance" not in body


async def test_unknown_account_is_404_problem(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    async with http.get(
        f"{bank.url}/api/v1/accounts/999999999", headers=auth(service_token())
    ) as resp:
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["code"] == "unknown_account"


async def test_duplicate_account_is_409(bank: RunningBank, http: aiohttp.ClientSession) -> None:
    await bank.create_account("123456789")
    body = {
        "account_number": "123456789",
        "name": "X",
        "email": "x@example.test",
        "currency": "INR",
        "balance": "1.00",
    }
    async with http.post(
        f"{bank.internal_url}/api/v1/accounts", json=body, headers=auth(admin_token())
    ) as resp:
        assert resp.status == 409
        assert (await resp.json())["code"] == "account_exists"


async def test_closing_an_account_shows_at_once(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    await bank.create_account("123456789")
    url = f"{bank.url}/api/v1/accounts/123456789"
    admin_url = f"{bank.internal_url}/api/v1/accounts/123456789"
    async with http.get(url, headers=auth(service_token())) as resp:
        assert (await resp.json())["status"] == "active"  # now cached
    async with http.patch(
        admin_url, json={"status": "closed"}, headers=auth(admin_token())
    ) as resp:
        assert resp.status == 200
    async with http.get(url, headers=auth(service_token())) as resp:
        assert (await resp.json())["status"] == "closed"


async def test_the_wallets_token_cannot_create_accounts(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    body = {
        "account_number": "123456789",
        "name": "X",
        "email": "x@example.test",
        "currency": "INR",
        "balance": "1.00",
    }
    async with http.post(
        f"{bank.internal_url}/api/v1/accounts", json=body, headers=auth(service_token())
    ) as resp:
        assert resp.status == 401  # the wallet's key is not the admin key
        assert (await resp.json())["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("field", "value", "char"),
    [
        ("name", "Eve \u202eliA", "U+202E"),
        ("name", "Al\u200bice", "U+200B"),
        ("name", "Alice\nBcc: eve@example.test", "U+000A"),
        ("email", "al\u200bice@example.test", "U+200B"),
    ],
)
async def test_a_name_or_email_with_invisible_characters_is_422(
    bank: RunningBank, http: aiohttp.ClientSession, field: str, value: str, char: str
) -> None:
    body = {"account_number": "123456789012", "name": "Alice", "currency": "INR",
            "email": "alice@example.test", "balance": "0"} | {field: value}  # fmt: skip
    async with http.post(f"{bank.internal_url}/api/v1/accounts", json=body,
                         headers=auth(admin_token())) as resp:  # fmt: skip
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
        problem = await resp.json()
    assert problem["code"] == f"invalid_{field}"
    assert problem["detail"].startswith(f"{field} must be plain visible text")
    assert char in problem["detail"]
    async with http.get(f"{bank.url}/api/v1/accounts/123456789012",
                        headers=auth(service_token())) as resp:  # fmt: skip
        assert resp.status == 404  # not created
