"""The bank's side of the request stream: execute, publish the outcome.

The messages of one read are executed together by :func:`execute_many` (one
database transaction, the same rules as the HTTP API's :func:`execute` for
each), then their outcomes go to the result stream in one round trip, then
(in :class:`Consumer`) the messages are acknowledged with one XACK. A crash
anywhere in between is harmless: the redelivered message replays the stored
outcome and publishes it again, and the wallet applies results idempotently.

Only a request signed by the wallet for this stream is executed (the
:class:`Consumer` verifies before this handler runs); a request missing a
field, or with one the bank cannot use, is refused (dead-lettered with a
reason) instead of being retried. Results are signed with the bank's key.
"""

from __future__ import annotations

from vellet.bank import domain
from vellet.bank.executor import execute_many
from vellet.bank.state import BankMetrics
from vellet.common import streams
from vellet.common.db import Pool
from vellet.common.errors import VelletError
from vellet.common.keys import KeySettings
from vellet.common.settings import StreamSettings

GROUP = "bank"
#: Every field of a request; one absent is refused, never defaulted.
REQUEST_FIELDS = ("transfer_id", "account_number", "direction", "amount", "currency")


def parse_request(fields: streams.Fields) -> domain.TransferRequest:
    """A verified message -> the request it holds; Refused when it holds none."""
    try:
        data = streams.payload_of(fields)
    except KeyError:
        raise streams.Refused("missing_field", "payload") from None
    except (ValueError, TypeError):
        raise streams.Refused("malformed", "payload is not a JSON object") from None
    missing = [name for name in REQUEST_FIELDS if name not in data]
    if missing:
        raise streams.Refused("missing_field", ", ".join(missing))
    try:
        return domain.parse_transfer_request(data)
    except VelletError as err:
        raise streams.Refused("malformed", err.detail) from None


def request_consumer(pool: Pool, redis: streams.Redis, name: str, settings: StreamSettings,
                     metrics: BankMetrics, keys: KeySettings) -> streams.Consumer:  # fmt: skip
    signer = keys.signer()  # a bank that cannot sign its results must not start consuming

    async def handle_many(batch: list[streams.Fields]) -> list[streams.Outcome]:
        outcomes, reqs = streams.parse_each(batch, parse_request)
        executed = iter(await execute_many(pool, reqs) if reqs else [])
        results = []
        for i, outcome in enumerate(outcomes):
            if outcome is not None:
                continue
            done = next(executed)
            if isinstance(done, Exception):
                outcomes[i] = done
                continue
            metrics.observe(done[0], replay=done[1], path="stream")
            results.append(done[0].to_wire())
        # Published before the Consumer acknowledges: a crash in between
        # replays the stored outcomes on redelivery.
        await streams.publish_many(redis, streams.BANK_RESULTS, results, signer)
        return outcomes

    return streams.Consumer(
        redis, streams.BANK_REQUESTS, GROUP, name, None, settings, metrics.streams,
        trusted=keys.keys_of("wallet"), batch_handler=handle_many,
    )  # fmt: skip
