"""The streams' names (their own module, so signing and the client can share them)."""

from __future__ import annotations

from typing import Final

#: Transfers the wallet wants the bank to execute.
BANK_REQUESTS: Final = "vellet:bank:requests"
#: The bank's outcomes, for the wallet to post or void.
BANK_RESULTS: Final = "vellet:bank:results"
#: Finished transfers, for the notifier.
TRANSFER_EVENTS: Final = "vellet:events:transfers"


def dead_letter_stream(stream: str) -> str:
    return f"{stream}:dead"
