"""Handling one transfer event: a mail to every party, each exactly once if at all possible.

The stream message is acknowledged (by the Consumer, when :meth:`Worker.handle`
returns) only when every party is either ``sent`` or ``dead`` in the ledger.
Until then it stays pending, so a crash anywhere re-delivers it, and the
ledger makes the re-delivery skip whoever already has their mail.

Each round takes the leases of all its parties at once (one ``acquire``
script, which also says who is finished already), then per party, in order:
MAIL FROM + RCPT TO, mark ``sending``, DATA, mark ``sent`` (the last
``sent`` also marks the event done). The send itself is shielded from task
cancellation, so a graceful stop finishes the one transaction in flight
instead of leaving it in ``sending``.

Retries, and why they differ:

* a party whose RCPT/DATA got a 4xx is retried with exponential backoff,
  inside this delivery, up to ``retry.attempts`` failures; then it is
  dead-lettered. The other parties are sent first (rounds), never held up.
* a relay that cannot be reached (or refuses our sender) is waited out with
  the same capped backoff but without a limit: it is an outage, not a
  property of the message, and burning the message's deliveries on it
  would dead-letter good mail. While waiting, the consumer reads nothing new.
* a 5xx for a recipient is final at once: dead-lettered, counted, the next
  party goes on.

A party whose lease another replica holds (it claimed the same message, or
the event was published twice) is waited for here until that replica
finishes or its lease runs out, instead of failing the message: every
failure costs a stream delivery, and a dead replica's lease must never get
a good event dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from enum import Enum

from redis.exceptions import RedisError

from vellet.common.events import TransferEvent
from vellet.common.streams import Fields, Redis, Refused, payload_of
from vellet.notifier.compose import Composer, InvalidAddress, sender_address
from vellet.notifier.domain import Event, MalformedEvent, Party, backoff_ms, parse_event
from vellet.notifier.metrics import NotifierMetrics
from vellet.notifier.relay import (
    OutcomeUnknown,
    Relay,
    RelayUnavailable,
    Reply,
    Result,
    Session,
)
from vellet.notifier.settings import NotifierSettings
from vellet.notifier.store import Ledger, PartyState, now_ms

log = logging.getLogger("vellet.notifier")


class Outcome(Enum):
    DONE = "done"  # sent, dead-lettered, or found finished
    RETRY = "retry"
    BUSY = "busy"


class Worker:
    def __init__(
        self, redis: Redis, settings: NotifierSettings, metrics: NotifierMetrics, owner: str
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.metrics = metrics
        self.ledger = Ledger(redis, owner, settings.consumer_name, settings.smtp.lease_ms)
        self.relay = Relay(settings.smtp)
        self.sender = sender_address(settings.smtp.sender)
        self.composer = Composer(self.sender)
        self._inflight: set[asyncio.Task[Result]] = set()

    def _delay(self, failures: int) -> float:
        r = self.settings.retry
        jitter = random.random()  # noqa: S311 - spreading retries, not secrecy
        return backoff_ms(failures, r.base_ms, r.max_ms, jitter) / 1000

    async def handle(self, fields: Fields) -> None:
        """The Consumer's handler: return = acknowledge; raise = keep pending.

        The Consumer has verified the wallet's signature already; an event
        that is still unusable is refused (dead-lettered whole, at once).
        """
        event = self._parse(fields)
        payload = fields["payload"]
        busy: dict[str, int] = {}  # party -> when its lease (held elsewhere) runs out
        done: set[str] = set()  # parties sent or dead-lettered, by anyone
        relay_failures = 0
        first = True
        while True:
            now = now_ms()
            wanted = [p for p in event.parties if p.key not in done and busy.get(p.key, 0) <= now]
            if not wanted:
                held = [until for key, until in busy.items() if key not in done]
                if not held:
                    break
                # Another replica holds a lease: wait for it to finish or expire
                # here, rather than fail the message and burn its deliveries.
                wait_ms = min(max(min(held) - now, 0) + 50, self.ledger.lease_ms)
                await asyncio.sleep(wait_ms / 1000)
                continue
            # Every lease this round needs, in one round trip; a lease is only
            # ever checked by owner, so holding the later ones a little longer
            # changes nothing but who may take them over.
            states = await self.ledger.acquire_all(event.event_id, [p.key for p in wanted])
            found = {key for key, state in states.items() if state.outcome == "done"}
            if first and found:
                self.metrics.count("skipped", len(found))
            first = False
            done |= found
            busy.update((k, s.until) for k, s in states.items() if s.outcome == "busy")
            pending = [p for p in wanted if states[p.key].outcome == "acquired"]
            if not pending:
                continue
            try:
                retry_after = await self._round(event, pending, states, busy, done, payload)
            except RelayUnavailable as err:
                relay_failures += 1
                self.metrics.relay_up.set(0)
                self.metrics.count("failed", len(pending))
                self.metrics.count("retried", len(pending))
                delay = self._delay(relay_failures)
                log.warning("smtp relay unavailable (%s); retrying in %.1fs", err, delay)
                await asyncio.sleep(delay)
                continue
            relay_failures = 0
            self.metrics.relay_up.set(1)
            if retry_after:
                delay = self._delay(min(retry_after.values()))
                for key in retry_after:
                    await self.ledger.renew(event.event_id, key, int(delay * 1000))
                await asyncio.sleep(delay)
        await self.ledger.complete(event.event_id)
        self.metrics.events.labels("done").inc()

    async def _round(
        self,
        event: Event,
        pending: list[Party],
        states: dict[str, PartyState],
        busy: dict[str, int],
        done: set[str],
        payload: str,
    ) -> dict[str, int]:
        """Try every acquired party once over the kept connection; return who to retry."""
        retry_after: dict[str, int] = {}
        async with self.relay.session() as session:
            for party in pending:
                outcome, number = await self._deliver(
                    session, event, party, states[party.key], payload
                )
                if outcome is Outcome.BUSY:
                    busy[party.key] = number
                elif outcome is Outcome.RETRY:
                    retry_after[party.key] = number
                else:
                    done.add(party.key)
        return retry_after

    async def _deliver(
        self, session: Session, event: Event, party: Party, state: PartyState, payload: str
    ) -> tuple[Outcome, int]:
        """MAIL FROM + RCPT TO, mark ``sending``, DATA, mark ``sent`` (lease already held)."""
        message = await self._prepare(event, party, payload, state)
        if isinstance(message, tuple):
            return message
        result = await session.envelope(self.sender.addr_spec, party.email)
        if result.reply is Reply.ACCEPTED:
            if not await self.ledger.sending(event.event_id, party.key):
                return self._lost()  # lease lost while we were slow: leave it
            result = await self._transmit(session, event, party, message)
        if result.reply is Reply.ACCEPTED:
            self.metrics.count("sent")
            return Outcome.DONE, 0
        return await self._refused(event, party, payload, state, result)

    async def _prepare(
        self, event: Event, party: Party, payload: str, state: PartyState
    ) -> bytes | tuple[Outcome, int]:
        """The message to send, or the outcome when this party gets none."""
        if state.unknown >= 2:
            # Two DATA commands whose outcome we never learnt: one of them may
            # have arrived. A third could make a second duplicate; give up.
            return await self._dead(
                event, party, payload, "outcome_unknown", "sent twice, no reply"
            )
        try:
            message = self.composer.message(event, party)
        except InvalidAddress as err:
            return await self._dead(event, party, payload, "invalid_address", str(err))
        if state.unknown == 1:
            self.metrics.count("resent")
            log.warning(
                "event %s party %s: resending after an unknown outcome (possible duplicate)",
                event.event_id,
                party.key,
            )
        return message

    def _lost(self) -> tuple[Outcome, int]:
        """Our lease ran out and someone else has the party: look again later."""
        return Outcome.BUSY, now_ms() + self.ledger.lease_ms

    async def _transmit(
        self, session: Session, event: Event, party: Party, message: bytes
    ) -> Result:
        """DATA, then the ``sent`` record: the duplicate window is inside here."""

        async def data_then_record() -> Result:
            try:
                result = await session.data(message)
            except OutcomeUnknown as err:
                # The party stays in 'sending'; its next acquire counts it.
                raise RelayUnavailable(f"no reply to DATA ({err})") from None
            if result.reply is Reply.ACCEPTED:
                await self._record_sent(event, party)
            return result

        task = asyncio.ensure_future(data_then_record())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # A stop: let the transaction in flight finish and be recorded, so
            # a graceful shutdown never leaves a party in 'sending'.
            await asyncio.wait({task}, timeout=self.settings.smtp.timeout_s * 2)
            raise

    async def _record_sent(self, event: Event, party: Party) -> None:
        # The relay said 250; only this process knows. Keep trying to write it
        # down: losing it would turn a Redis blip into a duplicate mail.
        others = tuple(p.key for p in event.parties if p.key != party.key)
        while True:
            try:
                await self.ledger.sent(event.event_id, party.key, others)
                return
            except (RedisError, OSError) as err:
                log.warning("recording a sent mail failed (%s); retrying", type(err).__name__)
                await asyncio.sleep(0.5)

    async def _refused(
        self, event: Event, party: Party, payload: str, state: PartyState, result: Result
    ) -> tuple[Outcome, int]:
        self.metrics.count("failed")
        if result.reply is Reply.PERMANENT:
            return await self._dead(event, party, payload, "smtp_permanent", result.detail)
        attempts = state.attempts + 1
        if attempts >= self.settings.retry.attempts:
            reason = f"temporary failure {attempts} times"
            return await self._dead(event, party, payload, "smtp_temporary_exhausted", reason)
        if not await self.ledger.retry(event.event_id, party.key, attempts, result.detail):
            return self._lost()
        self.metrics.count("retried")
        log.info("event %s party %s: %s; will retry", event.event_id, party.key, result.detail)
        return Outcome.RETRY, attempts

    async def _dead(
        self, event: Event, party: Party, payload: str, reason: str, detail: str
    ) -> tuple[Outcome, int]:
        letter = {
            "event_id": event.event_id,
            "transfer_id": event.transfer_id,
            "party": party.key,
            "email": party.email,
            "reason": reason,
            "detail": detail,
            "payload": payload,
        }
        if not await self.ledger.dead(event.event_id, party.key, reason, letter):
            return self._lost()
        self.metrics.count("dead_lettered")
        log.error("event %s party %s dead-lettered: %s", event.event_id, party.key, reason)
        return Outcome.DONE, 0

    def _parse(self, fields: Fields) -> Event:
        """A malformed event can never succeed: Refused, so it is dead-lettered at once."""
        try:
            data = payload_of(fields)
            missing = sorted(TransferEvent.__required_keys__ - set(data))
            if missing:
                self.metrics.events.labels("malformed").inc()
                raise Refused("missing_field", ", ".join(missing))
            return parse_event(data)
        except KeyError:
            self.metrics.events.labels("malformed").inc()
            raise Refused("missing_field", "payload") from None
        except (MalformedEvent, ValueError, TypeError) as err:
            self.metrics.events.labels("malformed").inc()
            raise Refused("malformed", str(err)[:300]) from None

    async def settle(self) -> None:
        """Wait for sends still in flight after the consumer was cancelled."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.settings.smtp.timeout_s * 2)
        await self.relay.close()
