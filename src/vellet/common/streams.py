"""Redis Streams as durable queues: consumer groups, claims, dead letters.

Why streams and not lists: a list pop hands a message to one consumer and
forgets it, so a consumer that dies mid-way loses it. With a consumer group
a message stays *pending* until it is acknowledged; a dead consumer's
pending messages are taken over with XAUTOCLAIM; and each message's delivery
count tells a poison message (one that fails every time) from a transient
failure. Handlers must therefore be idempotent: a message may be delivered
more than once, and is acknowledged only after its effect is durable.

One :class:`Consumer` loop:

1. on start, re-read this consumer's own pending entries (it may have died
   holding them under the same name);
2. claim entries idle longer than ``claim_idle_ms`` from anyone (XAUTOCLAIM);
3. read new entries (XREADGROUP ``>``), blocking up to ``block_ms``.

An entry delivered more than ``max_deliveries`` times is moved to
``<stream>:dead`` and acknowledged in one MULTI/EXEC, and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import RedisError, ResponseError

from vellet.common.settings import StreamSettings

log = logging.getLogger("vellet.streams")

#: Transfers the wallet wants the bank to execute.
BANK_REQUESTS: Final = "vellet:bank:requests"
#: The bank's outcomes, for the wallet to post or void.
BANK_RESULTS: Final = "vellet:bank:results"
#: Finished transfers, for the notifier.
TRANSFER_EVENTS: Final = "vellet:events:transfers"

Redis = aioredis.Redis
Fields = dict[str, str]
Handler = Callable[[Fields], Awaitable[None]]


def _read_entries(reply: Any) -> list[tuple[str, Fields]]:
    """Entries of a one-stream XREADGROUP reply, in RESP2 or RESP3 shape."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values()))[0]) if reply else []
    return list(reply[0][1])


def dead_letter_stream(stream: str) -> str:
    return f"{stream}:dead"


def connect(url: str, *, max_connections: int = 64) -> Redis:
    """A client whose pool makes a burst wait for a connection instead of failing."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=True,
        health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)


async def publish(redis: Redis, stream: str, payload: Mapping[str, Any]) -> str:
    """Append one JSON message. Queue streams are never trimmed or expired."""
    msg_id = await redis.xadd(stream, {"payload": json.dumps(payload, sort_keys=True)})
    return str(msg_id)


async def publish_many(redis: Redis, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Append several messages in one round trip, encoded like :func:`publish`."""
    async with redis.pipeline(transaction=False) as pipe:
        for payload in payloads:
            pipe.xadd(stream, {"payload": json.dumps(payload, sort_keys=True)})
        await pipe.execute()


def payload_of(fields: Fields) -> dict[str, Any]:
    """Decode a message published by :func:`publish`; ValueError/TypeError/KeyError if malformed."""
    data = json.loads(fields["payload"])
    if not isinstance(data, dict):
        raise TypeError("payload is not a JSON object")
    return data


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


class StreamMetrics:
    """Per-registry counters and gauges for every stream a service touches."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["stream", "group"]
        self.processed = Counter(
            "vellet_stream_messages_processed_total",
            "Messages handled and acknowledged.",
            labels,
            registry=registry,
        )
        self.failures = Counter(
            "vellet_stream_message_failures_total",
            "Handler failures (the message stays pending).",
            labels,
            registry=registry,
        )
        self.claimed = Counter(
            "vellet_stream_messages_claimed_total",
            "Messages taken over from idle consumers.",
            labels,
            registry=registry,
        )
        self.dead_letters = Counter(
            "vellet_stream_dead_letters_total",
            "Messages moved to the dead-letter stream.",
            labels,
            registry=registry,
        )
        self.length = Gauge(
            "vellet_stream_length", "Entries in the stream (XLEN).", ["stream"], registry=registry
        )
        self.pending = Gauge(
            "vellet_stream_pending",
            "Delivered but unacknowledged entries.",
            labels,
            registry=registry,
        )
        self.lag = Gauge(
            "vellet_stream_lag",
            "Entries not yet delivered to the group.",
            labels,
            registry=registry,
        )
        self.depth = Gauge(
            "vellet_queue_depth", "Work not yet done: lag + pending.", labels, registry=registry
        )


async def _lag(redis: Redis, stream: str, info: Mapping[str, Any]) -> int:
    lag = info.get("lag")
    if isinstance(lag, int):
        return lag
    # Redis < 7 reports no lag: count what lies beyond the last delivered id.
    # Capped so a scrape stays cheap; a depth over the cap reads as the cap.
    entries: Any = await redis.xrange(stream, min=f"({info['last-delivered-id']}", count=100_000)
    return len(entries or [])


async def refresh_depth(redis: Redis, metrics: StreamMetrics, stream: str) -> None:
    metrics.length.labels(stream).set(await redis.xlen(stream))
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # the stream does not exist yet
        return
    for info in groups:
        group = str(info["name"])
        lag = await _lag(redis, stream, info)
        pending = int(info["pending"])
        metrics.pending.labels(stream, group).set(pending)
        metrics.lag.labels(stream, group).set(lag)
        metrics.depth.labels(stream, group).set(lag + pending)


@dataclass
class Consumer:
    """One member of a consumer group, running ``handler`` on each message."""

    redis: Redis
    stream: str
    group: str
    name: str
    handler: Handler
    settings: StreamSettings
    metrics: StreamMetrics
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

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
            for msg_id, fields in entries:
                await self._deliver(msg_id, fields, redelivered=True)
                handled += 1
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
            for msg_id, fields in entries:
                if fields is None:  # deleted while pending (Redis 6.2 shape)
                    await self.redis.xack(self.stream, self.group, msg_id)
                    continue
                self.metrics.claimed.labels(self.stream, self.group).inc()
                await self._deliver(msg_id, fields, redelivered=True)
                claimed += 1
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
        for msg_id, fields in entries:
            await self._deliver(msg_id, fields, redelivered=False)
        return len(entries)

    async def run_in_background(self) -> AsyncIterator[None]:
        """For ``cleanup_ctx``: run while the app runs, stop gracefully after."""
        task = asyncio.create_task(self.run(), name=f"consumer:{self.stream}:{self.name}")
        yield
        self.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.block_ms / 1000 + 10)
        except TimeoutError:
            task.cancel()

    async def _deliveries(self, msg_id: str) -> int:
        rows: Any = await self.redis.xpending_range(self.stream, self.group, msg_id, msg_id, 1)
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _deliver(self, msg_id: str, fields: Fields, *, redelivered: bool) -> None:
        deliveries = await self._deliveries(msg_id) if redelivered else 1
        if deliveries > self.settings.max_deliveries:
            await self._dead_letter(msg_id, fields, deliveries)
            return
        try:
            await self.handler(fields)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - stays pending, retried after a claim
            self.metrics.failures.labels(self.stream, self.group).inc()
            log.warning(
                "%s/%s: message %s failed (delivery %d): %s",
                self.stream,
                self.group,
                msg_id,
                deliveries,
                type(err).__name__,
            )
            return
        await self.redis.xack(self.stream, self.group, msg_id)
        self.metrics.processed.labels(self.stream, self.group).inc()

    async def _dead_letter(self, msg_id: str, fields: Fields, deliveries: int) -> None:
        dead: dict[Any, Any] = dict(fields)
        dead.update(
            origin_id=msg_id,
            origin_stream=self.stream,
            group=self.group,
            deliveries=str(deliveries),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead_letter_stream(self.stream), dead)
            pipe.xack(self.stream, self.group, msg_id)
            await pipe.execute()
        self.metrics.dead_letters.labels(self.stream, self.group).inc()
        log.error(
            "%s/%s: message %s dead-lettered after %d deliveries",
            self.stream,
            self.group,
            msg_id,
            deliveries,
        )
