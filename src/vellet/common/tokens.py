"""Service-to-service JSON Web Tokens.

One algorithm is accepted (HS256) and it is pinned on verification, so a
token that says ``alg: none`` or ``RS256`` is refused before its signature is
even looked at. ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required.
Each receiving service has its own audience, so a token minted for the bank
cannot be replayed against the wallet's internal API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import jwt

from vellet.common.errors import Forbidden, Unauthorized
from vellet.common.settings import TokenSettings

ALGORITHM: Final = "HS256"
BANK_AUDIENCE: Final = "vellet-bank"
WALLET_INTERNAL_AUDIENCE: Final = "vellet-wallet-internal"
ADMIN_ROLE: Final = "admin"
SERVICE_ROLE: Final = "service"


@dataclass(frozen=True)
class Principal:
    """Who called: the token's subject and role."""

    subject: str
    role: str


def mint(
    settings: TokenSettings,
    *,
    audience: str,
    subject: str,
    role: str = SERVICE_ROLE,
    ttl_seconds: int | None = None,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": audience,
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + (settings.ttl_seconds if ttl_seconds is None else ttl_seconds),
    }
    return jwt.encode(claims, settings.secret.get(), algorithm=ALGORITHM)


def verify(settings: TokenSettings, token: str, *, audience: str) -> Principal:
    """Check a token; raise :class:`Unauthorized` with a safe reason otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret.get(),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=settings.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired", code="token_expired") from None
    except jwt.PyJWTError:
        # One answer for every other fault: say nothing an attacker can use.
        raise Unauthorized("invalid token", code="invalid_token") from None
    role = claims.get("role", SERVICE_ROLE)
    return Principal(subject=str(claims["sub"]), role=str(role))


def bearer(header: str | None) -> str:
    """Extract the token from an ``Authorization: Bearer`` header."""
    if not header:
        raise Unauthorized("missing bearer token", code="missing_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authorization must be 'Bearer <token>'", code="invalid_token")
    return token.strip()


def require_role(principal: Principal, role: str) -> None:
    if principal.role != role:
        raise Forbidden(f"this call needs the {role!r} role", code="forbidden")
