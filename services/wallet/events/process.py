"""The outbox relay in a child process of ``vellet wallet serve``.

Why: signing, encoding and pipelining every event costs about 0.13 ms of
CPU per transfer, a third of what the wallet spends on a P2P transfer. On
the HTTP process's one event loop that time holds every request: with the
relay in-line a 2-core machine did 15 % fewer P2P transfers per second
than with no relay running (README, "Performance"). In a child process it
runs on the other core. What it publishes, and when, does not change: the
same :class:`~vellet.wallet.events.relay.OutboxRelay` claims, signs,
publishes and deletes, in the same transactions.

How the two processes talk, and why nothing is lost when either dies:

* Wake-ups: the HTTP process writes one byte to a pipe after each commit
  (non-blocking: a full pipe already holds a wake-up). The child also sweeps
  on its timer, so a lost wake-up only delays an event.
* End of life: the child stops when the pipe's write end closes, which is
  also what happens when the HTTP process is SIGKILLed, so no orphan keeps
  relaying. The child ignores SIGINT (Ctrl-C reaches the whole process
  group; the parent decides) and stops at SIGTERM.
* A child that dies is started again after a second and logged. Its
  unfinished batch rolled back with its connection; the next relay sends it
  (at-least-once, as always: the notifier de-duplicates on ``event_id``).
* The count of published events lives in shared memory, and the HTTP
  process adds it to ``vellet_outbox_events_published_total`` when
  ``/metrics`` is scraped, so the metric is where it always was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Final

from prometheus_client import Counter

from vellet.common import logs, streams, web
from vellet.common.keys import parse_private
from vellet.wallet import database
from vellet.wallet.events.relay import OutboxRelay

log = logging.getLogger("vellet.wallet.outbox relay")

#: Seconds before a child that died is started again (it dies with a reason:
#: the log says which; a crash loop then costs one start per second).
RESTART_AFTER: Final = 1.0
#: Seconds a stopping child gets to finish its batch before SIGKILL.
STOP_GRACE: Final = 5.0
#: Seconds after a wake-up in which further ones are not written (only when
#: the relay lingers longer than this: what they would say, it will see).
COALESCE: Final = 0.01
#: The relay's own pool: one connection claims and deletes, one spare.
POOL_SIZE: Final = 2


@dataclass(frozen=True, repr=False)
class RelayConfig:
    """What the child needs, as plain values (a key object cannot be pickled).

    Handed to the child through multiprocessing's pipe, never logged:
    ``repr`` shows no URL or key.
    """

    database_url: str
    redis_url: str
    signer_pem: str
    interval: float
    linger: float

    def __repr__(self) -> str:
        return f"RelayConfig(interval={self.interval}, linger={self.linger})"


class _SharedCount:
    """``Counter.inc`` for the child: adds to the parent's shared integer."""

    def __init__(self, value: Synchronized[int]) -> None:
        self._value = value

    def inc(self, amount: float = 1) -> None:
        self._value.value += int(amount)


def _child(config: RelayConfig, wake: Connection, published: Synchronized[int]) -> None:
    """The child's entry point (spawned: a fresh interpreter, no inherited loop)."""
    logs.setup()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(asyncio.CancelledError):
        web.run(_relay_until_told(config, wake, published))


async def _relay_until_told(
    config: RelayConfig, wake: Connection, published: Synchronized[int]
) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    pool = await database.open_pool(config.database_url, POOL_SIZE)
    redis = streams.connect(config.redis_url)
    signer = parse_private(config.signer_pem, name="VELLET_WALLET_KEY")
    relay = OutboxRelay(pool, redis, config.interval, _SharedCount(published), signer,
                        config.linger)  # fmt: skip

    def readable() -> None:
        try:
            data = os.read(wake.fileno(), 4096)
        except BlockingIOError:
            return
        if data:
            relay.wake()
        else:  # every write end closed: the HTTP process stopped or died
            done.set()

    os.set_blocking(wake.fileno(), False)
    loop.add_reader(wake.fileno(), readable)
    task = asyncio.create_task(relay.run(), name="wallet-outbox-relay")
    try:
        await done.wait()
    finally:
        loop.remove_reader(wake.fileno())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()
        await pool.close()


class RelayProcess:
    """The HTTP process's handle on the child: wake it, watch it, stop it."""

    def __init__(self, config: RelayConfig, published: Counter) -> None:
        self._config = config
        self._counter = published
        self._ctx = multiprocessing.get_context("spawn")
        self._published: Synchronized[int] = self._ctx.Value("q", 0)
        self._counted = 0
        self._read, self._write = self._ctx.Pipe(duplex=False)
        os.set_blocking(self._write.fileno(), False)
        self._proc: BaseProcess | None = None
        self._stopping = False
        self._restart: asyncio.TimerHandle | None = None
        self._armed = False

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        proc: Any = self._ctx.Process(
            target=_child, args=(self._config, self._read, self._published),
            name="vellet-outbox-relay", daemon=True,
        )  # fmt: skip
        proc.start()
        self._proc = proc
        asyncio.get_running_loop().add_reader(proc.sentinel, self._exited)

    def wake(self) -> None:
        # One write per COALESCE at most: the child lingers longer than that
        # after a wake-up before it claims, so the commits in between are
        # claimed too. (A system call per transfer was 4 % of the HTTP loop.)
        # Stopped: the batcher's clean-up runs after the relay's and still
        # wakes it; those events wait in the outbox for the next relay.
        if self._armed or self._stopping:
            return
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is already waiting
            os.write(self._write.fileno(), b"\0")
        if self._config.linger > COALESCE:
            self._armed = True
            asyncio.get_running_loop().call_later(COALESCE, self._rearm)

    def _rearm(self) -> None:
        self._armed = False

    async def count(self) -> None:
        """Move what the child published since the last call into the counter
        (a ``/metrics`` refresher: it runs when Prometheus scrapes)."""
        total = self._published.value
        if total > self._counted:
            self._counter.inc(total - self._counted)
            self._counted = total

    def _exited(self) -> None:
        proc = self._proc
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(proc.sentinel)
        proc.join()
        if self._stopping:
            return
        log.warning("outbox relay process exited (code %s); starting it again", proc.exitcode)
        self._restart = loop.call_later(RESTART_AFTER, self._start_again)

    def _start_again(self) -> None:
        if not self._stopping:
            self.start()

    async def stop(self) -> None:
        """Close the pipe (the child finishes its batch and exits), then wait for it."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
        self._write.close()
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ValueError, OSError):  # already removed when it exited
            asyncio.get_running_loop().remove_reader(proc.sentinel)
        await asyncio.to_thread(proc.join, STOP_GRACE)
        if proc.is_alive():
            proc.kill()
            await asyncio.to_thread(proc.join)
        await self.count()
        self._read.close()
