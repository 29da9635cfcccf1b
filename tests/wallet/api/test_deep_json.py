"""A body nested deeper than the JSON decoder follows is a 400, on every route.

``json.loads("[" * 5000)`` raises RecursionError, which no ``except
ValueError`` catches: each of these routes used to answer 500.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, registered

DEEP = b"[" * 5000  # far under the 64 KiB body limit


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login",
        "/api/v1/auth/signup",
        "/api/v1/auth/signup/complete",
        "/api/v1/transfers",
    ],
)
async def test_deeply_nested_json_is_400_malformed(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, path: str
) -> None:
    alice = await registered(bank, wallet, http)  # the transfer route needs a session
    headers = {
        "Authorization": f"Bearer {alice.token}",
        "Content-Type": "application/json",
        "Idempotency-Key": "deep-1",
    }
    async with http.post(wallet.url + path, data=DEEP, headers=headers) as resp:
        assert resp.status == 400, await resp.text()
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["code"] == "invalid_request"
    assert "not valid JSON" in body["detail"]
