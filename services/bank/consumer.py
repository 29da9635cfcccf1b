"""The bank's side of the request stream: execute, publish the outcome.

Each message is handled by the same :func:`execute` as the HTTP API, then
the outcome goes to the result stream, then (in :class:`Consumer`) the
message is acknowledged. A crash anywhere in between is harmless: the
redelivered message replays the stored outcome and publishes it again, and
the wallet applies results idempotently.
"""

from __future__ import annotations

from vellet.bank import domain
from vellet.bank.executor import execute
from vellet.bank.state import BankMetrics
from vellet.common import streams
from vellet.common.db import Pool
from vellet.common.settings import StreamSettings

GROUP = "bank"


def request_consumer(pool: Pool, redis: streams.Redis, name: str, settings: StreamSettings,
                     metrics: BankMetrics) -> streams.Consumer:  # fmt: skip
    async def handle(fields: streams.Fields) -> None:
        req = domain.parse_transfer_request(streams.payload_of(fields))
        outcome, replay = await execute(pool, req)
        metrics.observe(outcome, replay=replay, path="stream")
        await streams.publish(redis, streams.BANK_RESULTS, outcome.to_wire())

    return streams.Consumer(
        redis, streams.BANK_REQUESTS, GROUP, name, handle, settings, metrics.streams
    )
