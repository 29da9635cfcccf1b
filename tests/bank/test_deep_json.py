"""A body nested deeper than the JSON decoder follows is a 400, on every route.

``json.loads("[" * 5000)`` raises RecursionError, which no ``except
ValueError`` catches: each of these routes used to answer 500.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.bank import RunningBank, admin_token, auth, service_token

DEEP = b"[" * 5000  # far under the 64 KiB body limit


@pytest.mark.parametrize(
    ("method", "path", "admin"),
    [
        ("POST", "/api/v1/transfers", False),
        ("POST", "/api/v1/signup-challenges", False),
        ("POST", "/api/v1/signup-challenges/verify", False),
        ("POST", "/api/v1/accounts", True),
        ("PATCH", "/api/v1/accounts/100000000001", True),
    ],
)
async def test_deeply_nested_json_is_400_malformed(
    bank: RunningBank, http: aiohttp.ClientSession, method: str, path: str, admin: bool
) -> None:
    token = admin_token() if admin else service_token()
    # Admin routes live on the bank's internal port only.
    base = bank.internal_url if admin else bank.url
    headers = {**auth(token), "Content-Type": "application/json"}
    async with http.request(method, base + path, data=DEEP, headers=headers) as resp:
        assert resp.status == 400, await resp.text()
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["code"] == "invalid_request"
    assert "not valid JSON" in body["detail"]
