"""A stream message nested deeper than the JSON decoder follows is malformed.

RecursionError is not a ValueError: such a payload used to escape the
notifier's "malformed" branch and stay pending, redelivered until the
delivery limit, instead of being dead-lettered at once with a reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.notifier.conftest import MailServer, Running, dead_letters, settled
from tests.notifier.factories import ZOE, bank
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.streams import (
    TRANSFER_EVENTS,
    Redis,
    dead_letter_stream,
    payload_of,
    publish,
    sign,
)

Launch = Callable[..., Awaitable[Running]]
DEEP = "[" * 5000
WALLET = TEST_KEYS["wallet"]


def test_payload_of_reads_too_deep_as_malformed() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        payload_of({"payload": DEEP})


async def test_a_too_deep_event_is_dead_lettered_at_once_and_the_next_one_flows(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    # Signed by the wallet's own key: only its depth is wrong.
    await redis.xadd(TRANSFER_EVENTS, sign(WALLET, TRANSFER_EVENTS, {"payload": DEEP}))
    await publish(redis, TRANSFER_EVENTS, bank("deposit", ZOE), WALLET)
    await eventually(lambda: settled(redis), "both acknowledged")

    assert [r.rcpt_tos for r in smtp.received] == [[ZOE["email"]]]
    [letter] = await dead_letters(redis, dead_letter_stream(TRANSFER_EVENTS))
    assert letter["reason"] == "malformed"
    assert "nested too deeply" in letter["detail"]
    assert await running.metric("vellet_notifier_events_total", outcome="malformed") == 1
