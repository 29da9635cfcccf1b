"""Sign-up in two steps (API.md): the bank proves who holds the account.

1. ``POST /api/v1/auth/signup`` with an account number. The bank makes a
   one-time code and mails it to the e-mail *it* holds for the account.
   The wallet answers the same 202, byte for byte, for an unknown, a
   registered and a fresh account, and does the same work for each (it
   asks the bank every time and never looks the user up), so neither the
   answer nor its timing says which it was.
2. ``POST /api/v1/auth/signup/complete`` with the code and a password. The
   bank checks the code (single use, a few guesses, minutes to live); only
   then does the wallet learn the holder's name and e-mail, see whether the
   account already has a wallet (409 comes after the code, never before),
   and create the user.

Both steps are rate-limited per account and per client address (429 with
``Retry-After``); every attempt counts. A registered account's holder is
mailed a code too: the wallet does not ask, and completing it answers 409.
"""

from __future__ import annotations

from aiohttp import web

from vellet.common.errors import Conflict, Unauthorized, Unprocessable, VelletError
from vellet.common.money import CURRENCY_EXPONENTS
from vellet.common.problems import json_body
from vellet.wallet.auth import rules, store
from vellet.wallet.auth.addresses import client_address
from vellet.wallet.auth.limits import SIGNUP_COMPLETIONS, SIGNUP_STARTS
from vellet.wallet.auth.passwords import PASSWORDS
from vellet.wallet.banking.client import BANK
from vellet.wallet.state import METRICS, POOL, SETTINGS

routes = web.RouteTableDef()


def _address(request: web.Request) -> str:
    return client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", ()),
        request.app[SETTINGS].login.trusted_proxies,
    )


@routes.post("/api/v1/auth/signup")
async def start(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        number = rules.parse_signup_start(await json_body(request))
        await request.app[SIGNUP_STARTS].attempt(number, _address(request))
        await request.app[BANK].start_signup(number)
    except VelletError as err:
        metrics.signups.labels(err.code).inc()
        raise
    metrics.signups.labels("started").inc()
    return web.json_response(rules.SIGNUP_STARTED, status=202)


@routes.post("/api/v1/auth/signup/complete")
async def complete(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        user = await _complete(request)
    except VelletError as err:
        metrics.signups.labels(err.code).inc()
        raise
    metrics.signups.labels("created").inc()
    return web.json_response(rules.user_json(user), status=201)


async def _complete(request: web.Request) -> store.User:
    form = rules.parse_signup_completion(await json_body(request))
    await request.app[SIGNUP_COMPLETIONS].attempt(form.account_number, _address(request))
    account = await request.app[BANK].verify_signup(form.account_number, form.code)
    if account is None:
        raise Unauthorized(
            "the code is wrong, expired or already used, or no sign-up was started; "
            "start the sign-up again for a new code",
            code="invalid_code",
        )
    # From here on the caller has proved they read the holder's mail.
    if account.status != "active":
        raise Unprocessable("the bank account is not active", code="account_closed")
    if account.currency not in CURRENCY_EXPONENTS or account.account_number != form.account_number:
        raise Unprocessable("this bank account cannot hold a wallet", code="unsupported_account")
    pool = request.app[POOL]
    if await store.user_by_account(pool, form.account_number) is not None:
        raise _already_registered()
    password_hash = await request.app[PASSWORDS].hash(form.password)
    user = await store.insert_user(
        pool,
        store.NewUser(
            account_number=account.account_number,
            name=account.name,
            email=account.email,
            currency=account.currency,
            password_hash=password_hash,
        ),
    )
    if user is None:  # a concurrent sign-up won the race
        raise _already_registered()
    return user


def _already_registered() -> Conflict:
    return Conflict("this account already has a wallet; log in", code="already_registered")
