"""SQL of two-phase transfers: reserve, then post or void, exactly once.

SQL only, one transaction per function (like every ``store``); the
request outbox and stuck-transfer queries are next door in ``queue_store``.

Exactly once: every state change is a conditional UPDATE from ``pending``
or ``queued``, so a result applied twice (the direct answer and the stream
both deliver it, a message is redelivered, two replicas race) changes
nothing the second time; the ledger moves only in the transaction whose
UPDATE found the transfer unfinished.

Deadlock freedom: rows are always locked in one order -- ``bank_outbox``,
then ``transfers``, then the user's ledger account, then the settlement
account (the one row every deposit and withdrawal of a currency shares, so
it is taken last, just before COMMIT, to hold it as briefly as possible).
P2P locks only user accounts, in id order. :func:`retrying` still retries a
deadlock or serialization failure, should PostgreSQL report one.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from vellet.common.db import Conn, Pool, retrying
from vellet.wallet import wire
from vellet.wallet.banking.rules import BankResult, BankTransferRequest, response_status
from vellet.wallet.database import SETTLEMENT, TRANSFER_COLUMNS
from vellet.wallet.ledger import rules as ledger_rules

log = logging.getLogger(__name__)

UNFINISHED_SQL: Final = "('pending', 'queued')"
# Statements built from the constants above (never from input).
_INSERT_SQL: Final = (
    "INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id, "  # noqa: S608
    "credit_account_id, from_user_id, to_user_id, from_account, to_account, note) "
    f"VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING {TRANSFER_COLUMNS}"
)
_QUEUE_SQL: Final = (
    "UPDATE transfers SET state = 'queued', updated_at = now(), attempted_at = now() "  # noqa: S608
    f"WHERE id = $1 AND state = 'pending' RETURNING {TRANSFER_COLUMNS}"
)


@dataclass(frozen=True)
class Opened:
    """What opening a two-phase transfer did.

    ``outcome`` is ``opened`` (the transfer is pending: ask the bank),
    ``replayed`` (the key's stored answer), ``in_flight``, ``mismatch`` or a
    refusal code (stored under the key, so a repeat gets it again).
    """

    outcome: str
    status: int = 0
    body: str | None = None
    transfer: asyncpg.Record | None = None


async def open_transfer(pool: Pool, user_id: int, key: str, req: BankTransferRequest, *,
                        transfer_id: uuid.UUID, expires_at: datetime | None,
                        grace: float) -> Opened:  # fmt: skip
    """Record a pending deposit or withdrawal (with its reservation), its bank
    request (due in ``grace`` seconds) and its in-flight idempotency key."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, $2))", key, user_id
        ):
            return Opened("in_flight", 409)
        known = await _known_key(conn, user_id, key, req.fingerprint())
        if known is not None:
            return known
        accounts = await conn.fetchrow(
            "SELECT u.account_number, "
            "(SELECT id FROM ledger_accounts WHERE user_id = u.id AND currency = $2) AS wallet, "
            "(SELECT id FROM ledger_accounts WHERE system_code = $3 AND currency = $2) "
            "AS settlement FROM users u WHERE u.id = $1",
            user_id, req.currency, SETTLEMENT,
        )  # fmt: skip
        if accounts is None or accounts["wallet"] is None or accounts["settlement"] is None:
            return await _refuse(conn, user_id, key, req, expires_at, "currency_mismatch")
        wallet, settlement = accounts["wallet"], accounts["settlement"]
        if req.kind == "withdrawal" and not await conn.fetchval(
            "UPDATE ledger_accounts SET pending = pending + $2, updated_at = now() "
            "WHERE id = $1 AND balance - pending >= $2 RETURNING 1",
            wallet, req.amount,
        ):  # fmt: skip
            return await _refuse(conn, user_id, key, req, expires_at, "insufficient_funds")
        deposit = req.kind == "deposit"
        row = await conn.fetchrow(
            _INSERT_SQL,
            transfer_id, req.kind, req.amount, req.currency,
            settlement if deposit else wallet, wallet if deposit else settlement,
            None if deposit else user_id, user_id if deposit else None,
            accounts["account_number"], req.note,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO bank_outbox (transfer_id, due_at) "
            "VALUES ($1, now() + make_interval(secs => $2))",
            transfer_id,
            grace,
        )
        await conn.execute(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, transfer_id, "
            "expires_at) VALUES ($1, $2, $3, 'in_flight', $4, $5)",
            user_id, key, req.fingerprint(), transfer_id, expires_at,
        )  # fmt: skip
        return Opened("opened", transfer=row)


async def _known_key(conn: Conn, user_id: int, key: str, fingerprint: str) -> Opened | None:
    """The rules of ``wallet_p2p_batch`` for a key seen before (same table, same lock)."""
    row = await conn.fetchrow(
        "SELECT fingerprint, state, response_status, response_body::text AS body, "
        "wallet_key_expired(state, expires_at, transfer_id) AS expired "  # 0005
        "FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        user_id,
        key,
    )
    if row is None:
        return None
    if row["expired"]:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2", user_id, key
        )
        return None
    if row["fingerprint"] != fingerprint:
        return Opened("mismatch", 422)
    if row["state"] == "in_flight":
        return Opened("in_flight", 409)
    return Opened("replayed", row["response_status"], row["body"])


async def _refuse(conn: Conn, user_id: int, key: str, req: BankTransferRequest,
                  expires_at: datetime | None, code: str) -> Opened:  # fmt: skip
    refusal = ledger_rules.REFUSALS[code]
    body = json.dumps(refusal.body(code))
    await conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, response_status, "
        "response_body, expires_at) VALUES ($1, $2, $3, 'done', $4, $5::jsonb, $6)",
        user_id, key, req.fingerprint(), refusal.status, body, expires_at,
    )  # fmt: skip
    return Opened(code, refusal.status, body)


async def stored_answer(pool: Pool, user_id: int, key: str,
                        transfer_id: uuid.UUID) -> tuple[int, str] | None:  # fmt: skip
    """The answer stored under the key that created ``transfer_id`` (None while in flight)."""
    row = await pool.fetchrow(
        "SELECT response_status, response_body::text AS body FROM idempotency_keys "
        "WHERE user_id = $1 AND key = $2 AND transfer_id = $3 AND state = 'done'",
        user_id, key, transfer_id,
    )  # fmt: skip
    return None if row is None else (row["response_status"], row["body"])


async def settle_keys(conn: Conn, rows: list[asyncpg.Record]) -> None:
    """Store each transfer's answer under the key still in flight for it, if any."""
    if not rows:
        return
    ids = [r["id"] for r in rows]
    statuses = [response_status(r["state"]) for r in rows]
    bodies = [json.dumps(wire.transfer_json(r)) for r in rows]
    await conn.execute(
        "UPDATE idempotency_keys k SET state = 'done', response_status = a.status, "
        "response_body = a.body::jsonb FROM unnest($1::uuid[], $2::int[], $3::text[]) "
        "AS a (id, status, body) WHERE k.transfer_id = a.id AND k.state = 'in_flight'",
        ids,
        statuses,
        bodies,
    )


async def mark_queued(pool: Pool, transfer_id: uuid.UUID) -> None:
    """The bank did not answer: its request is due on the stream now."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE bank_outbox SET due_at = now() WHERE transfer_id = $1",
                           transfer_id)  # fmt: skip
        row = await conn.fetchrow(
            _QUEUE_SQL,
            transfer_id,
        )
        if row is not None:
            await settle_keys(conn, [row])


@dataclass(frozen=True)
class Applied:
    """A bank outcome that finished a transfer (returned once per transfer)."""

    kind: str
    state: str
    #: Seconds from the transfer's acceptance to this outcome.
    age: float


class ResultMismatch(Exception):
    """The bank describes another movement than the transfer's: never applied."""


class UnknownTransfer(Exception):
    """A result for a transfer this wallet does not have."""


_FINISH_SQL: Final = f"""
UPDATE transfers SET
    state = CASE WHEN $2 THEN 'posted' WHEN kind = 'withdrawal' THEN 'voided' ELSE 'failed' END,
    failure_reason = $3, bank_txn_id = $4, updated_at = now(), finished_at = now()
WHERE id = $1 AND state IN {UNFINISHED_SQL} AND kind IN ('deposit', 'withdrawal')
  AND amount = $5 AND currency = $6 AND from_account = $7
  AND kind = CASE $8 WHEN 'to_wallet' THEN 'deposit' WHEN 'from_wallet' THEN 'withdrawal' END
RETURNING {TRANSFER_COLUMNS}, debit_account_id, credit_account_id,
          extract(epoch FROM clock_timestamp() - created_at)::float8 AS age
"""  # noqa: S608 - constants only


async def apply_result(pool: Pool, result: BankResult) -> Applied | None:
    """Post or void the transfer ``result`` settles; None if it was already final."""
    return await retrying(lambda: _apply_once(pool, result))


async def _apply_once(pool: Pool, result: BankResult) -> Applied | None:
    async with pool.acquire() as conn, conn.transaction():
        tid = result.transfer_id
        await conn.execute("DELETE FROM bank_outbox WHERE transfer_id = $1", tid)
        row = await conn.fetchrow(
            _FINISH_SQL, tid, result.succeeded, result.failure_reason(), result.bank_txn_id,
            result.amount, result.currency, result.account_number, result.direction,
        )  # fmt: skip
        if row is None:
            await _explain_no_change(conn, result)
            return None
        posted, amount = row["state"] == "posted", row["amount"]
        withdrawal = row["kind"] == "withdrawal"
        user_acct = row["debit_account_id"] if withdrawal else row["credit_account_id"]
        settlement = row["credit_account_id"] if withdrawal else row["debit_account_id"]
        if withdrawal:
            balance_change = -amount if posted else 0
            available = await conn.fetchval(
                "UPDATE ledger_accounts SET balance = balance + $2, pending = pending - $3, "
                "updated_at = now() WHERE id = $1 RETURNING balance - pending",
                user_acct, balance_change, amount,
            )  # fmt: skip
        elif posted:
            available = await conn.fetchval(
                "UPDATE ledger_accounts SET balance = balance + $2, updated_at = now() "
                "WHERE id = $1 RETURNING balance - pending",
                user_acct, amount,
            )  # fmt: skip
        else:
            available = await conn.fetchval(
                "SELECT balance - pending FROM ledger_accounts WHERE id = $1", user_acct
            )
        if posted:
            await conn.execute(
                "INSERT INTO entries (transfer_id, account_id, side, amount) "
                "VALUES ($1, $2, 'debit', $4), ($1, $3, 'credit', $4)",
                tid, row["debit_account_id"], row["credit_account_id"], amount,
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO outbox (event_id, transfer_id, state, available) "
            "VALUES ($1, $2, $3, $4::jsonb)",
            uuid.uuid4(), tid, row["state"], json.dumps({"owner": available}),
        )  # fmt: skip
        await settle_keys(conn, [row])
        if posted:  # the shared hot row, last
            await conn.execute(
                "UPDATE ledger_accounts SET balance = balance + $2, updated_at = now() "
                "WHERE id = $1",
                settlement, amount if withdrawal else -amount,
            )  # fmt: skip
        return Applied(row["kind"], row["state"], float(row["age"]))


async def _explain_no_change(conn: Conn, result: BankResult) -> None:
    row = await conn.fetchrow("SELECT kind, state FROM transfers WHERE id = $1",
                              result.transfer_id)  # fmt: skip
    if row is None:
        raise UnknownTransfer(f"no transfer {result.transfer_id}")
    if row["state"] in ("pending", "queued"):
        raise ResultMismatch(f"the bank's outcome does not describe transfer {result.transfer_id}")
    # Already final: this outcome was applied before (a duplicate). Nothing to do --
    # unless the bank now says otherwise, which it never should (it replays its first
    # outcome): the money stays as it is, and a human must hear about it.
    if row["state"] != result.final_state(row["kind"]):
        log.error("transfer %s is %s but the bank now reports %s", result.transfer_id,
                  row["state"], "succeeded" if result.succeeded else "rejected")  # fmt: skip
