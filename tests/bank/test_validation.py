"""Bad tokens get 401; bad bodies get a 4xx problem+json, never a 5xx."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
import pytest

from tests.support.bank import TEST_SECRET, RunningBank, auth, service_token
from vellet.common import tokens


def _claims(**override: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "vellet",
        "aud": tokens.BANK_AUDIENCE,
        "sub": "wallet",
        "role": "service",
        "iat": now,
        "exp": now + 60,
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    def enc(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}."


# Built when a test runs, never at import: a token minted at collection time
# would expire during a long suite and be refused for the wrong reason.
BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "none": lambda: None,
    "not a jwt": lambda: "abc.def",
    "expired": lambda: jwt.encode(
        _claims(iat=int(time.time()) - 600, exp=int(time.time()) - 300),
        TEST_SECRET,
        algorithm="HS256",
    ),
    "wrong audience": lambda: jwt.encode(
        _claims(aud="vellet-wallet"), TEST_SECRET, algorithm="HS256"
    ),
    "wrong issuer": lambda: jwt.encode(_claims(iss="mallory"), TEST_SECRET, algorithm="HS256"),
    "alg none": lambda: _unsigned(_claims()),
    "wrong key": lambda: jwt.encode(
        _claims(), "another-secret-that-is-long-enough-0123456789", algorithm="HS256"
    ),
    "HS512": lambda: jwt.encode(
        _claims(), TEST_SECRET + "-padded-to-64-bytes-for-hs512", algorithm="HS512"
    ),
    "no exp": lambda: jwt.encode(_claims(exp=None), TEST_SECRET, algorithm="HS256"),
    "no sub": lambda: jwt.encode(_claims(sub=None), TEST_SECRET, algorithm="HS256"),
    "tampered": lambda: service_token()[:-3] + "AAA",
}
EXPECTED_CODE = {"none": "missing_token", "expired": "token_expired"}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/accounts/123456789"),
        ("POST", "/api/v1/transfers"),
        ("POST", "/api/v1/accounts"),
    ],
)
async def test_bad_tokens_get_401(
    bank: RunningBank, http: aiohttp.ClientSession, name: str, method: str, path: str
) -> None:
    token = BAD_TOKENS[name]()
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    # Opening accounts is an admin route: the internal port's.
    base = bank.internal_url if path == "/api/v1/accounts" else bank.url
    async with http.request(method, base + path, json={}, headers=headers) as resp:
        assert resp.status == 401, name
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["status"] == 401
    assert body["code"] == EXPECTED_CODE.get(name, "invalid_token"), name
    assert TEST_SECRET not in json.dumps(body)


def _valid() -> dict[str, Any]:
    return {
        "transfer_id": "7b0f6c7e-8f65-4d4b-9a59-3c0d1b0a6f11",
        "account_number": "123456789",
        "direction": "to_wallet",
        "amount": "1.00",
        "currency": "INR",
    }


BAD_BODIES: dict[str, Any] = {
    "negative": {**_valid(), "amount": "-1.00"},
    "zero": {**_valid(), "amount": "0"},
    "exponent": {**_valid(), "amount": "1e3"},
    "three decimals": {**_valid(), "amount": "0.001"},
    "10^20": {**_valid(), "amount": "1" + "0" * 20},
    "amount as number": {**_valid(), "amount": 1.5},
    "amount as list": {**_valid(), "amount": ["1"]},
    "unknown currency": {**_valid(), "currency": "XYZ"},
    "currency as number": {**_valid(), "currency": 356},
    "bad direction": {**_valid(), "direction": "sideways"},
    "bad transfer id": {**_valid(), "transfer_id": "not-a-uuid"},
    "transfer id as number": {**_valid(), "transfer_id": 12},
    "bad account": {**_valid(), "account_number": "12ab"},
    "account as number": {**_valid(), "account_number": 123456789},
    "missing amount": {k: v for k, v in _valid().items() if k != "amount"},
    "missing everything": {},
    "array body": [1, 2, 3],
    "null body": None,
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_bad_bodies_get_4xx_problems(
    bank: RunningBank, http: aiohttp.ClientSession, name: str
) -> None:
    async with http.post(
        f"{bank.url}/api/v1/transfers", json=BAD_BODIES[name], headers=auth(service_token())
    ) as resp:
        assert 400 <= resp.status < 500, name
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["detail"]
    assert body["code"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"amount=1", "application/x-www-form-urlencoded", 400),
        (b'{"a": "' + b"x" * (128 * 1024) + b'"}', "application/json", 413),
    ],
)
async def test_malformed_and_oversized_bodies(
    bank: RunningBank, http: aiohttp.ClientSession, data: bytes, content_type: str, status: int
) -> None:
    headers = {**auth(service_token()), "Content-Type": content_type}
    async with http.post(f"{bank.url}/api/v1/transfers", data=data, headers=headers) as resp:
        assert resp.status == status
        assert resp.content_type == "application/problem+json"


async def test_unknown_routes_and_methods_are_problems(
    bank: RunningBank, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{bank.url}/nope") as resp:
        assert (resp.status, resp.content_type) == (404, "application/problem+json")
    async with http.delete(f"{bank.url}/api/v1/transfers") as resp:
        assert (resp.status, resp.content_type) == (405, "application/problem+json")
    async with http.get(f"{bank.url}/api/v1/accounts/x%00y", headers=auth(service_token())) as r:
        assert (r.status, r.content_type) == (400, "application/problem+json")
