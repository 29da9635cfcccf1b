"""The wallet's side of the result stream: post or void what the bank did.

The bank publishes every outcome on ``vellet:bank:results`` (whether the
request came over HTTP or from the request stream). The wallet consumes it
as group ``wallet``; any replica may get any result. Applying is a
conditional update from ``pending``/``queued``, so a result that arrives
twice, or after the direct answer already finished the transfer, changes
nothing. A result that names an unknown transfer, or describes another
movement than the transfer's own, is never applied: the handler raises, the
message is retried and finally dead-lettered to ``vellet:bank:results:dead``
for a human to look at (and counted).
"""

from __future__ import annotations

from typing import Final

from vellet.common import streams
from vellet.common.settings import StreamSettings
from vellet.wallet.banking import rules
from vellet.wallet.banking.service import BankFlow

GROUP: Final = "wallet"


def result_consumer(flow: BankFlow, redis: streams.Redis, name: str,
                    settings: StreamSettings) -> streams.Consumer:  # fmt: skip
    async def handle(fields: streams.Fields) -> None:
        result = rules.parse_bank_result(streams.payload_of(fields))
        await flow.apply(result, "stream")

    return streams.Consumer(
        redis, streams.BANK_RESULTS, GROUP, name, handle, settings, flow.metrics.streams
    )
