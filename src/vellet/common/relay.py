"""What both outbox relays share: wake on commit, sweep on a timer, survive outages.

A relay publishes rows that committed with a transfer (events for the
notifier, requests for the bank). Handlers wake it right after their
commit; a timer sweeps what a crash or another replica left behind. A
Redis or database outage pauses it, and is logged by type, never fatal.
Subclasses say what one ``drain`` publishes.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from redis.exceptions import RedisError

from vellet.common import waits


class Relay:
    #: Seconds to let a busy moment's commits pile up into one batch after
    #: each wake-up (0: publish at once).
    linger: float = 0.0

    def __init__(self, name: str, interval: float) -> None:
        self._log = logging.getLogger(f"vellet.wallet.{name}")
        self._name = name
        self._interval = interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Publish everything due; return how many rows were handled."""
        raise NotImplementedError

    async def run(self) -> None:
        """Relay until cancelled; outages are logged and retried, never fatal."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                self._log.warning("%s paused: %s", self._name, type(err).__name__)
            await waits.until_set(self._wake, self._interval)
            if self.linger:
                await asyncio.sleep(self.linger)
