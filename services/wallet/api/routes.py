"""The wallet's money API (API.md, "Wallet (public)"): thin HTTP.

Every route authenticates first, then parses with the rules and calls one
store function. Transfer answers come back from the database as the
exact JSON text stored under the idempotency key, so a replay is the first
answer byte for byte (plus an ``Idempotent-Replayed: true`` header).
"""

from __future__ import annotations

from aiohttp import web

from vellet.common.errors import NotFound, Unauthorized
from vellet.common.problems import json_body
from vellet.wallet import wire
from vellet.wallet.api import transfers
from vellet.wallet.api.openapi import document
from vellet.wallet.auth import rules as auth_rules
from vellet.wallet.auth import sessions
from vellet.wallet.auth.sessions import VERIFIER
from vellet.wallet.ledger import rules as ledger_rules
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL

routes = web.RouteTableDef()


def _session(request: web.Request) -> sessions.Session:
    return sessions.authenticate(request, request.app[VERIFIER])


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    session = _session(request)
    found = await ledger_store.user_and_balance(request.app[POOL], session.user_id)
    if found is None:
        raise Unauthorized("the session is not valid; log in again", code="invalid_session")
    user, balance = found
    return web.json_response(auth_rules.me_json(user, balance))


@routes.post("/api/v1/transfers")
async def create_transfer(request: web.Request) -> web.Response:
    session = _session(request)
    key = wire.idempotency_key(request.headers.get("Idempotency-Key"))
    body = await json_body(request)
    return await transfers.create_transfer(
        request.app, session.user_id, session.account_number, key, body
    )


@routes.get("/api/v1/transfers")
async def list_transfers(request: web.Request) -> web.Response:
    session = _session(request)
    limit = ledger_rules.history_limit(request.query.get("limit"))
    raw_cursor = request.query.get("cursor")
    cursor = None if raw_cursor is None else ledger_rules.Cursor.decode(raw_cursor)
    rows = await ledger_store.history(request.app[POOL], session.user_id, limit + 1, cursor)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = ledger_rules.Cursor(last["created_at"], last["id"]).encode()
    return web.json_response(
        {"items": [wire.transfer_json(r) for r in page], "next_cursor": next_cursor}
    )


@routes.get("/api/v1/transfers/{transfer_id}")
async def get_transfer(request: web.Request) -> web.Response:
    session = _session(request)
    ident = wire.transfer_id(request.match_info["transfer_id"])
    row = (
        None
        if ident is None
        else await ledger_store.transfer_of(request.app[POOL], session.user_id, ident)
    )
    if row is None:
        # Someone else's transfer and no transfer at all look the same: no BOLA.
        raise NotFound("no such transfer", code="transfer_not_found")
    return web.json_response(wire.transfer_json(row))


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
