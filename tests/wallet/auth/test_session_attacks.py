"""Forged, stale and misdirected session tokens are refused (and a real one is not)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.bank import RunningBank
from tests.support.keys import TEST_KEYS
from tests.wallet.stack import SESSION_SECRET, RunningWallet, WalletClient, registered
from vellet.wallet.auth.sessions import AUDIENCE

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
RSA_PRIVATE_PEM = _RSA.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built byte by byte, so no library can refuse to make a bad one."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


Attack = Callable[[dict[str, Any], str], str]


def alg_none(claims: dict[str, Any], token: str) -> str:
    return hand_made({"alg": "none", "typ": "JWT"}, claims, None)


def alg_none_uppercase(claims: dict[str, Any], token: str) -> str:
    return hand_made({"alg": "NONE", "typ": "JWT"}, claims, None)


def hs256_with_rsa_public_key(claims: dict[str, Any], token: str) -> str:
    """HS/RS confusion: HMAC keyed with a public key a verifier might trust for RS256."""
    return hand_made({"alg": "HS256", "typ": "JWT"}, claims, RSA_PUBLIC_PEM)


def rs256_signed(claims: dict[str, Any], token: str) -> str:
    return jwt.encode(claims, RSA_PRIVATE_PEM, algorithm="RS256")


def expired(claims: dict[str, Any], token: str) -> str:
    now = int(time.time())
    return jwt.encode(claims | {"iat": now - 3600, "exp": now - 60}, SESSION_SECRET, "HS256")


def wrong_audience(claims: dict[str, Any], token: str) -> str:
    return jwt.encode(claims | {"aud": "vellet-bank"}, SESSION_SECRET, "HS256")


def wrong_issuer(claims: dict[str, Any], token: str) -> str:
    return jwt.encode(claims | {"iss": "someone-else"}, SESSION_SECRET, "HS256")


def without_expiry(claims: dict[str, Any], token: str) -> str:
    return jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SESSION_SECRET, "HS256")


def without_issued_at(claims: dict[str, Any], token: str) -> str:
    return jwt.encode({k: v for k, v in claims.items() if k != "iat"}, SESSION_SECRET, "HS256")


def signed_with_the_service_key(claims: dict[str, Any], token: str) -> str:
    return jwt.encode(claims, TEST_KEYS["wallet"].key, "EdDSA")


def tampered_subject(claims: dict[str, Any], token: str) -> str:
    header, _, rest = token.partition(".")
    _, _, signature = rest.partition(".")
    forged = b64(json.dumps(claims | {"sub": str(int(claims["sub"]) + 1)}).encode())
    return f"{header}.{forged}.{signature}"


def truncated_signature(claims: dict[str, Any], token: str) -> str:
    return token[:-4]


ATTACKS: list[Attack] = [
    alg_none,
    alg_none_uppercase,
    hs256_with_rsa_public_key,
    rs256_signed,
    expired,
    wrong_audience,
    wrong_issuer,
    without_expiry,
    without_issued_at,
    signed_with_the_service_key,
    tampered_subject,
    truncated_signature,
]


@pytest.fixture
async def victim(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> WalletClient:
    await registered(bank, wallet, http)  # the user a tampered subject would point at
    return await registered(bank, wallet, http)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.__name__ for a in ATTACKS])
async def test_forged_tokens_are_refused(
    victim: WalletClient, wallet: RunningWallet, http: aiohttp.ClientSession, attack: Attack
) -> None:
    token = victim.token or ""
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == AUDIENCE
    assert (await victim.me()).status == 200  # the genuine token works: the test can fail

    forged = attack(claims, token)
    as_bearer = await WalletClient(http, wallet.url, token=forged).me()
    as_cookie = await WalletClient(http, wallet.url).call(
        "GET", "/api/v1/me", headers={"Cookie": f"vellet_session={forged}"}
    )

    for reply in (as_bearer, as_cookie):
        assert reply.status == 401, attack.__name__
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.body["code"] in {"invalid_session", "session_expired"}


async def test_garbage_authorization_headers_are_401_not_500(
    wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    for header in ("Bearer", "Bearer ", "Basic abc", "Bearer a.b", "Bearer ..", "Bearer ÿ.ÿ.ÿ"):
        reply = await WalletClient(http, wallet.url).call(
            "GET", "/api/v1/me", headers={"Authorization": header}
        )
        assert reply.status == 401, header
