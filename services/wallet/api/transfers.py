"""Create a transfer of any kind for a known user: shared by both APIs.

The public API (the user's session) and the internal API (a service token
acting for ``from_account``) differ only in how they learn who the user is;
from there a P2P transfer goes to the ledger in a batch (``batcher``) and a deposit
or withdrawal is a two-phase flow (``banking.service``). Either way the answer is
the JSON text stored under the idempotency key, so a replay is the first
answer byte for byte, marked ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from vellet.common.errors import PROBLEM_JSON, Conflict, Unprocessable
from vellet.wallet import wire
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking.service import FLOW
from vellet.wallet.events.relay import RELAY
from vellet.wallet.ledger import rules as ledger_rules
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.ledger.batcher import BATCHER
from vellet.wallet.state import METRICS, SETTINGS


async def create_transfer(app: web.Application, user_id: int, account_number: str, key: str,
                          body: dict[str, Any]) -> web.Response:  # fmt: skip
    kind = banking_rules.kind_of(body)
    if kind == "p2p":
        return await _p2p(app, user_id, account_number, key, ledger_rules.parse_transfer(body))
    return await _two_phase(app, user_id, key, banking_rules.parse_bank_transfer(body))


def _expiry(app: web.Application) -> datetime | None:
    return wire.expiry(datetime.now(UTC), app[SETTINGS].idempotency_retention_hours)


async def _p2p(app: web.Application, user_id: int, account_number: str, key: str,
               req: ledger_rules.P2PRequest) -> web.Response:  # fmt: skip
    metrics = app[METRICS]
    started = time.perf_counter()
    job = ledger_store.P2PJob(
        user_id, account_number, key, req, uuid.uuid4(), uuid.uuid4(), _expiry(app)
    )
    answer = await app[BATCHER].post(job)
    metrics.transfer_latency.labels("p2p").observe(time.perf_counter() - started)
    metrics.transfers.labels("p2p", _label(answer.outcome)).inc()
    _refuse_conflicts(answer.outcome)
    if answer.outcome == "posted":
        app[RELAY].wake()
    return _response(answer.status, answer.body, replayed=answer.outcome == "replayed")


async def _two_phase(app: web.Application, user_id: int, key: str,
                     req: banking_rules.BankTransferRequest) -> web.Response:  # fmt: skip
    metrics = app[METRICS]
    started = time.perf_counter()
    answer = await app[FLOW].create(user_id, key, req, _expiry(app))
    metrics.transfer_latency.labels(req.kind).observe(time.perf_counter() - started)
    metrics.transfers.labels(req.kind, _label(answer.outcome)).inc()
    _refuse_conflicts(answer.outcome)
    return _response(answer.status, answer.body, replayed=answer.outcome == "replayed")


def _label(outcome: str) -> str:
    return f"idempotency_{outcome}" if outcome in ("mismatch", "in_flight") else outcome


def _refuse_conflicts(outcome: str) -> None:
    if outcome == "mismatch":
        raise Unprocessable(
            "this Idempotency-Key was used for a different request", code="idempotency_mismatch"
        )
    if outcome == "in_flight":
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            code="idempotency_in_flight",
        )


def _response(status: int, body: str | None, *, replayed: bool) -> web.Response:
    assert body is not None
    response = web.Response(status=status, text=body)
    response.content_type = "application/json" if status < 400 else PROBLEM_JSON
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
