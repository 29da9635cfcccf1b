"""One kept SMTP connection for many mails, and the ways a kept connection goes stale."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.notifier.conftest import MailServer, Running, settled
from tests.notifier.factories import ASHA, BO, ZOE, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish
from vellet.notifier.relay import Relay, Reply
from vellet.notifier.settings import SmtpSettings
from vellet.notifier.sink import start_sink

Launch = Callable[..., Awaitable[Running]]


async def test_many_mails_to_the_real_sink_share_one_connection(
    notifiers: Launch, redis: Redis, tmp_path: Path
) -> None:
    sink = await start_sink(tmp_path / "mail")
    try:
        smtp = SmtpSettings(host=sink.host, port=sink.smtp_port)
        running = await notifiers(smtp=smtp, senders=1)
        events = [p2p(ASHA, BO, note=f"n{i}") for i in range(15)]
        for event in events:
            await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
        await eventually(lambda: settled(redis), "events acknowledged")

        kept = mailbox.Maildir(sink.maildir, create=False)
        ids = sorted(str(kept[key]["Message-ID"]) for key in kept.keys())  # noqa: SIM118
        assert len(ids) == 30
        assert len(set(ids)) == 30  # every mail exactly once
        assert sink.connections == 1
        assert await running.metric("vellet_notifier_emails_total", result="sent") == 30
    finally:
        await sink.stop()


async def test_each_sender_keeps_its_own_connection_and_every_mail_goes_once(
    notifiers: Launch, redis: Redis, tmp_path: Path
) -> None:
    sink = await start_sink(tmp_path / "mail")
    try:
        await notifiers(smtp=SmtpSettings(host=sink.host, port=sink.smtp_port), senders=3)
        for i in range(30):
            await publish(redis, TRANSFER_EVENTS, p2p(ASHA, BO, note=f"n{i}"), TEST_KEYS["wallet"])
        await eventually(lambda: settled(redis), "events acknowledged")

        kept = mailbox.Maildir(sink.maildir, create=False)
        ids = [str(kept[key]["Message-ID"]) for key in kept.keys()]  # noqa: SIM118
        assert len(ids) == len(set(ids)) == 60
        assert sink.connections <= 3
    finally:
        await sink.stop()


async def test_a_kept_connection_the_relay_dropped_is_replaced_without_a_retry(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    await publish(redis, TRANSFER_EVENTS, p2p(ASHA, BO), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "first event acknowledged")
    for session in smtp._sessions:  # the relay hangs up on its idle client
        transport = session.transport
        assert isinstance(transport, asyncio.Transport)
        transport.abort()
    await asyncio.sleep(0.05)

    await publish(redis, TRANSFER_EVENTS, p2p(ZOE, ASHA), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "second event acknowledged")

    assert len(smtp.received) == 4
    assert len(smtp.to(ZOE["email"])) == 1
    # Replaced at MAIL FROM, before anything was sent: not an outage, no retry.
    assert await running.metric("vellet_notifier_emails_total", result="failed") == 0
    assert await running.metric("vellet_notifier_emails_total", result="retried") == 0


async def test_a_transaction_left_open_is_reset_before_the_next_mail(smtp: MailServer) -> None:
    relay = Relay(SmtpSettings(host=smtp.host, port=smtp.port, timeout_s=3))
    async with relay.session() as session:
        # A party given up between RCPT and DATA (its lease was lost).
        assert (await session.envelope("a@vellet.test", BO["email"])).reply is Reply.ACCEPTED
    async with relay.session() as session:
        assert (await session.envelope("a@vellet.test", ASHA["email"])).reply is Reply.ACCEPTED
        result = await session.data(b"Subject: hi\r\n\r\nhello\r\n")
    assert result.reply is Reply.ACCEPTED
    assert [r.rcpt_tos for r in smtp.received] == [[ASHA["email"]]]
    assert relay.connects == 1
    await relay.close()


async def test_a_kept_connection_found_closed_at_mail_from_is_replaced_once(
    smtp: MailServer,
) -> None:
    relay = Relay(SmtpSettings(host=smtp.host, port=smtp.port, timeout_s=3))
    async with relay.session() as session:
        assert (await session.envelope("a@vellet.test", BO["email"])).reply is Reply.ACCEPTED
        assert (await session.data(b"Subject: one\r\n\r\n1\r\n")).reply is Reply.ACCEPTED
    for server_side in smtp._sessions:  # hung up; the client has not noticed yet
        transport = server_side.transport
        assert isinstance(transport, asyncio.Transport)
        transport.abort()
    async with relay.session() as session:
        assert (await session.envelope("a@vellet.test", ASHA["email"])).reply is Reply.ACCEPTED
        assert (await session.data(b"Subject: two\r\n\r\n2\r\n")).reply is Reply.ACCEPTED
    assert [r.rcpt_tos for r in smtp.received] == [[BO["email"]], [ASHA["email"]]]
    assert (relay.connects, relay.replaced) == (2, 1)
    await relay.close()
