"""User sessions: short-lived HS256 JWTs, as a cookie or a Bearer token.

Verification pins the algorithm (``alg: none``, RS256 and any HS/RS key
confusion are refused before a signature is even considered) and requires
``exp``, ``iat``, ``iss``, ``aud`` and ``sub``. The signing key is the
wallet's own (``VELLET_SESSION_SECRET``), never the service key.

CSRF: a browser attaches the session cookie to any request, including one a
hostile page makes, so a write authenticated by the cookie must also carry
``X-CSRF-Token`` equal to the ``csrf`` claim inside the signed session (a
signed double-submit token: the dashboard reads it from the login answer or
the non-HttpOnly ``vellet_csrf`` cookie, a foreign origin can read neither).
SameSite=Strict already stops most cross-site sends; the token covers the
rest (same-site subdomains, old browsers). Bearer requests need no token:
browsers never add that header on their own.

Sessions are stateless: logout clears the cookies, and a copied token stays
valid until it expires, which is why the lifetime is short (15 minutes).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from aiohttp import web

from vellet.common.digits import whole_number
from vellet.common.errors import Forbidden, Unauthorized
from vellet.wallet.settings import SessionSettings

ALGORITHM: Final = "HS256"
AUDIENCE: Final = "vellet-wallet"
COOKIE: Final = "vellet_session"
CSRF_COOKIE: Final = "vellet_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    user_id: int
    account_number: str
    csrf: str
    expires_at: datetime


def mint(settings: SessionSettings, user_id: int, account_number: str) -> tuple[str, Session]:
    issued = int(time.time())
    expires = issued + settings.ttl_seconds
    csrf = secrets.token_urlsafe(24)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "acct": account_number,
        "csrf": csrf,
        "iat": issued,
        "exp": expires,
    }
    token = jwt.encode(claims, settings.secret.get(), algorithm=ALGORITHM)
    return token, Session(user_id, account_number, csrf, datetime.fromtimestamp(expires, UTC))


def verify(settings: SessionSettings, token: str) -> Session:
    """The session a token carries; :class:`Unauthorized` for anything else."""
    try:
        claims = jwt.decode(
            token,
            settings.secret.get(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=settings.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "the session has expired; log in again", code="session_expired"
        ) from None
    except jwt.PyJWTError:
        raise Unauthorized(
            "the session is not valid; log in again", code="invalid_session"
        ) from None
    sub, acct, csrf = whole_number(claims.get("sub")), claims.get("acct"), claims.get("csrf")
    if sub is None or not (isinstance(acct, str) and isinstance(csrf, str)):
        raise Unauthorized("the session is not valid; log in again", code="invalid_session")
    return Session(sub, acct, csrf, datetime.fromtimestamp(int(claims["exp"]), UTC))


class Verifier:
    """:func:`verify` with a bounded memo of tokens already verified.

    A client sends the same token with every request; checking its HMAC and
    claims once per token instead of once per request is a measurable share
    of a transfer's CPU. Only exact token strings that passed full
    verification are remembered, and a remembered one still expires on time.
    """

    def __init__(self, settings: SessionSettings, size: int = 10_000) -> None:
        self.settings = settings
        self._size = size
        self._known: dict[str, Session] = {}

    def verify(self, token: str) -> Session:
        known = self._known.get(token)
        if known is not None:
            if known.expires_at.timestamp() > time.time():
                return known
            del self._known[token]
        session = verify(self.settings, token)
        if len(self._known) >= self._size:
            del self._known[next(iter(self._known))]  # the oldest entry
        self._known[token] = session
        return session


def authenticate(request: web.Request, verifier: Verifier) -> Session:
    """The caller's session, from ``Authorization: Bearer`` or the cookie."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("authorization must be 'Bearer <token>'", code="invalid_session")
        return verifier.verify(token.strip())
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise Unauthorized("log in first (Bearer token or session cookie)", code="unauthorized")
    session = verifier.verify(cookie)
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise Forbidden(
                f"a cookie-authenticated write needs the {CSRF_HEADER} header from login",
                code="csrf_failed",
            )
    return session


def set_cookies(
    response: web.StreamResponse, settings: SessionSettings, token: str, csrf: str
) -> None:
    common: dict[str, Any] = {
        "max_age": settings.ttl_seconds,
        "path": "/",
        "samesite": "Strict",
        "secure": settings.cookie_secure,
    }
    response.set_cookie(COOKIE, token, httponly=True, **common)
    # Readable by the dashboard's script on purpose: it echoes it as X-CSRF-Token.
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **common)


def clear_cookies(response: web.StreamResponse, settings: SessionSettings) -> None:
    for name in (COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/", samesite="Strict", secure=settings.cookie_secure)


VERIFIER = web.AppKey("wallet_session_verifier", Verifier)
