"""SIGKILL a real `vellet notifier serve` mid-event: once each, and the duplicate bound.

The SMTP server itself pulls the trigger, so the kill lands at an exact
point of the conversation with no hooks in the notifier's code:

* at RCPT TO of the second party: the first mail is sent and recorded, the
  event is read but not acknowledged;
* after the server stored a message and before it answered 250: the
  notifier's duplicate window (the relay has the mail, the ledger does not).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.notifier.conftest import MailServer, dead_letters, ledger_state, settled
from tests.notifier.factories import ASHA, BO, p2p
from tests.notifier.processes import Fleet
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from tests.support.metrics import scrape
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish


def killer(fleet: Fleet, times: int) -> Callable[[str], Awaitable[None]]:
    """A hook that SIGKILLs the newest notifier, ``times`` times at most."""
    left = [times]

    async def hook(_address: str) -> None:
        if left[0] > 0:
            left[0] -= 1
            await fleet.latest.kill()  # returns once the process is gone

    return hook


async def test_killed_after_reading_before_acking_each_party_gets_one_mail(
    fleet: Fleet, smtp: MailServer, redis: Redis
) -> None:
    kill = killer(fleet, times=1)

    async def on_rcpt(address: str) -> None:
        if address == BO["email"]:
            await kill(address)

    smtp.on_rcpt = on_rcpt
    await fleet.launch()
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await fleet.wait_latest_dead()
    assert [r.rcpt_tos for r in smtp.received] == [[ASHA["email"]]]
    assert not await settled(redis)  # read, not acknowledged

    restarted = await fleet.launch()  # same consumer name: drains its pending at once
    await eventually(lambda: settled(redis), "event acknowledged by the restarted notifier")

    assert len(smtp.to(ASHA["email"])) == 1
    assert len(smtp.to(BO["email"])) == 1
    assert await scrape(restarted.url, "vellet_notifier_emails_total", result="skipped") == 1
    assert await scrape(restarted.url, "vellet_notifier_emails_total", result="sent") == 1


async def test_another_replica_claims_a_dead_ones_event_and_waits_out_its_lease(
    fleet: Fleet, smtp: MailServer, redis: Redis
) -> None:
    kill = killer(fleet, times=1)

    async def on_rcpt(address: str) -> None:
        if address == BO["email"]:
            await kill(address)  # dies holding Bo's lease (SMTP timeout 0.5 s: lease 3 s)

    smtp.on_rcpt = on_rcpt
    fast = {"VELLET_STREAM_CLAIM_IDLE_MS": "300", "VELLET_SMTP_TIMEOUT": "0.5"}
    await fleet.launch(env={"VELLET_CONSUMER_NAME": "replica-a", **fast})
    event = p2p()
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await fleet.wait_latest_dead()
    lease = await ledger_state(redis, event["event_id"], f"recipient:{BO['account_number']}")
    # Held by one of replica-a's senders ("replica-a", "replica-a.1", ...).
    assert lease["name"].partition(".")[0] == "replica-a"

    other = await fleet.launch(env={"VELLET_CONSUMER_NAME": "replica-b", **fast})  # XAUTOCLAIM
    await eventually(lambda: settled(redis), "event acknowledged by the other replica")

    assert len(smtp.to(ASHA["email"])) == 1
    assert len(smtp.to(BO["email"])) == 1
    assert await scrape(other.url, "vellet_stream_messages_claimed_total") >= 1
    assert await scrape(other.url, "vellet_stream_dead_letters_total") == 0
    assert await dead_letters(redis) == []


async def test_killed_inside_the_window_sends_at_most_one_duplicate(
    fleet: Fleet, smtp: MailServer, redis: Redis
) -> None:
    kill = killer(fleet, times=1)

    async def after_store(address: str) -> None:
        if address == ASHA["email"]:
            await kill(address)  # stored, and the notifier never hears "250"

    smtp.after_store = after_store
    await fleet.launch()
    event = p2p()
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await fleet.wait_latest_dead()
    state = await ledger_state(redis, event["event_id"], f"sender:{ASHA['account_number']}")
    assert state["s"] == "sending"

    restarted = await fleet.launch()
    await eventually(lambda: settled(redis), "event acknowledged")

    to_asha = smtp.to(ASHA["email"])
    assert len(to_asha) == 2  # the one duplicate the window allows...
    assert to_asha[0].raw == to_asha[1].raw  # ...byte for byte, same Message-ID
    assert len(smtp.to(BO["email"])) == 1
    assert await scrape(restarted.url, "vellet_notifier_emails_total", result="resent") == 1
    assert await dead_letters(redis) == []


async def test_killed_inside_the_window_twice_never_sends_a_third_copy(
    fleet: Fleet, smtp: MailServer, redis: Redis
) -> None:
    kill = killer(fleet, times=2)

    async def after_store(address: str) -> None:
        if address == ASHA["email"]:
            await kill(address)

    smtp.after_store = after_store
    await fleet.launch()
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await fleet.wait_latest_dead()
    await fleet.launch(wait_ready=False)  # may well die before it is ready
    await fleet.wait_latest_dead()
    last = await fleet.launch()
    await eventually(lambda: settled(redis), "event acknowledged")

    assert len(smtp.to(ASHA["email"])) == 2  # never a third
    assert len(smtp.to(BO["email"])) == 1
    [letter] = await dead_letters(redis)
    assert letter["party"] == f"sender:{ASHA['account_number']}"
    assert letter["reason"] == "outcome_unknown"
    assert await scrape(last.url, "vellet_notifier_emails_total", result="dead_lettered") == 1


async def test_sigterm_finishes_the_mail_in_flight_without_a_duplicate(
    fleet: Fleet, smtp: MailServer, redis: Redis
) -> None:
    proc = await fleet.launch()
    assert proc.proc is not None
    stopping: list[int] = []

    async def after_store(address: str) -> None:
        if address == ASHA["email"] and not stopping and proc.proc is not None:
            proc.proc.terminate()  # SIGTERM while DATA waits for our "250"
            stopping.append(1)

    smtp.after_store = after_store
    event = p2p()
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: stopping, "SIGTERM sent mid-DATA")
    assert await proc.proc.wait() == 0  # a clean exit
    state = await ledger_state(redis, event["event_id"], f"sender:{ASHA['account_number']}")
    assert state["s"] == "sent"  # recorded on the way out, not left in 'sending'

    restarted = await fleet.launch()
    await eventually(lambda: settled(redis), "event acknowledged")
    assert len(smtp.to(ASHA["email"])) == 1
    assert len(smtp.to(BO["email"])) == 1
    assert await scrape(restarted.url, "vellet_notifier_emails_total", result="resent") == 0
