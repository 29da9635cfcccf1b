"""Publishing many signed messages shares the event loop with everything else."""

from __future__ import annotations

import asyncio

from tests.support.keys import TEST_KEYS
from vellet.common import streams
from vellet.common.streams._client import CHUNK


async def test_publishing_a_big_batch_lets_other_tasks_run_between_chunks(
    redis_url: str,
) -> None:
    """Signing ~0.1 ms a message: one pipeline of hundreds held a wallet's HTTP
    requests for tens of milliseconds. Each chunk's round trip yields instead."""
    redis = streams.connect(redis_url)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    payloads = [{"n": n} for n in range(10 * CHUNK)]
    try:
        await redis.ping()
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        start = ticks
        await streams.publish_many(redis, "vellet:test:publish", payloads, TEST_KEYS["wallet"])
        during = ticks - start
        done.set()
        await task
        assert await redis.xlen("vellet:test:publish") == len(payloads)
        assert during >= 10, f"other tasks ran {during} times during the publish"
    finally:
        await redis.delete("vellet:test:publish")
        await redis.aclose()
