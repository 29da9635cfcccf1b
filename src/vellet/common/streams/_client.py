"""Talking to streams: their names, the client, appending and decoding messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from vellet.common import jsontext

log = logging.getLogger("vellet.streams")

#: Transfers the wallet wants the bank to execute.
BANK_REQUESTS: Final = "vellet:bank:requests"
#: The bank's outcomes, for the wallet to post or void.
BANK_RESULTS: Final = "vellet:bank:results"
#: Finished transfers, for the notifier.
TRANSFER_EVENTS: Final = "vellet:events:transfers"

Redis = aioredis.Redis
Fields = dict[str, str]


def dead_letter_stream(stream: str) -> str:
    return f"{stream}:dead"


def connect(url: str, *, max_connections: int = 64) -> Redis:
    """A client whose pool makes a burst wait for a connection instead of failing."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=True,
        health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)


async def publish(redis: Redis, stream: str, payload: Mapping[str, Any]) -> str:
    """Append one JSON message. Queue streams are never trimmed or expired."""
    msg_id = await redis.xadd(stream, {"payload": json.dumps(payload, sort_keys=True)})
    return str(msg_id)


async def publish_many(redis: Redis, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Append several messages in one round trip, encoded like :func:`publish`."""
    async with redis.pipeline(transaction=False) as pipe:
        for payload in payloads:
            pipe.xadd(stream, {"payload": json.dumps(payload, sort_keys=True)})
        await pipe.execute()


def payload_of(fields: Fields) -> dict[str, Any]:
    """Decode a message published by :func:`publish`; ValueError/TypeError/KeyError if malformed."""
    data = jsontext.loads(fields["payload"])  # too deep: a ValueError, dead-lettered
    if not isinstance(data, dict):
        raise TypeError("payload is not a JSON object")
    return data


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise
