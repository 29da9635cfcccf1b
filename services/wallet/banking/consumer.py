"""The wallet's side of the result stream: post or void what the bank did.

The bank publishes every outcome on ``vellet:bank:results`` (whether the
request came over HTTP or from the request stream). The wallet consumes it
as group ``wallet``; any replica may get any result. Applying is a
conditional update from ``pending``/``queued``, so a result that arrives
twice, or after the direct answer already finished the transfer, changes
nothing.

Before anything is applied (and nothing is retried that could never
succeed), a result is refused, dead-lettered to ``vellet:bank:results:dead``
with a reason and counted: unless the bank signed it for this stream (the
:class:`Consumer` verifies with the bank's public keys only), when it lacks
a field (``missing_field``; every movement field is required), and when it
describes another movement than the transfer it names, or names no transfer
of this wallet (``mismatch``: amount, account, direction and currency are
compared with the wallet's own row in the same UPDATE that settles it).

The results of one read are applied together (:meth:`BankFlow.apply_many`,
one database transaction, the same rules for each) and acknowledged with
one XACK; a mismatch is refused by itself while the rest of the batch applies.
"""

from __future__ import annotations

from typing import Final

from vellet.common import streams
from vellet.common.keys import KeySettings
from vellet.common.settings import StreamSettings
from vellet.wallet.banking import rules
from vellet.wallet.banking.service import BankFlow
from vellet.wallet.banking.store import ResultMismatch, UnknownTransfer

GROUP: Final = "wallet"


def parse_result(fields: streams.Fields) -> rules.BankResult:
    """A verified message -> the outcome it holds; Refused when it holds none."""
    try:
        return rules.parse_bank_result(streams.payload_of(fields))
    except (KeyError, rules.MissingField) as err:
        raise streams.Refused("missing_field", str(err)[:200]) from None
    except (ValueError, TypeError) as err:
        raise streams.Refused("malformed", str(err)[:200]) from None


def result_consumer(flow: BankFlow, redis: streams.Redis, name: str,
                    settings: StreamSettings, keys: KeySettings) -> streams.Consumer:  # fmt: skip
    async def handle_many(batch: list[streams.Fields]) -> list[streams.Outcome]:
        outcomes, results = streams.parse_each(batch, parse_result)
        fates = iter(await flow.apply_many(results, "stream") if results else [])
        for i, outcome in enumerate(outcomes):
            if outcome is None:
                outcomes[i] = _refusal(next(fates))
        return outcomes

    return streams.Consumer(
        redis, streams.BANK_RESULTS, GROUP, name, None, settings, flow.metrics.streams,
        trusted=keys.keys_of("bank"), batch_handler=handle_many,
    )  # fmt: skip


def _refusal(fate: object) -> streams.Refused | None:
    if isinstance(fate, ResultMismatch):
        return streams.Refused("mismatch", "describes another movement")
    if isinstance(fate, UnknownTransfer):
        return streams.Refused("mismatch", "names no transfer of this wallet")
    return None
