"""A relay that refuses the message at DATA, not at RCPT TO.

A party is marked ``sent`` only after the relay answered 250 to DATA. A 4xx
there must leave the party to be retried (and delivered once); a 5xx must
dead-letter it, never record it as ``sent``. Marking it sent before DATA
would lose the first mail in silence and hide the second from the dead
letters; only the crash-window tests noticed, by accident.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.notifier.conftest import (
    MailServer,
    Running,
    dead_letters,
    ledger_state,
    refusing,
    settled,
)
from tests.notifier.factories import ASHA, BO, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.events import TransferEvent
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish

Launch = Callable[..., Awaitable[Running]]
BO_PARTY = f"recipient:{BO['account_number']}"


async def mail_a_p2p(notifiers: Launch, redis: Redis) -> tuple[Running, TransferEvent]:
    """A notifier, and a P2P event it has finished with (Asha and Bo to mail)."""
    running = await notifiers()
    event = p2p()
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")
    return running, event


async def test_a_451_at_data_is_retried_and_delivered_once(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    smtp.data_reply = refusing({BO["email"]: 2}, "451 4.3.0 try again later")
    running, event = await mail_a_p2p(notifiers, redis)

    assert smtp.data_attempts.count(BO["email"]) == 3
    assert len(smtp.to(BO["email"])) == 1
    assert len(smtp.to(ASHA["email"])) == 1
    assert (await ledger_state(redis, event["event_id"], BO_PARTY))["s"] == "sent"
    assert await dead_letters(redis) == []
    assert await running.metric("vellet_notifier_emails_total", result="retried") == 2
    assert await running.metric("vellet_notifier_emails_total", result="sent") == 2


async def test_a_5xx_at_data_is_dead_lettered_and_never_recorded_as_sent(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    smtp.data_reply = lambda a: "554 5.6.0 message refused" if a == BO["email"] else None
    running, event = await mail_a_p2p(notifiers, redis)

    assert smtp.data_attempts.count(BO["email"]) == 1  # permanent: never retried
    assert smtp.to(BO["email"]) == []
    assert len(smtp.to(ASHA["email"])) == 1
    assert (await ledger_state(redis, event["event_id"], BO_PARTY))["s"] == "dead"
    [letter] = await dead_letters(redis)
    assert (letter["party"], letter["reason"]) == (BO_PARTY, "smtp_permanent")
    assert letter["detail"].startswith("554")
    assert await running.metric("vellet_notifier_emails_total", result="sent") == 1
    assert await running.metric("vellet_notifier_emails_total", result="dead_lettered") == 1
