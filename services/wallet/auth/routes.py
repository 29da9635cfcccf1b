"""Login and logout (API.md, "Wallet (public)"): thin HTTP. Sign-up is in ``signup``.

Login answers one 401 ``invalid_credentials`` for an unknown account and a
wrong password, with the same body and after the same argon2 work, so
neither the answer nor its timing tells them apart. Attempts are counted
before the password is checked (see ``limits``).
"""

from __future__ import annotations

from aiohttp import web

from vellet.common.errors import Unauthorized, VelletError
from vellet.common.problems import json_body
from vellet.wallet import wire
from vellet.wallet.auth import rules, sessions, store
from vellet.wallet.auth.addresses import client_address
from vellet.wallet.auth.limits import LIMITER
from vellet.wallet.auth.passwords import PASSWORDS
from vellet.wallet.state import METRICS, POOL, SETTINGS

routes = web.RouteTableDef()


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    creds = rules.parse_credentials(await json_body(request), new=False)
    try:
        address = client_address(
            request.remote,
            request.headers.getall("X-Forwarded-For", ()),
            settings.login.trusted_proxies,
        )
        attempt = await request.app[LIMITER].attempt(creds.account_number, address)
    except VelletError as err:
        metrics.logins.labels(err.code).inc()
        raise
    passwords = request.app[PASSWORDS]
    pool = request.app[POOL]
    user = await store.user_by_account(pool, creds.account_number)
    if user is None:
        ok = await passwords.verify_unknown(creds.password)
    else:
        ok = await passwords.verify(user.password_hash, creds.password)
    if user is None or not ok:
        metrics.logins.labels("invalid_credentials").inc()
        raise Unauthorized(
            "the account number or the password is wrong", code="invalid_credentials"
        )
    await request.app[LIMITER].succeeded(attempt)
    if passwords.needs_rehash(user.password_hash):  # cost settings were raised since
        await store.set_password_hash(pool, user.id, await passwords.hash(creds.password))
    token, session = sessions.mint(settings.sessions, user.id, user.account_number)
    metrics.logins.labels("success").inc()
    response = web.json_response(
        {
            "token": token,
            "expires_at": wire.timestamp(session.expires_at),
            "csrf_token": session.csrf,
        }
    )
    sessions.set_cookies(response, settings.sessions, token, session.csrf)
    return response


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """Always 204: clearing cookies needs no valid session (an expired one included)."""
    response = web.Response(status=204)
    sessions.clear_cookies(response, request.app[SETTINGS].sessions)
    return response
