"""The bank's HTTP API (API.md, "Bank"): thin handlers over the executor.

Every call needs a JWT for the bank's audience. Transfers, look-ups and the
sign-up challenge API take the wallet's tokens alone (signed with the wallet's
key, ``sub`` = ``wallet``); creating or closing accounts takes only tokens
signed with the bank-admin key, which no running service holds (a person
mints them with ``vellet bank token --admin``). Handlers parse, authorise,
call one function and render; rules live in ``domain``, money moves in
``executor``.

Two route tables, two ports (``vellet.common.web``). ``routes`` is what a
partner of the bank calls, the wallet: look-ups, transfers, sign-up
challenges, on ``VELLET_BANK_PORT``. ``admin_routes`` opens accounts (with
any opening balance: it creates money) and closes or reopens them; no
service calls it, only an administrator, so it is served with ``/metrics``
on ``VELLET_BANK_INTERNAL_PORT``, which a NetworkPolicy opens to nobody but
Prometheus (an administrator port-forwards). The role check stays: the
port is a second wall, not the only one. On the public port ``POST
/api/v1/accounts`` is 404, and ``PATCH /api/v1/accounts/{n}`` 405 (the same
path answers ``GET`` there).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from vellet.bank import challenges, domain, store
from vellet.bank.executor import execute
from vellet.bank.state import CACHE, MAILER, METRICS, POOL, SETTINGS
from vellet.common import tokens
from vellet.common.errors import Conflict, NotFound, Unauthorized
from vellet.common.problems import json_body

routes = web.RouteTableDef()
admin_routes = web.RouteTableDef()


def _authorise(request: web.Request, accept: tokens.Accept = tokens.BANK_SERVICE) -> None:
    token = tokens.bearer(request.headers.get("Authorization"))
    tokens.verify(request.app[SETTINGS].keys, token, audience=tokens.BANK_AUDIENCE, accept=accept)


@routes.get("/api/v1/accounts/{account_number}")
async def get_account(request: web.Request) -> web.Response:
    _authorise(request)
    number = domain.account_number(request.match_info["account_number"])
    view = await request.app[CACHE].get(number)
    if view is None:
        raise NotFound("the bank has no such account", code="unknown_account")
    return web.json_response(view.to_wire())


@routes.post("/api/v1/transfers")
async def post_transfer(request: web.Request) -> web.Response:
    _authorise(request)
    req = domain.parse_transfer_request(await json_body(request))
    outcome, replay = await execute(request.app[POOL], req)
    request.app[METRICS].observe(outcome, replay=replay, path="http")
    return web.json_response(outcome.to_wire())


@admin_routes.post("/api/v1/accounts")
async def create_account(request: web.Request) -> web.Response:
    _authorise(request, tokens.BANK_ADMIN)
    new = domain.parse_new_account(await json_body(request))
    view = await store.insert_account(request.app[POOL], new)
    if view is None:
        raise Conflict("an account with this number exists", code="account_exists")
    await request.app[CACHE].invalidate(new.account_number)  # it may be cached as absent
    return web.json_response(view.to_wire(), status=201)


@admin_routes.patch("/api/v1/accounts/{account_number}")
async def change_account(request: web.Request) -> web.Response:
    _authorise(request, tokens.BANK_ADMIN)
    number = domain.account_number(request.match_info["account_number"])
    status = domain.parse_status_change(await json_body(request))
    view = await store.set_status(request.app[POOL], number, status)
    if view is None:
        raise NotFound("the bank has no such account", code="unknown_account")
    await request.app[CACHE].invalidate(number)
    return web.json_response(view.to_wire())


def _invalid_code() -> Unauthorized:
    return Unauthorized(
        "the code is wrong, expired or already used; start the sign-up again for a new one",
        code="invalid_code",
    )


@routes.post("/api/v1/signup-challenges")
async def create_challenge(request: web.Request) -> web.Response:
    """Make a code for the account and mail it to the holder, if there is one.

    The same 202 whether or not the account exists or is open, after the
    same work (a look-up and one row written): the mail leaves afterwards.
    """
    _authorise(request)  # the wallet's key and identity only (BANK_SERVICE)
    number = challenges.parse_start(await json_body(request))
    settings = request.app[SETTINGS].signup
    view = await request.app[CACHE].get(number)
    new = challenges.new_challenge(settings.code_key.get().encode(), number)
    await store.put_challenge(request.app[POOL], new, settings.ttl_seconds)
    if view is not None and view.status == "active":
        request.app[MAILER].offer(view, new.code)
    return web.json_response({"status": "accepted"}, status=202)


@routes.post("/api/v1/signup-challenges/verify")
async def verify_challenge(request: web.Request) -> web.Response:
    """Spend one guess; 200 with the account (its holder's name and e-mail) on a match."""
    _authorise(request)
    guess = challenges.parse_guess(await json_body(request))
    settings = request.app[SETTINGS].signup
    key = settings.code_key.get().encode()

    def check(challenge_id: uuid.UUID, stored: bytes) -> bool:
        return challenges.matches(key, challenge_id, guess.account_number, guess.code, stored)

    pool = request.app[POOL]
    if not await store.use_challenge(pool, guess.account_number, settings.max_attempts, check):
        raise _invalid_code()
    view = await store.account_view(pool, guess.account_number)
    if view is None:  # only a challenge for an unknown number could get here
        raise _invalid_code()
    return web.json_response(view.to_wire())
