"""Create a transfer of any kind for a known user: shared by both APIs.

The public API (the user's session) and the internal API (a service token
acting for ``from_account``) differ only in how they learn who the user is;
from there a P2P transfer goes to the ledger in a batch (``batcher``) and a deposit
or withdrawal is a two-phase flow (``bankflow``). Either way the answer is
the JSON text stored under the idempotency key, so a replay is the first
answer byte for byte, marked ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from vellet.common.errors import Conflict, Unprocessable
from vellet.common.problems import PROBLEM_JSON
from vellet.wallet import domain, flows, ledger
from vellet.wallet.state import BATCHER, FLOW, METRICS, RELAY, SETTINGS


async def create_transfer(app: web.Application, user_id: int, account_number: str, key: str,
                          body: dict[str, Any]) -> web.Response:  # fmt: skip
    kind = flows.kind_of(body)
    if kind == "p2p":
        return await _p2p(app, user_id, account_number, key, domain.parse_transfer(body))
    return await _two_phase(app, user_id, key, flows.parse_bank_transfer(body))


def _expiry(app: web.Application) -> datetime | None:
    return domain.expiry(datetime.now(UTC), app[SETTINGS].idempotency_retention_hours)


async def _p2p(app: web.Application, user_id: int, account_number: str, key: str,
               req: domain.P2PRequest) -> web.Response:  # fmt: skip
    metrics = app[METRICS]
    started = time.perf_counter()
    job = ledger.P2PJob(user_id, account_number, key, req, uuid.uuid4(), uuid.uuid4(), _expiry(app))
    answer = await app[BATCHER].post(job)
    metrics.transfer_latency.labels("p2p").observe(time.perf_counter() - started)
    metrics.transfers.labels("p2p", _label(answer.outcome)).inc()
    _refuse_conflicts(answer.outcome)
    if answer.outcome == "posted":
        app[RELAY].wake()
    return _response(answer.status, answer.body, replayed=answer.outcome == "replayed")


async def _two_phase(app: web.Application, user_id: int, key: str,
                     req: flows.BankTransferRequest) -> web.Response:  # fmt: skip
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
