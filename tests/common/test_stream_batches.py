"""A Consumer with a batch handler: one call per read, each message its own fate.

Against the real Redis: accepted messages are acknowledged (together),
refused ones dead-lettered with their reason, failed ones left pending and
retried by a claim until ``max_deliveries`` dead-letters them, and a
message that fails verification never reaches the handler.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from tests.support.keys import TEST_KEYS
from vellet.common import streams
from vellet.common.settings import StreamSettings

STREAM, GROUP = streams.BANK_REQUESTS, "bank"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = streams.connect(redis_url)
    yield client
    await client.aclose()


def consumer(redis: aioredis.Redis, seen: list[list[str]]) -> streams.Consumer:
    async def handle_many(batch: list[streams.Fields]) -> list[streams.Outcome]:
        names = [streams.payload_of(f)["name"] for f in batch]
        seen.append(names)
        fates: dict[str, streams.Outcome] = {
            "refuse": streams.Refused("malformed", "test"),
            "fail": RuntimeError("transient"),
        }
        return [fates.get(name) for name in names]

    async def handle(fields: streams.Fields) -> None:
        raise AssertionError("a batch consumer never calls the single handler")

    settings = StreamSettings(block_ms=10, claim_idle_ms=1, max_deliveries=2, batch_size=10)
    return streams.Consumer(
        redis, STREAM, GROUP, "c1", handle, settings, streams.StreamMetrics(CollectorRegistry()),
        trusted=(TEST_KEYS["wallet"].public(),), batch_handler=handle_many,
    )  # fmt: skip


async def pending(redis: aioredis.Redis) -> int:
    info = await redis.xpending(STREAM, GROUP)
    return int(info["pending"])


async def dead(redis: aioredis.Redis) -> list[tuple[str, str]]:
    entries = await redis.xrange(streams.dead_letter_stream(STREAM))
    return [(json.loads(f["payload"])["name"], f["reason"]) for _, f in entries]


async def test_each_message_of_a_batch_meets_its_own_fate(redis: aioredis.Redis) -> None:
    seen: list[list[str]] = []
    c = consumer(redis, seen)
    await streams.ensure_group(redis, STREAM, GROUP)
    names = ["ok1", "refuse", "fail", "ok2"]
    await streams.publish_many(redis, STREAM, [{"name": n} for n in names], TEST_KEYS["wallet"])
    forged = streams.message(TEST_KEYS["bank"], STREAM, {"name": "forged"})  # not the wallet's
    await redis.xadd(STREAM, forged)

    assert await c.read_new() == 5
    assert seen == [names]  # one call, the forged message never in it
    # Verification comes first (before the handler), the handler's refusals after.
    assert await dead(redis) == [("forged", "unknown_key"), ("refuse", "malformed")]
    assert await pending(redis) == 1  # only the failure, retried later
    processed = c.metrics.processed.labels(STREAM, GROUP)._value.get()
    assert processed == 2

    # The failure is claimed and fails again: two deliveries, then dead-lettered.
    await asyncio.sleep(0.01)  # idle longer than claim_idle_ms
    assert await c.claim_idle() == 1
    assert seen[-1] == ["fail"]
    await asyncio.sleep(0.01)
    await c.claim_idle()
    assert (await dead(redis))[-1] == ("fail", "max_deliveries")
    assert await pending(redis) == 0


async def test_a_batch_handler_that_raises_leaves_the_whole_read_pending(
    redis: aioredis.Redis,
) -> None:
    c = consumer(redis, [])

    async def broken(batch: list[streams.Fields]) -> list[streams.Outcome]:
        raise ConnectionError("database down")

    c.batch_handler = broken
    await streams.ensure_group(redis, STREAM, GROUP)
    await streams.publish_many(redis, STREAM, [{"name": "a"}, {"name": "b"}], TEST_KEYS["wallet"])
    assert await c.read_new() == 2
    assert await pending(redis) == 2
    assert await dead(redis) == []
