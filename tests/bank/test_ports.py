"""What the bank serves on which port: admin routes and /metrics only on the internal one.

Opening an account sets its balance (it creates money), so the admin routes
are not on the port the wallet (or anything that can reach the wallet's
network) talks to. Each check uses a valid admin token: the port is what
refuses, not the role.
"""

from __future__ import annotations

import aiohttp

from tests.support.bank import RunningBank, admin_token, auth, service_token

NEW = {
    "account_number": "424242424",
    "name": "Port Test",
    "email": "port@example.test",
    "currency": "INR",
    "balance": "1000000.00",
}


async def _problem(resp: aiohttp.ClientResponse) -> str:
    assert resp.content_type == "application/problem+json"
    return str((await resp.json())["code"])


async def test_the_public_port_does_not_serve_the_admin_routes_or_metrics(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    admin = auth(admin_token())
    async with http.post(f"{bank.url}/api/v1/accounts", json=NEW, headers=admin) as resp:
        assert resp.status == 404
        assert await _problem(resp) == "not_found"
    await bank.create_account("424242425")
    closing = f"{bank.url}/api/v1/accounts/424242425"
    async with http.patch(closing, json={"status": "closed"}, headers=admin) as resp:
        assert resp.status == 405  # that path answers GET here (a look-up), nothing else
        assert await _problem(resp) == "method_not_allowed"
    async with http.get(f"{bank.url}/metrics") as resp:
        assert resp.status == 404
        assert await _problem(resp) == "not_found"

    wallet = auth(service_token())
    async with http.get(f"{bank.url}/api/v1/accounts/424242424", headers=wallet) as resp:
        assert resp.status == 404, "no account was opened through the public port"
    async with http.get(closing, headers=wallet) as resp:
        assert (await resp.json())["status"] == "active", "nor closed"


async def test_the_internal_port_serves_them_as_before(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    admin = auth(admin_token())
    base = f"{bank.internal_url}/api/v1/accounts"
    async with http.post(base, json=NEW, headers=admin) as resp:
        assert resp.status == 201, await resp.text()
    async with http.patch(f"{base}/424242424", json={"status": "closed"}, headers=admin) as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "closed"
    async with http.get(f"{bank.internal_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    # One registry behind both ports: the admin calls are counted with the rest.
    assert 'route="/api/v1/accounts/{account_number}"' in text
    # And the wallet's API is not a second time on the admin port.
    async with http.post(f"{bank.internal_url}/api/v1/transfers", json={},
                         headers=auth(service_token())) as resp:  # fmt: skip
        assert resp.status == 404
