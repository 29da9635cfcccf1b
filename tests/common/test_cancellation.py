"""A cancelled background loop stops, even when it is woken in the same loop step.

On Python 3.11 ``asyncio.wait_for`` returns the awaited result when the task
is cancelled in the very step that result arrives, and the cancellation is
lost. A relay waiting for its wake-up that way, cancelled by a shutdown just
as a commit wakes it, relays on forever, and the app's ``cleanup_ctx`` waits
for it forever: a CI run hung five minutes in a test's teardown on exactly
this. These tests put the cancellation and the wake-up in one step. Each
bounded wait below detects a hang; none measures speed.
"""

from __future__ import annotations

import asyncio

import pytest

from vellet.common import waits
from vellet.common.relay import Relay

#: Far longer than any of these should take, far shorter than the suite's timeout.
HANG = 5.0


class IdleRelay(Relay):
    """A relay with nothing to publish: only its wait loop is under test."""

    def __init__(self) -> None:
        super().__init__("test-relay", interval=0.5)
        self.drains = 0

    async def drain(self) -> int:
        self.drains += 1
        return 0


async def stopped_within(task: asyncio.Task[object]) -> bool:
    done, _ = await asyncio.wait({task}, timeout=HANG)
    if not done:  # do not leave it running in the session's loop
        task.cancel()
        await asyncio.wait({task}, timeout=HANG)
    return bool(done)


async def test_a_relay_cancelled_as_it_is_woken_stops() -> None:
    relay = IdleRelay()
    task = asyncio.create_task(relay.run())
    while relay.drains == 0:  # it has drained once and now waits for a wake-up
        await asyncio.sleep(0.01)
    relay.wake()
    task.cancel()
    assert await stopped_within(task), "the relay outlived task.cancel()"
    assert task.cancelled()


async def test_a_relay_cancelled_while_waiting_stops() -> None:
    relay = IdleRelay()
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.05)
    task.cancel()
    assert await stopped_within(task)
    assert task.cancelled()


async def test_until_set_passes_on_a_cancellation_that_comes_with_the_event() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(waits.until_set(event, 10.0))
    await asyncio.sleep(0)  # now waiting
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_until_set_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await waits.until_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await waits.until_set(event, 10.0) is True
    assert await waits.until_set(event, 0) is True  # already set: no wait at all
