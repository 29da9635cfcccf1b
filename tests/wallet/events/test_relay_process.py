"""The outbox relay in its own process (``VELLET_OUTBOX_RELAY_PROCESS``, the
default of ``wallet serve``): it publishes, wakes on a commit, comes back
when it dies, ends when its wallet does, and its count reaches /metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.keys import TEST_KEYS
from tests.wallet.ledger_helpers import make_user
from tests.wallet.stack import RunningWallet, start_wallet
from vellet.common import streams
from vellet.wallet.events.process import RelayProcess
from vellet.wallet.events.relay import RELAY
from vellet.wallet.state import POOL


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[streams.Redis]:
    client = streams.connect(redis_url)
    yield client
    await client.aclose()


async def _wallet(wallet_dsn: str, redis_url: str, interval: float) -> RunningWallet:
    return await start_wallet(wallet_dsn, redis_url, "http://127.0.0.1:9",
                              outbox_relay_process=True, outbox_interval=interval,
                              outbox_linger=0.0)  # fmt: skip


async def _published(internal_url: str) -> float | None:
    seen = None
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(f"{internal_url}/metrics") as resp:
                for line in (await resp.text()).splitlines():
                    if line.startswith("vellet_outbox_events_published_total "):
                        seen = float(line.split()[1])
            if seen:
                break
            await asyncio.sleep(0.05)
    return seen


def _child(running: RunningWallet) -> RelayProcess:
    child = running.app[RELAY]
    assert isinstance(child, RelayProcess)
    return child


async def _until(redis: streams.Redis, length: int, nudge: RelayProcess | None = None) -> int:
    for _ in range(200):
        if await redis.xlen(streams.TRANSFER_EVENTS) >= length:
            break
        if nudge is not None:
            nudge.wake()
        await asyncio.sleep(0.05)
    return int(await redis.xlen(streams.TRANSFER_EVENTS))


async def test_the_relay_process_publishes_signed_events_and_counts_them_on_metrics(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    running = await _wallet(wallet_dsn, redis_url, interval=0.1)
    try:
        await make_user(running.app[POOL], funds=100)  # behind the app's back: the timer's
        assert await _until(redis, 1) == 1
        [(_, fields)] = await redis.xrange(streams.TRANSFER_EVENTS)
        streams.verify(streams.TRANSFER_EVENTS, fields, (TEST_KEYS["wallet"].public(),))
        # Counted after the relay's commit, which follows its XADD: poll.
        assert await _published(running.site.internal_url) == 1.0
        assert _child(running).pid != os.getpid()
    finally:
        await running.stop()


async def test_a_commit_wakes_the_relay_process_long_before_its_timer(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    running = await _wallet(wallet_dsn, redis_url, interval=600)
    child = _child(running)
    try:
        pool = running.app[POOL]
        await make_user(pool, funds=100)
        assert await _until(redis, 1, nudge=child) == 1  # the child is up and listening
        await make_user(pool, funds=100)
        child.wake()  # what a handler does after its commit
        assert await _until(redis, 2) == 2  # the timer would take ten minutes
    finally:
        await running.stop()


async def test_a_relay_process_that_dies_is_started_again(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    running = await _wallet(wallet_dsn, redis_url, interval=0.1)
    child = _child(running)
    try:
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await make_user(running.app[POOL], funds=100)
        assert await _until(redis, 1) == 1
        assert child.pid not in (None, first)
    finally:
        await running.stop()
    assert not _alive(child.pid)


_ORPHAN = textwrap.dedent("""
    import asyncio, sys
    from prometheus_client import CollectorRegistry, Counter
    from vellet.wallet.events.process import RelayConfig, RelayProcess

    async def main():
        counter = Counter("published", "test", registry=CollectorRegistry())
        config = RelayConfig(sys.argv[1], sys.argv[2], sys.stdin.read(), 0.1, 0.0)
        child = RelayProcess(config, counter)
        child.start()
        print(child.pid, flush=True)
        await asyncio.sleep(600)  # SIGKILLed long before

    asyncio.run(main())
""")


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited already
        return stat.read().split(") ")[-1][0] != "Z"


async def test_the_relay_process_ends_when_its_wallet_is_killed(
    wallet_dsn: str, redis_url: str
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN, wallet_dsn, redis_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdin is not None
    assert parent.stdout is not None
    parent.stdin.write(TEST_KEYS["wallet"].pem())
    parent.stdin.close()
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    for _ in range(100):
        if not _alive(child):
            break
        await asyncio.sleep(0.05)
    assert not _alive(child)  # the pipe's write end closed with its parent


async def test_a_wake_up_after_the_relay_process_stopped_is_a_no_op(
    wallet_dsn: str, redis_url: str
) -> None:
    """The batcher answers its queued transfers after the relay's clean-up has
    run (clean-ups go in reverse): their handlers still wake the relay."""
    running = await _wallet(wallet_dsn, redis_url, interval=0.1)
    child = _child(running)
    await running.stop()
    child.wake()  # raised on the closed pipe: a 500 for a transfer that committed
