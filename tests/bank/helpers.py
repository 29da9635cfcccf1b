"""Small helpers the bank tests share."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from vellet.common import streams


def transfer(account: str, amount: str, direction: str = "to_wallet",
             transfer_id: str | None = None, currency: str = "INR") -> dict[str, Any]:  # fmt: skip
    return {
        "transfer_id": transfer_id or str(uuid.uuid4()),
        "account_number": account,
        "direction": direction,
        "amount": amount,
        "currency": currency,
    }


async def results_for(redis_url: str, transfer_id: str) -> list[dict[str, Any]]:
    """Every outcome the bank published for ``transfer_id`` on the result stream."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await client.xrange(streams.BANK_RESULTS)
    finally:
        await client.aclose()
    found = [json.loads(fields["payload"]) for _, fields in entries]
    return [r for r in found if r["transfer_id"] == transfer_id]


async def publish_raw(redis_url: str, stream: str, fields: dict[str, str]) -> str:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return str(await client.xadd(stream, fields))  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def db_fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def audit(dsn: str) -> list[str]:
    from vellet.bank.admin import audit as bank_audit

    return await bank_audit(dsn)
