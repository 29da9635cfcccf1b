"""The notifier mails only events the wallet signed for the event stream.

Anyone who can XADD to ``vellet:events:transfers`` could make the notifier
mail any address a convincing "You received 5000.00 INR" (phishing in the
bank's own name). Every dressed-up event here (unsigned, signed with
another key, a genuine event altered or re-aimed at another transfer, a
wallet message for another stream) reaches a real notifier on real Redis
with a real SMTP server: no mail goes out, each is dead-lettered with its
reason and counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from tests.notifier.conftest import MailServer, Running, settled
from tests.notifier.factories import ASHA, ZOE, bank, p2p
from tests.notifier.waiting import eventually
from tests.support.forgery import dead_reasons, tricks, without, xadd_all
from tests.support.keys import TEST_KEYS
from vellet.common.streams import TRANSFER_EVENTS, Redis, message, publish

Launch = Callable[..., Awaitable[Running]]


async def test_no_forged_altered_unsigned_or_replayed_event_sends_mail(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    wallet = TEST_KEYS["wallet"]
    genuine = p2p(note="dinner")
    victim = {**ZOE, "email": "victim@example.test"}
    phishing = p2p(ASHA, victim, amount="5000.00", note="call +1 555 0100 to confirm")
    phishing["transfer_id"] = str(uuid.uuid4())
    attacks = tricks(TRANSFER_EVENTS, wallet, genuine, phishing, TEST_KEYS["bank"])
    attacks["missing a field"] = ("missing_field", message(
        wallet, TRANSFER_EVENTS, without(phishing, "parties")))  # fmt: skip
    sent = await xadd_all(redis, TRANSFER_EVENTS, attacks)
    last = bank("deposit", ZOE)
    await publish(redis, TRANSFER_EVENTS, last, wallet)  # a genuine one after them
    await eventually(lambda: settled(redis), "every event handled")

    assert [r.rcpt_tos for r in smtp.received] == [[ZOE["email"]]]  # only the genuine one
    assert await dead_reasons(redis, TRANSFER_EVENTS, set(sent)) == sent
    for reason in set(sent.values()):
        expected = sum(1 for r in sent.values() if r == reason)
        count = await running.metric(
            "vellet_stream_messages_refused_total", stream=TRANSFER_EVENTS, reason=reason
        )
        assert count == expected, reason
