"""The bank's side of the request stream: execute, publish the outcome.

Each message is handled by the same :func:`execute` as the HTTP API, then
the outcome goes to the result stream, then (in :class:`Consumer`) the
message is acknowledged. A crash anywhere in between is harmless: the
redelivered message replays the stored outcome and publishes it again, and
the wallet applies results idempotently.

Only a request signed by the wallet for this stream is executed (the
:class:`Consumer` verifies before this handler runs); a request missing a
field, or with one the bank cannot use, is refused (dead-lettered with a
reason) instead of being retried. Results are signed with the bank's key.
"""

from __future__ import annotations

from vellet.bank import domain
from vellet.bank.executor import execute
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

    async def handle(fields: streams.Fields) -> None:
        req = parse_request(fields)
        outcome, replay = await execute(pool, req)
        metrics.observe(outcome, replay=replay, path="stream")
        await streams.publish(redis, streams.BANK_RESULTS, outcome.to_wire(), signer)

    return streams.Consumer(
        redis, streams.BANK_REQUESTS, GROUP, name, handle, settings, metrics.streams,
        trusted=keys.keys_of("wallet"),
    )  # fmt: skip
