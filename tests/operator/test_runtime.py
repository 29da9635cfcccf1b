"""The operator's shared bank probe and its bookkeeping of Transfers.

The probe talks to a real (closed) port; the clock is injected so the
back-off can be checked without waiting for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from vellet.common.embedded import free_port
from vellet.operator.runtime import BankProbe, Tracker
from vellet.operator.wallet_client import BankHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_a_bank_that_is_down_is_asked_less_and_less_often(
    session: aiohttp.ClientSession,
) -> None:
    clock = Clock()
    health = BankHealth(session, f"http://127.0.0.1:{free_port()}", timeout=2)
    probe = BankProbe(health, base=1, cap=4, clock=clock)
    asked_at = []
    for _ in range(40):  # 10 seconds in quarter steps, many askers per step
        for _ in range(3):
            before = probe.checks
            assert await probe.healthy() is False
            if probe.checks > before:
                asked_at.append(clock.now)
        clock.now += 0.25
    assert asked_at == [100.0, 101.0, 103.0, 107.0]  # 1, 2, then 4 (the cap) apart
    assert len(asked_at) < 40 * 3


def test_the_tracker_counts_phases_and_forgets_deleted_transfers() -> None:
    tracker = Tracker()
    tracker.seen("u1", {}, deleted=False)
    tracker.seen("u2", {"phase": "Queued", "transferId": "t2"}, deleted=False)
    tracker.mark_stuck("t2", True)
    tracker.set_swept({"t9", "t2"})
    assert tracker.owns("t2")
    assert not tracker.owns("t9")
    assert tracker.phase_counts()["Pending"] == 1
    assert tracker.phase_counts()["Queued"] == 1
    assert tracker.stuck_count() == 2  # t2 counted once, though seen twice
    tracker.seen("u2", {"phase": "Posted", "transferId": "t2"}, deleted=False)
    tracker.set_swept(set())
    assert tracker.stuck_count() == 0
    tracker.seen("u2", {"phase": "Posted", "transferId": "t2"}, deleted=True)
    assert tracker.phase_counts()["Posted"] == 0
    assert not tracker.owns("t2")
