"""One member of a consumer group: own pending first, then claims, then new entries.

Every message is verified (:func:`verify`) against the keys of the one
producer this stream may come from *before* the handler sees it. A message
that fails, or that the handler refuses (:class:`Refused`), is dead-lettered
at once with its ``reason``, counted in ``vellet_stream_messages_refused_total``
and acknowledged: it is never retried and never acted on.

A consumer with a ``batch_handler`` hands every verified message of one read
to it at once (so a service can settle a whole read in one database
transaction) and acknowledges all those it accepted with one XACK. Each
message keeps its own fate: accepted, refused (dead-lettered) or failed
(left pending, exactly as a failing ``handler`` leaves it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.exceptions import RedisError

from vellet.common import waits
from vellet.common.keys import PublicKey
from vellet.common.settings import StreamSettings
from vellet.common.streams._client import Fields, Redis, ensure_group
from vellet.common.streams._depth import StreamMetrics
from vellet.common.streams._names import dead_letter_stream
from vellet.common.streams._signing import Refused, verify

log = logging.getLogger("vellet.streams")

Handler = Callable[[Fields], Awaitable[None]]
T = TypeVar("T")
#: One message's fate in a batch: None when its effect is durable (acknowledge
#: it), :class:`Refused` to dead-letter it, any other exception to leave it
#: pending (retried after a claim, dead-lettered after ``max_deliveries``).
Outcome = Exception | None
#: Handles verified messages in the order read; one outcome per message, in order.
BatchHandler = Callable[[list[Fields]], Awaitable[list[Outcome]]]


def parse_each(batch: list[Fields], parse: Callable[[Fields], T]) -> tuple[list[Outcome], list[T]]:
    """For a batch handler: each message parsed, or its refusal in its place.

    Returns the outcomes so far (None where ``parse`` succeeded, the
    :class:`Refused` where it refused) and the parsed values, in order, for
    the handler to act on and then fill in the None places.
    """
    outcomes: list[Outcome] = []
    parsed: list[T] = []
    for fields in batch:
        try:
            parsed.append(parse(fields))
            outcomes.append(None)
        except Refused as refusal:
            outcomes.append(refusal)
    return outcomes, parsed


#: The fields a dead letter adds; a message's own fields of the same name are
#: kept under ``message_<name>`` so that a forger cannot pre-fill the reason.
_OWN = frozenset({"origin_id", "origin_stream", "group", "deliveries", "reason", "detail"})


def _read_entries(reply: Any) -> list[tuple[str, Fields]]:
    """Entries of a one-stream XREADGROUP reply, in RESP2 or RESP3 shape."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values()))[0]) if reply else []
    return list(reply[0][1])


@dataclass
class Consumer:
    """One member of a consumer group, running ``handler`` on each message."""

    redis: Redis
    stream: str
    group: str
    name: str
    #: Run on each message; None when ``batch_handler`` is given instead.
    handler: Handler | None
    settings: StreamSettings
    metrics: StreamMetrics
    #: The public keys of the one producer this stream's messages must come
    #: from (several during a rotation). Empty: every message is refused.
    trusted: tuple[PublicKey, ...] = ()
    #: When set, used instead of ``handler`` on every path (new, own pending, claimed).
    batch_handler: BatchHandler | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        if self.handler is None and self.batch_handler is None:
            raise TypeError("a Consumer needs a handler or a batch_handler")
        # Series exist at zero from the start, so rate() and increase() see the
        # first dead letter instead of taking it for the counter's birth.
        self.metrics.prepare(self.stream, self.group)

    async def run(self) -> None:
        """Consume until :meth:`stop`; Redis outages are waited out, not fatal.

        Stopping is cooperative: the message in hand is finished and the loop
        exits within one ``block_ms``. (Cancelling a task blocked in
        XREADGROUP is unreliable with redis-py, and would abandon a message
        half-handled for no reason.)
        """
        if not await self._until_ready():
            return
        await self.drain_own_pending()
        while not self._stopping.is_set():
            try:
                await self.claim_idle()
                await self.read_new()
            except (RedisError, OSError) as err:
                log.warning(
                    "%s/%s: redis unavailable (%s); retrying",
                    self.stream,
                    self.group,
                    type(err).__name__,
                )
                await self._pause(1.0)
                await self._until_ready()

    def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        await waits.until_set(self._stopping, seconds)

    async def _until_ready(self) -> bool:
        while not self._stopping.is_set():
            try:
                await ensure_group(self.redis, self.stream, self.group)
                return True
            except (RedisError, OSError):
                await self._pause(1.0)
        return False

    async def drain_own_pending(self) -> int:
        """Re-handle what this consumer name read before and never acknowledged."""
        handled, start = 0, "0"
        while not self._stopping.is_set():
            reply: Any = await self.redis.xreadgroup(
                self.group, self.name, {self.stream: start}, count=self.settings.batch_size
            )
            entries = _read_entries(reply)
            if not entries:
                return handled
            await self._deliver_all(entries, redelivered=True)
            handled += len(entries)
            start = entries[-1][0]
        return handled

    async def claim_idle(self) -> int:
        """Take over entries idle too long in any consumer (dead or stuck)."""
        claimed, start = 0, "0-0"
        while not self._stopping.is_set():
            reply: Any = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.name,
                self.settings.claim_idle_ms,
                start,
                count=self.settings.batch_size,
            )
            start, entries = reply[0], reply[1]
            live = []
            for msg_id, fields in entries:
                if fields is None:  # deleted while pending (Redis 6.2 shape)
                    await self.redis.xack(self.stream, self.group, msg_id)
                    continue
                self.metrics.claimed.labels(self.stream, self.group).inc()
                live.append((msg_id, fields))
            await self._deliver_all(live, redelivered=True)
            claimed += len(live)
            if start in ("0-0", b"0-0") or not entries:
                break
        return claimed

    async def read_new(self) -> int:
        reply: Any = await self.redis.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            count=self.settings.batch_size,
            block=self.settings.block_ms,
        )
        entries = _read_entries(reply)
        await self._deliver_all(entries, redelivered=False)
        return len(entries)

    async def run_in_background(self) -> AsyncIterator[None]:
        """For ``cleanup_ctx``: run while the app runs, stop gracefully after."""
        task = asyncio.create_task(self.run(), name=f"consumer:{self.stream}:{self.name}")
        yield
        self.stop()
        try:
            async with asyncio.timeout(self.settings.block_ms / 1000 + 10):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()

    async def _deliveries(self, msg_id: str) -> int:
        rows: Any = await self.redis.xpending_range(self.stream, self.group, msg_id, msg_id, 1)
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _deliver_all(self, entries: list[tuple[str, Fields]], *, redelivered: bool) -> None:
        if self.batch_handler is not None:
            if entries:
                await self._deliver_batch(self.batch_handler, entries, redelivered=redelivered)
            return
        # One message at a time: each is its own batch, with the same checks.
        for entry in entries:
            await self._deliver_batch(self._one, [entry], redelivered=redelivered)

    async def _one(self, batch: list[Fields]) -> list[Outcome]:
        """``handler`` as a batch handler of one message."""
        assert self.handler is not None  # __post_init__: one of the two is set
        try:
            await self.handler(batch[0])
        except Refused as refusal:
            return [refusal]
        return [None]

    async def _deliver_batch(self, handle: BatchHandler, entries: list[tuple[str, Fields]],
                             *, redelivered: bool) -> None:  # fmt: skip
        """Every message's checks (deliveries, signature), one handler call for those
        that pass, then each message's fate: acknowledged, refused or left pending."""
        ready: list[tuple[str, Fields, int]] = []
        for msg_id, fields in entries:
            deliveries = await self._deliveries(msg_id) if redelivered else 1
            if deliveries > self.settings.max_deliveries:
                await self._dead_letter(msg_id, fields, deliveries, "max_deliveries")
                continue
            try:
                verify(self.stream, fields, self.trusted)
            except Refused as refusal:
                await self._refuse(msg_id, fields, deliveries, refusal)
                continue
            ready.append((msg_id, fields, deliveries))
        if not ready:
            return
        try:
            outcomes = await handle([fields for _, fields, _ in ready])
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the whole batch stays pending
            outcomes = [err] * len(ready)
        done = []
        for (msg_id, fields, deliveries), outcome in zip(ready, outcomes, strict=True):
            if outcome is None:
                done.append(msg_id)
            elif isinstance(outcome, Refused):
                await self._refuse(msg_id, fields, deliveries, outcome)
            else:
                self._failed(msg_id, deliveries, outcome)
        if done:
            await self.redis.xack(self.stream, self.group, *done)
            self.metrics.processed.labels(self.stream, self.group).inc(len(done))

    def _failed(self, msg_id: str, deliveries: int, err: Exception) -> None:
        self.metrics.failures.labels(self.stream, self.group).inc()
        log.warning(
            "%s/%s: message %s failed (delivery %d): %s",
            self.stream,
            self.group,
            msg_id,
            deliveries,
            type(err).__name__,
        )

    async def _refuse(self, msg_id: str, fields: Fields, deliveries: int,
                      refusal: Refused) -> None:  # fmt: skip
        await self._dead_letter(msg_id, fields, deliveries, refusal.reason, refusal.detail)
        self.metrics.refused.labels(self.stream, refusal.reason).inc()
        # The detail is ours (a field name, a key id), never a message's value.
        log.error(
            "%s/%s: message %s refused (%s) and dead-lettered",
            self.stream,
            self.group,
            msg_id,
            refusal,
        )

    async def _dead_letter(self, msg_id: str, fields: Fields, deliveries: int, reason: str,
                           detail: str = "") -> None:  # fmt: skip
        dead: dict[Any, Any] = {f"message_{k}" if k in _OWN else k: v for k, v in fields.items()}
        dead.update(
            origin_id=msg_id,
            origin_stream=self.stream,
            group=self.group,
            deliveries=str(deliveries),
            reason=reason,
            detail=detail[:300],
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead_letter_stream(self.stream), dead)
            pipe.xack(self.stream, self.group, msg_id)
            await pipe.execute()
        self.metrics.dead_letters.labels(self.stream, self.group).inc()
        if reason != "max_deliveries":
            return
        log.error(
            "%s/%s: message %s dead-lettered after %d deliveries",
            self.stream,
            self.group,
            msg_id,
            deliveries,
        )
