"""Events in, the right mails out, once each, over a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import aiohttp

from tests.notifier.conftest import MailServer, Running, dead_letters, refusing, settled
from tests.notifier.factories import ASHA, BO, ZOE, bank, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.streams import TRANSFER_EVENTS, Redis, dead_letter_stream, publish
from vellet.notifier.store import DEAD_RECIPIENTS, DONE_FIELD, PREFIX, now_ms, prune

Launch = Callable[..., Awaitable[Running]]


async def test_p2p_mails_sender_and_recipient_once_each(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    event = p2p(note="dinner")
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    [to_asha] = smtp.to(ASHA["email"])
    [to_bo] = smtp.to(BO["email"])
    assert len(smtp.received) == 2
    assert to_asha.message["Subject"] == "You sent 125.50 INR to Bo Chen"
    assert to_bo.message["Subject"] == "You received 125.50 INR from Asha Rao"
    asha_text = to_asha.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    bo_text = to_bo.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "874.50 INR" in asha_text
    assert "1125.50" not in asha_text
    assert "1125.50 INR" in bo_text
    assert "874.50" not in bo_text
    for text in (asha_text, bo_text):
        assert event["transfer_id"] in text
        assert "dinner" in text
    assert to_asha.message["To"].addresses[0].addr_spec == ASHA["email"]
    assert to_asha.mail_from == "no-reply@vellet.test"
    assert await running.metric("vellet_notifier_emails_total", result="sent") == 2


async def test_bank_transfers_mail_the_owner_with_what_happened(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    await notifiers()
    events = [
        bank("deposit", ASHA, amount="500.00", balance="1500.00"),
        bank("withdrawal", BO, amount="20.00", balance="80.00"),
        bank(
            "withdrawal", ZOE, state="failed", amount="9.99", failure_reason="bank refused: closed"
        ),
    ]
    for event in events:
        await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "events acknowledged")

    assert len(smtp.received) == 3
    [deposit] = smtp.to(ASHA["email"])
    [withdrawal] = smtp.to(BO["email"])
    [failed] = smtp.to(ZOE["email"])
    assert deposit.message["Subject"] == "500.00 INR from your bank account is now in your wallet"
    assert (
        withdrawal.message["Subject"] == "20.00 INR was sent from your wallet to your bank account"
    )
    assert failed.message["Subject"] == "Your withdrawal of 9.99 INR failed"
    failed_text = failed.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "bank refused: closed" in failed_text
    assert "stays in your wallet" in failed_text
    deposit_text = deposit.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Available balance: 1500.00 INR" in deposit_text
    assert events[0]["transfer_id"] in deposit_text


async def test_the_same_event_twice_sends_nothing_twice(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    event = p2p()
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "first copy acknowledged")
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])  # the wallet re-published it
    await eventually(lambda: settled(redis), "second copy acknowledged")

    assert len(smtp.received) == 2
    assert await running.metric("vellet_notifier_emails_total", result="skipped") == 2


async def test_a_refused_recipient_is_dead_lettered_and_nobody_else_waits(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    smtp.rcpt_reply = lambda a: "550 5.1.1 no such user" if a == BO["email"] else None
    # One sender: the next event waits for no one only if the sender that met
    # the refusal goes straight on to it (with several, the mails' order is open).
    running = await notifiers(senders=1)
    event = p2p()
    later = bank("deposit", ZOE)
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await publish(redis, TRANSFER_EVENTS, later, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "both events acknowledged")

    assert [r.rcpt_tos for r in smtp.received] == [[ASHA["email"]], [ZOE["email"]]]
    assert smtp.rcpt_attempts.count(BO["email"]) == 1  # permanent: never retried
    [letter] = await dead_letters(redis)
    assert letter["event_id"] == event["event_id"]
    assert letter["party"] == f"recipient:{BO['account_number']}"
    assert letter["reason"] == "smtp_permanent"
    assert letter["detail"].startswith("550")
    assert json.loads(letter["payload"])["event_id"] == event["event_id"]  # replayable
    assert await running.metric("vellet_notifier_emails_total", result="dead_lettered") == 1
    assert await running.metric("vellet_notifier_dead_letters") == 1


async def test_a_temporary_refusal_is_retried_until_accepted(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    smtp.rcpt_reply = refusing({BO["email"]: 2}, "451 4.3.0 try again later")
    running = await notifiers()
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    assert len(smtp.to(ASHA["email"])) == 1
    assert len(smtp.to(BO["email"])) == 1
    assert smtp.rcpt_attempts.count(BO["email"]) == 3
    assert smtp.rcpt_attempts.count(ASHA["email"]) == 1  # not resent while Bo was retried
    assert await running.metric("vellet_notifier_emails_total", result="retried") == 2
    assert await redis.xlen(DEAD_RECIPIENTS) == 0


async def test_a_recipient_that_keeps_failing_temporarily_is_dead_lettered(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    smtp.rcpt_reply = lambda a: "452 4.2.2 mailbox full" if a == BO["email"] else None
    running = await notifiers()  # retry.attempts = 4
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    assert smtp.rcpt_attempts.count(BO["email"]) == 4
    assert len(smtp.to(ASHA["email"])) == 1
    [letter] = await dead_letters(redis)
    assert letter["reason"] == "smtp_temporary_exhausted"
    assert letter["detail"] == "temporary failure 4 times"
    assert await running.metric("vellet_notifier_emails_total", result="dead_lettered") == 1


async def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_when_it_is_back(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    await smtp.stop()
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await publish(redis, TRANSFER_EVENTS, bank("deposit", ZOE), TEST_KEYS["wallet"])

    async def retried_a_few_times() -> bool:
        return await running.metric("vellet_notifier_emails_total", result="retried") >= 6

    await eventually(retried_a_few_times, "retries while the relay is down")
    assert await running.metric("vellet_notifier_smtp_up") == 0
    assert not await settled(redis)  # nothing acknowledged, nothing lost
    await smtp.start()
    await eventually(lambda: settled(redis), "events acknowledged after the relay returned")

    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(
        [ASHA["email"], BO["email"], ZOE["email"]]
    )
    assert await redis.xlen(DEAD_RECIPIENTS) == 0
    assert await running.metric("vellet_notifier_smtp_up") == 1


async def test_a_malformed_event_is_dead_lettered_at_once_and_the_next_one_flows(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    broken = p2p()
    broken["amount"] = "-5"
    await publish(redis, TRANSFER_EVENTS, broken, TEST_KEYS["wallet"])
    await redis.xadd(TRANSFER_EVENTS, {"payload": "not json"})
    await publish(redis, TRANSFER_EVENTS, bank("deposit", ZOE), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "all three acknowledged")

    assert [r.rcpt_tos for r in smtp.received] == [[ZOE["email"]]]
    dead = await dead_letters(redis, dead_letter_stream(TRANSFER_EVENTS))
    assert [letter["reason"] for letter in dead] == ["malformed", "unsigned"]
    assert "amount" in dead[0]["detail"]
    assert await running.metric("vellet_notifier_events_total", outcome="malformed") == 1


async def test_an_invalid_address_dead_letters_that_party_only(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    await notifiers()
    evil = {**BO, "email": "bo@example.test\r\nBcc: eve@example.test"}
    await publish(redis, TRANSFER_EVENTS, p2p(ASHA, evil), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    assert [r.rcpt_tos for r in smtp.received] == [[ASHA["email"]]]
    [letter] = await dead_letters(redis)
    assert letter["reason"] == "invalid_address"


async def test_health_readiness_and_metrics(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    running = await notifiers()
    await smtp.stop()  # SMTP is not part of readiness by default: mail just waits
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running.site.url}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{running.site.url}/readyz") as resp:
            assert resp.status == 200
            assert sorted((await resp.json())["checks"]) == ["consumer", "redis"]
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])

    async def depth_seen() -> bool:
        return await running.metric("vellet_queue_depth", group="notifier") == 1

    await eventually(depth_seen, "queue depth 1 while the relay is down")
    await smtp.start()
    await eventually(lambda: settled(redis), "event acknowledged")
    assert await running.metric("vellet_queue_depth", group="notifier") == 0


async def test_readiness_fails_without_redis_and_with_smtp_required(
    notifiers: Launch, smtp: MailServer
) -> None:
    from vellet.common.embedded import free_port

    no_redis = await notifiers(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    await smtp.stop()
    needs_smtp = await notifiers(ready_needs_smtp=True)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{no_redis.site.url}/readyz") as resp:
            assert resp.status == 503
            assert "redis" in (await resp.json())["detail"]
        async with http.get(f"{needs_smtp.site.url}/readyz") as resp:
            assert resp.status == 503
            assert "smtp" in (await resp.json())["detail"]
        await smtp.start()
        async with http.get(f"{needs_smtp.site.url}/readyz") as resp:
            assert resp.status == 200


async def test_prune_removes_only_records_of_events_finished_long_ago(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    await notifiers()
    old, recent = p2p(), p2p()
    for event in (old, recent):
        await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "events acknowledged")
    await redis.hset(PREFIX + old["event_id"], DONE_FIELD, now_ms() - 40 * 86_400_000)
    in_progress = PREFIX + "still-sending"
    await redis.hset(in_progress, "sender:1", json.dumps({"s": "sent", "at": 0}))

    assert await prune(redis, 30 * 86_400_000) == 1
    assert not await redis.exists(PREFIX + old["event_id"])
    assert await redis.exists(PREFIX + recent["event_id"])
    assert await redis.exists(in_progress)  # never completed: never pruned
    assert await redis.ttl(PREFIX + recent["event_id"]) == -1  # no TTL: never evicted
