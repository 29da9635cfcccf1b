"""The wallet's internal API (API.md, "Wallet (internal)"): services only.

Routed under ``/internal/v1`` on the wallet's internal app and port
(``VELLET_WALLET_INTERNAL_PORT``; the public port answers 404), and
protected by a service JWT for the ``vellet-wallet-internal`` audience
signed with the operator's key, ``sub`` = ``operator`` (a token for the
bank, one signed by any other key, or a user's session, is refused).
**An ingress must never route ``/internal``**: only in-cluster callers (the
operator) reach it, through the Service.

* ``POST /internal/v1/transfers`` creates a transfer on behalf of
  ``from_account``: the public body plus ``from_account``, with the same
  ``Idempotency-Key`` rules, the key scoped to that account's user (the
  operator sends the Transfer resource's UID, so a restarted operator never
  pays twice).
* ``GET /internal/v1/transfers/{id}``: any transfer.
* ``GET /internal/v1/transfers?state=queued&older_than=60&limit=100``:
  transfers in ``state`` (pending or queued) whose request was last sent
  more than ``older_than`` seconds ago, oldest first: ``{"items": [...]}``.
* ``POST /internal/v1/transfers/{id}/redrive``: re-publish an unfinished
  transfer's request to the bank request stream now (idempotent; a final
  transfer is left alone). Answers the transfer.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from vellet.common import tokens
from vellet.common.errors import NotFound
from vellet.common.problems import json_body
from vellet.wallet import wire
from vellet.wallet.api import transfers
from vellet.wallet.auth import store as auth_store
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking.service import FLOW
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL, SETTINGS

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


def _authorise(request: web.Request) -> tokens.Principal:
    token = tokens.bearer(request.headers.get("Authorization"))
    return tokens.verify(
        request.app[SETTINGS].keys,
        token,
        audience=tokens.WALLET_INTERNAL_AUDIENCE,
        accept=tokens.WALLET_INTERNAL,
    )


def _transfer_id(request: web.Request) -> uuid.UUID:
    ident = wire.transfer_id(request.match_info["transfer_id"])
    if ident is None:
        raise NotFound("no such transfer", code="transfer_not_found")
    return ident


@routes.post("/internal/v1/transfers")
async def create_transfer(request: web.Request) -> web.Response:
    _authorise(request)
    key = wire.idempotency_key(request.headers.get("Idempotency-Key"))
    body = await json_body(request)
    number = wire.account_number(body.pop("from_account", None), "from_account")
    user = await auth_store.user_by_account(request.app[POOL], number)
    if user is None:
        raise NotFound("no wallet user has that account", code="unknown_account")
    return await transfers.create_transfer(request.app, user.id, user.account_number, key, body)


@routes.get("/internal/v1/transfers")
async def list_stuck(request: web.Request) -> web.Response:
    _authorise(request)
    state = banking_rules.parse_stuck_state(request.query.get("state"))
    older_than = banking_rules.parse_older_than(request.query.get("older_than"))
    limit = banking_rules.parse_list_limit(request.query.get("limit"))
    rows = await request.app[FLOW].list_stuck(state, older_than, limit)
    return web.json_response({"items": [wire.transfer_json(r) for r in rows]})


@routes.get("/internal/v1/transfers/{transfer_id}")
async def get_transfer(request: web.Request) -> web.Response:
    _authorise(request)
    row = await ledger_store.transfer_by_id(request.app[POOL], _transfer_id(request))
    if row is None:
        raise NotFound("no such transfer", code="transfer_not_found")
    return web.json_response(wire.transfer_json(row))


@routes.post("/internal/v1/transfers/{transfer_id}/redrive")
async def redrive(request: web.Request) -> web.Response:
    _authorise(request)
    ident = _transfer_id(request)
    flow = request.app[FLOW]
    if await flow.redrive(ident):
        try:  # publish now rather than at the relay's next sweep; it retries if this fails
            await flow.relay.drain()
        except (RedisError, OSError, asyncpg.PostgresError) as err:
            log.warning("re-drive of %s stays in the outbox for now: %s", ident, type(err).__name__)
    row = await ledger_store.transfer_by_id(request.app[POOL], ident)
    if row is None:
        raise NotFound("no such transfer", code="transfer_not_found")
    return web.json_response(wire.transfer_json(row))
