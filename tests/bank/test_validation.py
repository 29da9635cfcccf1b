"""Bad tokens get 401; bad bodies get a 4xx problem+json, never a 5xx.

Every bad token is made for one route with that route's own signer, so
only the one thing named is wrong (and the same token within bounds passes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import pytest

from tests.support.bank import RunningBank, auth, service_token
from tests.support.keys import TEST_KEYS
from vellet.common import tokens
from vellet.common.keys import PrivateKey


@dataclass(frozen=True)
class Route:
    """One bank route and the one signer, role and subject it accepts."""

    method: str
    path: str
    signer: str
    role: str
    subject: str


ROUTES = [
    Route("GET", "/api/v1/accounts/123456789", "wallet", "service", "wallet"),
    Route("POST", "/api/v1/transfers", "wallet", "service", "wallet"),
    Route("POST", "/api/v1/accounts", "bank-admin", "admin", "test-admin"),
]


def _claims(route: Route, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": route.signer,
        "aud": tokens.BANK_AUDIENCE,
        "sub": route.subject,
        "role": route.role,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(route: Route, **override: Any) -> str:
    """Claims for ``route`` signed with the right key: only the claims are wrong."""
    key = TEST_KEYS[route.signer]
    return jwt.encode(_claims(route, **override), key.key, algorithm="EdDSA",
                      headers={"kid": key.key_id})  # fmt: skip


def _b64(part: bytes) -> str:
    return base64.urlsafe_b64encode(part).rstrip(b"=").decode()


def _hand_made(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """Built byte by byte, so no library can refuse to make a bad one."""
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(hmac_key, signing.encode(), hashlib.sha256).digest() if hmac_key else b""
    return f"{signing}.{_b64(mac)}"


def _lifetime(route: Route, seconds: int) -> str:
    now = int(time.time())
    return _signed(route, iat=now, exp=now + seconds)


# Built when a test runs, never at import: a token minted at collection time
# would expire during a long suite and be refused for the wrong reason.
BAD_TOKENS: dict[str, Callable[[Route], str | None]] = {
    "none": lambda r: None,
    "not a jwt": lambda r: "abc.def",
    "expired": lambda r: _signed(r, iat=int(time.time()) - 600, exp=int(time.time()) - 300),
    "wrong audience": lambda r: _signed(r, aud="vellet-wallet"),
    "wrong issuer": lambda r: _signed(r, iss="mallory"),
    "alg none": lambda r: _hand_made({"alg": "none", "typ": "JWT"}, _claims(r), None),
    "HS256 with any secret": lambda r: jwt.encode(
        _claims(r), "a-secret-anyone-could-pick-0123456789abcdef", algorithm="HS256"
    ),
    "HS256 with the public key as secret": lambda r: _hand_made(
        {"alg": "HS256", "typ": "JWT"}, _claims(r), TEST_KEYS[r.signer].public().pem().encode()
    ),
    "HS512": lambda r: jwt.encode(_claims(r), "k" * 64, algorithm="HS512"),
    "another Ed25519 key": lambda r: jwt.encode(
        _claims(r), PrivateKey.generate().key, algorithm="EdDSA"
    ),
    "no exp": lambda r: _signed(r, exp=None),
    "no iat": lambda r: _signed(r, iat=None),
    "no sub": lambda r: _signed(r, sub=None),
    "a lifetime over the cap": lambda r: _lifetime(
        r, (tokens.ADMIN_TTL_MAX if r.role == "admin" else tokens.SERVICE_TTL_MAX) + 1
    ),
    "a lifetime of ten years": lambda r: _lifetime(r, 10 * 365 * 86400),
    "tampered": lambda r: _signed(r)[:-3] + "AAA",
}
EXPECTED_CODE = {"none": "missing_token", "expired": "token_expired"}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
async def test_bad_tokens_get_401(
    bank: RunningBank, http: aiohttp.ClientSession, name: str, route: Route
) -> None:
    token = BAD_TOKENS[name](route)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    # Opening accounts is an admin route: the internal port's.
    base = bank.internal_url if route.role == "admin" else bank.url
    async with http.request(route.method, base + route.path, json={},
                            headers=headers) as resp:  # fmt: skip
        assert resp.status == 401, name
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
    assert body["status"] == 401
    assert body["code"] == EXPECTED_CODE.get(name, "invalid_token"), name
    assert "PRIVATE KEY" not in json.dumps(body)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
async def test_the_right_token_at_the_cap_is_accepted(
    bank: RunningBank, http: aiohttp.ClientSession, route: Route
) -> None:
    """The refusals above are for their reason: the same token, within bounds, passes."""
    cap = tokens.ADMIN_TTL_MAX if route.role == "admin" else tokens.SERVICE_TTL_MAX
    headers = {"Authorization": f"Bearer {_lifetime(route, cap)}"}
    base = bank.internal_url if route.role == "admin" else bank.url
    async with http.request(route.method, base + route.path, json={},
                            headers=headers) as resp:  # fmt: skip
        assert resp.status not in (401, 403), await resp.text()
        if route.role == "admin":  # reached the route itself, not a port without it
            assert resp.status not in (404, 405), await resp.text()


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
