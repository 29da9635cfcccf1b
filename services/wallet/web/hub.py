"""One live hub per wallet replica: the transfer event stream, fanned out to sockets.

Why read the stream and not hook the local relay: with several replicas,
the relay that publishes an event (whichever claimed the outbox row) is
usually not the replica holding the recipient's socket. Every replica
therefore reads all of ``vellet:events:transfers`` (plain XREAD, no consumer
group: each replica needs every event, and nothing is acknowledged) and
hands each event to the local sockets of the accounts it names.

Logout works the same way: ``end_session`` appends the session's
fingerprint to ``vellet:live:ended``, which every hub reads in the same
XREAD, so a logout on one replica closes that session's sockets on all of
them; and it marks the fingerprint revoked (until the token would have
expired) so the logged-out token cannot open a new socket anywhere.

A hub with no socket open reads nothing: reading every event costs the
replica CPU under load (a fifth of the wallet's, at two thousand P2P
transfers a second), and events nobody here watches are dropped anyway.
When the first socket opens it starts again a few seconds back
(:data:`LOOKBACK_MS` before the newest entry), so an event that committed
while the page was loading and the socket opening still reaches it.

The stream positions survive a Redis outage (the loop retries from where it
was), so a blip delays events but loses none; a replica restart loses its
sockets, and the pages re-read everything when they reconnect.

An event reaches a page only if the wallet signed it for the event stream
(its own public key): anything else XADDed there is ignored here, and the
notifier dead-letters and counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import redis.exceptions
from aiohttp import web

from vellet.common import streams, waits
from vellet.common.keys import PublicKey
from vellet.wallet.state import REDIS, SETTINGS
from vellet.wallet.web import rules

log = logging.getLogger(__name__)

ENDED: Final = "vellet:live:ended"
_REVOKED: Final = "vellet:live:revoked:"
#: Logout notices are only useful for a session's lifetime: keep the stream short.
_ENDED_MAXLEN: Final = 10_000
#: Messages a socket may have waiting; a client that falls this far behind is
#: closed (it reconnects and re-reads) rather than holding memory.
QUEUE_MAX: Final = 64
_STREAMS: Final = (streams.TRANSFER_EVENTS, ENDED)
#: How far back an idle hub starts reading when its first socket opens: longer
#: than a page takes from rendering to its socket, and a repeat is harmless
#: (the page re-reads a region it already shows).
LOOKBACK_MS: Final = 5000


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass(eq=False)
class Subscriber:
    """One open socket: whose it is, and what it has yet to be sent."""

    account_number: str
    fingerprint: str
    queue: asyncio.Queue[str | Close] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX + 1))

    def offer(self, item: str | Close) -> None:
        if self.queue.qsize() >= QUEUE_MAX and not isinstance(item, Close):
            item = Close(rules.CLOSE_TOO_SLOW, "too far behind; reconnect")
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(item)


class LiveHub:
    def __init__(self, redis: streams.Redis, trusted: tuple[PublicKey, ...],
                 block_ms: int = 250) -> None:  # fmt: skip
        self._redis = redis
        #: The wallet's own public key(s): the only signer of transfer events.
        self._trusted = trusted
        # Short blocks: stopping waits for the read in flight rather than
        # cancelling it (a cancelled blocking read can hang the Redis client).
        self._block_ms = block_ms
        self.stopping = asyncio.Event()
        self._by_account: dict[str, set[Subscriber]] = {}
        #: Set while a socket is open here: the reader waits on it when idle.
        self._watched = asyncio.Event()

    # --- sockets ---------------------------------------------------------------

    def subscribe(self, account_number: str, fingerprint: str) -> Subscriber:
        sub = Subscriber(account_number, fingerprint)
        self._by_account.setdefault(account_number, set()).add(sub)
        self._watched.set()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._by_account.get(sub.account_number)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_account[sub.account_number]
        if not self._by_account:
            self._watched.clear()

    def close_all(self, reason: str) -> None:
        """The replica is stopping: tell every page to reconnect (to another replica or to us)."""
        for subs in self._by_account.values():
            for sub in subs:
                sub.offer(Close(rules.CLOSE_GOING_AWAY, reason))

    def open_sockets(self, account_number: str) -> int:
        return len(self._by_account.get(account_number, ()))

    # --- sessions ending ---------------------------------------------------------

    async def end_session(self, fingerprint: str, seconds_left: int) -> None:
        """Close the session's sockets here at once, and on every replica through Redis.

        With Redis down, logout still succeeds (the cookies are cleared and this
        replica's sockets close); the other replicas' sockets then close when
        the session expires, which is as long as a copied token lasts anyway.
        """
        self._close_session(fingerprint)
        try:
            if seconds_left > 0:
                await self._redis.set(_REVOKED + fingerprint, "1", ex=seconds_left)
            await self._redis.xadd(
                ENDED, {"fingerprint": fingerprint}, maxlen=_ENDED_MAXLEN, approximate=True
            )
        except (redis.exceptions.RedisError, OSError) as err:
            log.warning("live hub: could not announce a logout to other replicas (%s)", err)

    async def revoked(self, fingerprint: str) -> bool:
        return bool(await self._redis.exists(_REVOKED + fingerprint))

    def _close_session(self, fingerprint: str) -> None:
        for subs in self._by_account.values():
            for sub in subs:
                if sub.fingerprint == fingerprint:
                    sub.offer(Close(rules.CLOSE_LOGGED_OUT, "logged out"))

    # --- the reader ---------------------------------------------------------------

    async def run(self) -> None:
        positions: dict[str, str] | None = None
        while not self.stopping.is_set():
            if not self._watched.is_set():
                positions = None  # start again a little back when someone comes
                await waits.until_set(self._watched, self._block_ms / 1000)
                continue
            try:
                if positions is None:
                    positions = {s: await self._resume_at(s) for s in _STREAMS}
                answer: Any = await self._redis.xread(
                    positions,  # type: ignore[arg-type]
                    block=self._block_ms,
                    count=500,
                )
            except (redis.exceptions.RedisError, OSError) as err:
                log.warning("live hub: cannot read the event streams (%s); retrying", err)
                await waits.until_set(self.stopping, 1.0)
                continue
            for stream, entries in answer or ():
                for msg_id, fields in entries:
                    positions[stream] = msg_id
                    self._dispatch(stream, fields)

    async def _resume_at(self, stream: str) -> str:
        """A position :data:`LOOKBACK_MS` before the stream's newest entry (by its
        own clock: entry ids start with Redis's milliseconds)."""
        last = await self._redis.xrevrange(stream, count=1)
        if not last:
            return "0-0"
        millis = int(str(last[0][0]).partition("-")[0])
        return f"{max(millis - LOOKBACK_MS, 0)}-0"

    def _dispatch(self, stream: str, fields: dict[str, str]) -> None:
        if stream == ENDED:
            self._close_session(fields.get("fingerprint", ""))
            return
        # Verifying costs far more than reading (an Ed25519 check per event, a
        # third of a core at a thousand P2P transfers a second), and only an
        # event somebody here is watching needs it: the payload is read first,
        # untrusted, merely to find whether it names a socket of this replica.
        if not self._by_account:
            return
        try:
            event = streams.payload_of(fields)
            watched = [n for n in rules.audience(event) if n in self._by_account]
        except (ValueError, TypeError, KeyError):
            return  # not ours to judge: the notifier dead-letters and counts it
        if not watched:
            return
        try:
            streams.verify(stream, fields, self._trusted)
        except streams.Refused:
            return
        message = rules.live_message(event)
        if message is None:
            return
        for number in watched:
            for sub in self._by_account.get(number, ()):
                sub.offer(message)


async def going_away(app: web.Application) -> None:
    """``on_shutdown``: open sockets would otherwise hold the shutdown for its whole timeout."""
    if HUB in app:
        app[HUB].close_all("the wallet is restarting")


async def running(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the hub reads while the app serves."""
    live_hub = app[HUB] = LiveHub(app[REDIS], (app[SETTINGS].keys.signer().public(),))
    task = asyncio.create_task(live_hub.run(), name="wallet-live-hub")
    yield
    live_hub.stopping.set()
    try:
        async with asyncio.timeout(5.0):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


HUB = web.AppKey("wallet_live_hub", LiveHub)
