"""Queue depth as metrics: length, pending and lag per stream and group (XINFO)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import ResponseError

from vellet.common.streams._client import Redis
from vellet.common.streams._names import dead_letter_stream
from vellet.common.streams._signing import REASONS


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
        self.refused = Counter(
            "vellet_stream_messages_refused_total",
            "Messages refused before any effect (unsigned, forged, altered, replayed onto "
            "another stream, missing a field, contradicting the transfer) and dead-lettered.",
            ["stream", "reason"],
            registry=registry,
        )
        self.length = Gauge(
            "vellet_stream_length",
            "Entries in the stream (XLEN), dead-letter streams (<stream>:dead) included.",
            ["stream"],
            registry=registry,
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

    def prepare(self, stream: str, group: str) -> None:
        for counter in (self.processed, self.failures, self.claimed, self.dead_letters):
            counter.labels(stream, group)
        for reason in REASONS:
            self.refused.labels(stream, reason)


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
    # Dead letters wait for a person: their stream's length is what an alert watches.
    dead = dead_letter_stream(stream)
    metrics.length.labels(dead).set(await redis.xlen(dead))
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
