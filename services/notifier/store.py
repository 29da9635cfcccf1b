"""The delivery ledger in Redis: what was sent to whom, and who is sending.

One hash per event, ``vellet:notifier:deliveries:<event_id>``, one field per
party (``role:account``), holding a small JSON state::

    {"s": "retry" | "sending" | "sent" | "dead",
     "owner": "<process token>", "name": "<consumer name>", "until": <ms>,
     "attempts": <temporary failures>, "unknown": <DATA outcomes never learnt>}

Why Redis keys without a TTL: the instance runs ``volatile-lru``, which
evicts only keys that carry a TTL, so these are never evicted and never
expire; the ledger must outlive any redelivery of the event, and the wallet
may publish an event again after a crash of its own. Cost: one small
listpack hash per event (about 0.4 KB for two parties, measured), until
:func:`prune` (``vellet notifier prune``) removes rows of events finished
long ago.

Every change is a Lua script, so "look, decide, write" is one atomic step
even with several replicas:

* ``acquire`` takes a lease on each party asked for (all of an event's
  pending parties in one round trip). A lease held by another live
  process (``until`` in the future) is respected; one held by a *previous
  process with this consumer name* is taken over at once (consumer names are
  unique per running replica, so that process is dead). A party found in
  ``sending`` had a DATA command whose outcome nobody learnt: the script
  counts it in ``unknown`` before handing the party out again.
* ``update`` changes a party only while the caller still holds its lease;
  ``dead`` also appends the per-recipient dead letter in the same script.
* ``sent`` is written unconditionally: once the relay said 250 it is true.
  The same script marks the event done (``_done``) when that was its last
  party, saving the worker a round trip per event.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

from vellet.common.streams import Redis

PREFIX: Final = "vellet:notifier:deliveries:"
#: Per-recipient dead letters (a whole malformed event goes to the event
#: stream's own ``:dead`` stream instead).
DEAD_RECIPIENTS: Final = "vellet:notifier:dead"
#: Set when every party of the event is finished; only such rows are pruned.
DONE_FIELD: Final = "_done"

# ARGV: owner, name, now, lease, then the parties; returns outcome, state per party.
_ACQUIRE: Final = """
local now = tonumber(ARGV[3])
local reply = {}
for i = 5, #ARGV do
  local party = ARGV[i]
  local raw = redis.call('HGET', KEYS[1], party)
  local st
  if raw then st = cjson.decode(raw) else st = {s = 'new', attempts = 0, unknown = 0} end
  if st.s == 'sent' or st.s == 'dead' then
    table.insert(reply, 'done'); table.insert(reply, raw)
  elseif st.owner and st.owner ~= ARGV[1] and st.name ~= ARGV[2]
      and tonumber(st['until']) > now then
    table.insert(reply, 'busy'); table.insert(reply, raw)
  else
    if st.s == 'sending' then
      st.unknown = (st.unknown or 0) + 1
      st.s = 'retry'
    end
    st.owner = ARGV[1]
    st.name = ARGV[2]
    st['until'] = now + tonumber(ARGV[4])
    local out = cjson.encode(st)
    redis.call('HSET', KEYS[1], party, out)
    table.insert(reply, 'acquired'); table.insert(reply, out)
  end
end
return reply
"""

# ARGV: the party, its 'sent' state, the time, then every other party of the
# event; marks the event done too when they are all sent or dead (1), else 0.
_SENT: Final = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if not raw then return 0 end
  local s = cjson.decode(raw).s
  if s ~= 'sent' and s ~= 'dead' then return 0 end
end
redis.call('HSET', KEYS[1], '_done', ARGV[3])
return 1
"""

_UPDATE: Final = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local st = cjson.decode(raw)
if st.owner ~= ARGV[2] or st.s == 'sent' or st.s == 'dead' then return 0 end
local patch = cjson.decode(ARGV[3])
for k, v in pairs(patch) do st[k] = v end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(st))
if st.s == 'dead' then
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(ARGV[4])))
end
return 1
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class PartyState:
    """One party's row in the ledger, as acquire saw or left it."""

    outcome: str  # acquired | busy | done
    state: str  # new | retry | sending | sent | dead
    attempts: int
    unknown: int
    until: int  # lease expiry, ms since the epoch

    @classmethod
    def parse(cls, outcome: str, raw: str | None) -> PartyState:
        data: dict[str, Any] = json.loads(raw) if raw else {}
        return cls(
            outcome=outcome,
            state=str(data.get("s", "new")),
            attempts=int(data.get("attempts", 0)),
            unknown=int(data.get("unknown", 0)),
            until=int(data.get("until", 0)),
        )


class Ledger:
    """Delivery records of one notifier process (``owner`` is its token)."""

    def __init__(self, redis: Redis, owner: str, name: str, lease_ms: int) -> None:
        self.redis = redis
        self.owner = owner
        self.name = name
        self.lease_ms = lease_ms
        self._acquire = redis.register_script(_ACQUIRE)
        self._update = redis.register_script(_UPDATE)
        self._sent = redis.register_script(_SENT)
        #: The event whose last ``sent`` also marked it done (one worker
        #: handles one event at a time), so :meth:`complete` can skip its write.
        self._completed: str | None = None

    async def finished(self, event_id: str) -> set[str]:
        """Party keys already sent or dead-lettered for this event."""
        rows: Any = await self.redis.hgetall(PREFIX + event_id)
        return {
            key
            for key, raw in rows.items()
            if not key.startswith("_") and json.loads(raw).get("s") in ("sent", "dead")
        }

    async def complete(self, event_id: str) -> None:
        """Every party is sent or dead: from now on the row may be pruned."""
        if self._completed == event_id:
            self._completed = None  # the last sent() wrote it already
            return
        await self.redis.hset(PREFIX + event_id, DONE_FIELD, now_ms())

    async def acquire_all(self, event_id: str, parties: list[str]) -> dict[str, PartyState]:
        """Take the lease on each party (one round trip); what each was found in."""
        reply: Any = await self._acquire(
            keys=[PREFIX + event_id],
            args=[self.owner, self.name, now_ms(), self.lease_ms, *parties],
        )
        return {
            party: PartyState.parse(str(reply[2 * i]), reply[2 * i + 1])
            for i, party in enumerate(parties)
        }

    async def acquire(self, event_id: str, party: str) -> PartyState:
        return (await self.acquire_all(event_id, [party]))[party]

    async def _patch(
        self, event_id: str, party: str, patch: dict[str, Any], dead: Any = ()
    ) -> bool:
        reply: Any = await self._update(
            keys=[PREFIX + event_id, DEAD_RECIPIENTS],
            args=[party, self.owner, json.dumps(patch), json.dumps(list(dead))],
        )
        return bool(reply)

    async def sending(self, event_id: str, party: str) -> bool:
        """Mark DATA as under way (and renew the lease); False if the lease was lost."""
        return await self._patch(
            event_id, party, {"s": "sending", "until": now_ms() + self.lease_ms}
        )

    async def retry(self, event_id: str, party: str, attempts: int, why: str) -> bool:
        return await self._patch(event_id, party, {"s": "retry", "attempts": attempts, "why": why})

    async def renew(self, event_id: str, party: str, hold_ms: int) -> bool:
        return await self._patch(event_id, party, {"until": now_ms() + hold_ms + self.lease_ms})

    async def dead(self, event_id: str, party: str, reason: str, letter: dict[str, str]) -> bool:
        """Give up on one party and append its dead letter, atomically."""
        flat = [item for pair in letter.items() for item in pair]
        return await self._patch(
            event_id, party, {"s": "dead", "why": reason, "at": now_ms()}, flat
        )

    async def sent(self, event_id: str, party: str, others: tuple[str, ...] = ()) -> None:
        """Record the relay's 250; ``others``: the event's other parties (see :meth:`complete`)."""
        now = now_ms()
        state = json.dumps({"s": "sent", "at": now})
        done: Any = await self._sent(keys=[PREFIX + event_id], args=[party, state, now, *others])
        if done:
            self._completed = event_id


async def prune(redis: Redis, older_than_ms: int, *, batch: int = 500) -> int:
    """Delete ledger rows of events completed more than ``older_than_ms`` ago.

    The ledger has no TTL on purpose (see above), so it grows by one row per
    event until an operator prunes it. A pruned event that is published
    again would be mailed again: prune well beyond any redelivery or replay
    you expect (the default of ``vellet notifier prune`` is 30 days). Rows
    of events still in progress have no ``_done`` and are never touched.
    """
    cutoff = now_ms() - older_than_ms
    removed = 0
    async for key in redis.scan_iter(match=PREFIX + "*", count=batch):
        done: Any = await redis.hget(key, DONE_FIELD)
        if done is not None and int(done) < cutoff:
            removed += int(await redis.delete(key))
    return removed
