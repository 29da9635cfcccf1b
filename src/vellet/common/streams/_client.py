"""Talking to streams: the client, appending (signed) and decoding messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from vellet.common import jsontext
from vellet.common.keys import PrivateKey
from vellet.common.streams._signing import sign

log = logging.getLogger("vellet.streams")

Redis = aioredis.Redis
Fields = dict[str, str]


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


def message(key: PrivateKey, stream: str, payload: Mapping[str, Any]) -> dict[Any, Any]:
    """The fields of one message: the JSON payload, signed by ``key`` for ``stream``."""
    return sign(key, stream, {"payload": json.dumps(payload, sort_keys=True)})


async def publish(redis: Redis, stream: str, payload: Mapping[str, Any], key: PrivateKey) -> str:
    """Append one signed JSON message. Queue streams are never trimmed or expired."""
    msg_id = await redis.xadd(stream, message(key, stream, payload))
    return str(msg_id)


#: Messages per pipelined round trip in :func:`publish_many`. Signing and
#: encoding one costs ~0.1 ms of CPU that holds the event loop; 200 at once
#: held a wallet's HTTP requests for ~20 ms, which its P2P p99 showed.
CHUNK: Final = 32


async def publish_many(redis: Redis, stream: str, payloads: Sequence[Mapping[str, Any]],
                       key: PrivateKey) -> None:  # fmt: skip
    """Append several messages, signed and encoded like :func:`publish`, in pipelined
    round trips of :data:`CHUNK`: each round trip lets the event loop serve others."""
    for start in range(0, len(payloads), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in payloads[start : start + CHUNK]:
                pipe.xadd(stream, message(key, stream, payload))
            await pipe.execute()


def payload_of(fields: Fields) -> dict[str, Any]:
    """Decode a message published by :func:`publish`; ValueError/TypeError/KeyError if malformed.

    Decodes only: a consumer verifies the signature first (``Consumer`` does).
    """
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
