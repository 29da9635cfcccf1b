"""The bank's HTTP API (API.md, "Bank"): thin handlers over the executor.

Every call needs a service JWT for the bank's audience; creating or closing
accounts needs the admin role. Handlers parse, authorise, call one function
and render; rules live in ``domain``, money moves in ``executor``.
"""

from __future__ import annotations

from aiohttp import web

from vellet.bank import domain, store
from vellet.bank.executor import execute
from vellet.bank.state import CACHE, METRICS, POOL, SETTINGS
from vellet.common import tokens
from vellet.common.errors import Conflict, NotFound
from vellet.common.problems import json_body

routes = web.RouteTableDef()


def _authorise(request: web.Request, role: str | None = None) -> tokens.Principal:
    settings = request.app[SETTINGS]
    token = tokens.bearer(request.headers.get("Authorization"))
    principal = tokens.verify(settings.tokens, token, audience=tokens.BANK_AUDIENCE)
    if role is not None:
        tokens.require_role(principal, role)
    return principal


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


@routes.post("/api/v1/accounts")
async def create_account(request: web.Request) -> web.Response:
    _authorise(request, tokens.ADMIN_ROLE)
    new = domain.parse_new_account(await json_body(request))
    view = await store.insert_account(request.app[POOL], new)
    if view is None:
        raise Conflict("an account with this number exists", code="account_exists")
    await request.app[CACHE].invalidate(new.account_number)  # it may be cached as absent
    return web.json_response(view.to_wire(), status=201)


@routes.patch("/api/v1/accounts/{account_number}")
async def change_account(request: web.Request) -> web.Response:
    _authorise(request, tokens.ADMIN_ROLE)
    number = domain.account_number(request.match_info["account_number"])
    status = domain.parse_status_change(await json_body(request))
    view = await store.set_status(request.app[POOL], number, status)
    if view is None:
        raise NotFound("the bank has no such account", code="unknown_account")
    await request.app[CACHE].invalidate(number)
    return web.json_response(view.to_wire())
