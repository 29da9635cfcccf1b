"""The outbox relay in its own process (``VELLET_OUTBOX_RELAY_PROCESS``, the
default of ``wallet serve``): it publishes, wakes on a commit, comes back
when it dies, ends when its wallet does, and its count reaches /metrics."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator

import pytest

from tests.support.keys import TEST_KEYS
from tests.support.metrics import scrape
from tests.support.processes import alive
from tests.support.waiting import eventually
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


@contextlib.asynccontextmanager
async def _wallet(
    wallet_dsn: str, redis_url: str, interval: float
) -> AsyncIterator[tuple[RunningWallet, RelayProcess]]:
    """A wallet whose relay runs in a process; the wallet and that process's handle."""
    running = await start_wallet(wallet_dsn, redis_url, "http://127.0.0.1:9",
                                 outbox_relay_process=True, outbox_interval=interval,
                                 outbox_linger=0.0)  # fmt: skip
    child = running.app[RELAY]
    assert isinstance(child, RelayProcess)
    try:
        yield running, child
    finally:
        await running.stop()


async def _events(redis: streams.Redis, length: int, nudge: RelayProcess | None = None) -> int:
    """How many events are on the stream once ``length`` are (waking ``nudge`` meanwhile)."""

    async def count() -> int:
        if nudge is not None:
            nudge.wake()
        return int(await redis.xlen(streams.TRANSFER_EVENTS))

    return await eventually(count, lambda n: n >= length, timeout=10)


async def test_the_relay_process_publishes_signed_events_and_counts_them_on_metrics(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    async with _wallet(wallet_dsn, redis_url, interval=0.1) as (running, child):
        await make_user(running.app[POOL], funds=100)  # behind the app's back: the timer's
        assert await _events(redis, 1) == 1
        [(_, fields)] = await redis.xrange(streams.TRANSFER_EVENTS)
        streams.verify(streams.TRANSFER_EVENTS, fields, (TEST_KEYS["wallet"].public(),))
        # Counted after the relay's commit, which follows its XADD: poll.
        published = await eventually(
            lambda: scrape(running.site.internal_url, "vellet_outbox_events_published_total"),
            lambda value: value > 0, timeout=5,
        )  # fmt: skip
        assert published == 1.0
        assert child.pid != os.getpid()


async def test_a_commit_wakes_the_relay_process_long_before_its_timer(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    async with _wallet(wallet_dsn, redis_url, interval=600) as (running, child):
        pool = running.app[POOL]
        await make_user(pool, funds=100)
        assert await _events(redis, 1, nudge=child) == 1  # the child is up and listening
        await make_user(pool, funds=100)
        child.wake()  # what a handler does after its commit
        assert await _events(redis, 2) == 2  # the timer would take ten minutes


async def test_a_relay_process_that_dies_is_started_again(
    wallet_dsn: str, redis_url: str, redis: streams.Redis
) -> None:
    async with _wallet(wallet_dsn, redis_url, interval=0.1) as (running, child):
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await make_user(running.app[POOL], funds=100)
        assert await _events(redis, 1) == 1
        assert child.pid not in (None, first)
    assert child.pid is not None
    assert not alive(child.pid)


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


async def _still(pid: int) -> bool:
    return alive(pid)


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
    assert alive(child)
    parent.kill()
    parent.wait()
    # The pipe's write end closed with its parent:
    assert await eventually(lambda: _still(child), lambda running: not running, timeout=5) is False


async def test_a_wake_up_after_the_relay_process_stopped_is_a_no_op(
    wallet_dsn: str, redis_url: str
) -> None:
    """The batcher answers its queued transfers after the relay's clean-up has
    run (clean-ups go in reverse): their handlers still wake the relay."""
    async with _wallet(wallet_dsn, redis_url, interval=0.1) as (_, child):
        pass
    child.wake()  # raised on the closed pipe: a 500 for a transfer that committed
