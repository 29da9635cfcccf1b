"""Service-to-service JSON Web Tokens, signed with each issuer's own key.

Every token is EdDSA (Ed25519) and the algorithm is pinned on verification,
so ``alg: none``, ``HS256`` made with any secret (the public key included) or
``RS256`` is refused before its signature is even looked at. The issuer
signs with its own private key and says who it is in ``iss``; a verifier
holds only public keys and, per audience, names the one signer it accepts
and the ``sub`` it requires (an :class:`Accept`). So the bank's transfer API
takes the wallet's key alone, its admin routes only the bank-admin key (which
no running service holds), and the wallet's internal API only the operator's.

Lifetimes are short and capped twice: :func:`mint` refuses to make a token
that lives longer than its cap, and :func:`verify` refuses one whose
``exp - iat`` exceeds the cap of the audience, however validly signed, so a
leaked token is worth minutes, not years. ``exp``, ``iat``, ``iss``, ``aud``
and ``sub`` are required.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import jwt

from vellet.common.errors import Forbidden, Unauthorized
from vellet.common.keys import KeySettings, PrivateKey, PublicKey

ALGORITHM: Final = "EdDSA"
BANK_AUDIENCE: Final = "vellet-bank"
WALLET_INTERNAL_AUDIENCE: Final = "vellet-wallet-internal"
ADMIN_ROLE: Final = "admin"
SERVICE_ROLE: Final = "service"

#: Default lifetime of a service token (minted per call, so minutes suffice).
SERVICE_TTL: Final = 300
#: Longest lifetime a service token may have, minted or accepted.
SERVICE_TTL_MAX: Final = 900
#: Longest lifetime of an admin token (minted by a person with ``vellet bank token``).
ADMIN_TTL_MAX: Final = 3600
#: Clock skew tolerated between the issuer and the verifier, in seconds.
LEEWAY: Final = 5


@dataclass(frozen=True)
class Principal:
    """Who called: the token's subject and role."""

    subject: str
    role: str


@dataclass(frozen=True)
class Accept:
    """What one verifier accepts for one audience: one signer, one role."""

    #: The only signer whose keys may have signed (also the required ``iss``).
    signer: str
    #: The ``role`` claim required.
    role: str
    #: The ``sub`` required; ``None`` for any (an admin names themself).
    subject: str | None
    #: Longest ``exp - iat`` accepted, in seconds.
    max_lifetime: int


#: The bank's transfer, look-up and sign-up-challenge API: the wallet only.
BANK_SERVICE: Final = Accept("wallet", SERVICE_ROLE, "wallet", SERVICE_TTL_MAX)
#: The bank's admin routes: the bank-admin key only (the CLI, never a pod).
BANK_ADMIN: Final = Accept("bank-admin", ADMIN_ROLE, None, ADMIN_TTL_MAX)
#: The wallet's internal API: the operator only.
WALLET_INTERNAL: Final = Accept("operator", SERVICE_ROLE, "operator", SERVICE_TTL_MAX)


@dataclass(frozen=True, repr=False)
class Issuer:
    """A signer's own key and name, ready to mint tokens."""

    #: The signer's name (``wallet``, ``operator``, ``bank-admin``): the ``iss``.
    signer: str
    key: PrivateKey
    #: Lifetime of each minted token, in seconds.
    ttl_seconds: int = SERVICE_TTL

    @classmethod
    def of(cls, keys: KeySettings, signer: str, ttl_seconds: int = SERVICE_TTL) -> Issuer:
        return cls(signer, keys.signer(), ttl_seconds)

    def mint(self, *, audience: str, subject: str | None = None, role: str = SERVICE_ROLE,
             max_ttl: int = SERVICE_TTL_MAX, now: float | None = None) -> str:  # fmt: skip
        """A token for ``audience``; ``sub`` defaults to the signer's own name."""
        return mint(
            self.key,
            signer=self.signer,
            audience=audience,
            subject=subject or self.signer,
            role=role,
            ttl_seconds=self.ttl_seconds,
            max_ttl=max_ttl,
            now=now,
        )

    def __repr__(self) -> str:
        return f"Issuer({self.signer!r}, {self.key!r})"


def mint(key: PrivateKey, *, signer: str, audience: str, subject: str,
         role: str = SERVICE_ROLE, ttl_seconds: int = SERVICE_TTL,
         max_ttl: int = SERVICE_TTL_MAX, now: float | None = None) -> str:  # fmt: skip
    """Sign a token as ``signer``; a lifetime over ``max_ttl`` is a ValueError."""
    if not 0 < ttl_seconds <= max_ttl:
        raise ValueError(f"a token lives at most {max_ttl} seconds, not {ttl_seconds}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": signer,
        "aud": audience,
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, key.key, algorithm=ALGORITHM, headers={"kid": key.key_id})


def _candidates(keys: tuple[PublicKey, ...], kid: object) -> list[PublicKey]:
    """The accepted signer's keys, the one the ``kid`` names first (rotation)."""
    return sorted(keys, key=lambda k: k.key_id != kid)


def verify(keys: KeySettings, token: str, *, audience: str, accept: Accept) -> Principal:
    """Check a token; raise :class:`Unauthorized` with a safe reason otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("invalid token", code="invalid_token") from None
    if header.get("alg") != ALGORITHM:
        raise Unauthorized("invalid token", code="invalid_token")
    claims: dict[str, Any] | None = None
    for candidate in _candidates(keys.keys_of(accept.signer), header.get("kid")):
        try:
            claims = jwt.decode(
                token,
                candidate.key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=accept.signer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=LEEWAY,
            )
            break
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired", code="token_expired") from None
        except jwt.InvalidSignatureError:
            continue  # perhaps the other key of a rotation
        except jwt.PyJWTError:
            # One answer for every other fault: say nothing an attacker can use.
            raise Unauthorized("invalid token", code="invalid_token") from None
    if claims is None:
        raise Unauthorized("invalid token", code="invalid_token")
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int) or lifetime > accept.max_lifetime:
        raise Unauthorized(
            f"token lifetime over {accept.max_lifetime} seconds", code="invalid_token"
        )
    principal = Principal(subject=str(claims["sub"]), role=str(claims.get("role", "")))
    if principal.role != accept.role:
        raise Forbidden(f"this call needs the {accept.role!r} role", code="forbidden")
    if accept.subject is not None and principal.subject != accept.subject:
        raise Forbidden(f"only the {accept.subject} may call this", code="forbidden")
    return principal


def bearer(header: str | None) -> str:
    """Extract the token from an ``Authorization: Bearer`` header."""
    if not header:
        raise Unauthorized("missing bearer token", code="missing_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authorization must be 'Bearer <token>'", code="invalid_token")
    return token.strip()
