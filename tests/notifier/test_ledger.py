"""The delivery ledger's batched scripts keep the per-party rules (real Redis)."""

from __future__ import annotations

import json
import uuid

from vellet.common.streams import Redis
from vellet.notifier.store import DONE_FIELD, PREFIX, Ledger


def ledger(redis: Redis, owner: str = "owner-1", name: str = "n1") -> Ledger:
    return Ledger(redis, owner, name, 30_000)


async def test_one_acquire_says_for_each_party_done_busy_or_acquired(redis: Redis) -> None:
    event = str(uuid.uuid4())
    mine, other = ledger(redis), ledger(redis, "owner-2", "n2")
    assert (await other.acquire("e", "x")).outcome == "acquired"  # unrelated event
    assert (await other.acquire(event, "held")).outcome == "acquired"
    await mine.sent(event, "finished")
    await redis.hset(PREFIX + event, "crashed", json.dumps({"s": "sending", "owner": "gone",
                                                           "name": "n1", "until": 0}))  # fmt: skip
    states = await mine.acquire_all(event, ["finished", "held", "new", "crashed"])
    assert {k: s.outcome for k, s in states.items()} == {
        "finished": "done", "held": "busy", "new": "acquired", "crashed": "acquired",
    }  # fmt: skip
    assert states["held"].until > 0
    # A DATA whose outcome nobody learnt is counted before the party is handed out again.
    assert states["crashed"].unknown == 1
    assert states["crashed"].state == "retry"
    assert states["new"].state == "new"


async def test_the_last_sent_marks_the_event_done_and_complete_skips_its_write(
    redis: Redis,
) -> None:
    event = str(uuid.uuid4())
    key = PREFIX + event
    mine = ledger(redis)
    await mine.acquire_all(event, ["sender:1", "recipient:2"])
    await mine.sent(event, "sender:1", ("recipient:2",))
    assert await redis.hget(key, DONE_FIELD) is None  # the recipient is still to go
    await mine.sent(event, "recipient:2", ("sender:1",))
    assert await redis.hget(key, DONE_FIELD) is not None
    await redis.hset(key, DONE_FIELD, "marker")
    await mine.complete(event)
    assert await redis.hget(key, DONE_FIELD) == "marker"  # no second write
    await mine.complete(event)  # once only: a later complete writes again
    assert await redis.hget(key, DONE_FIELD) != "marker"


async def test_a_dead_party_counts_as_finished_for_the_last_sent(redis: Redis) -> None:
    event = str(uuid.uuid4())
    mine = ledger(redis)
    await mine.acquire_all(event, ["sender:1", "recipient:2"])
    assert await mine.dead(event, "sender:1", "smtp_permanent", {"to": "x@example.test"})
    await mine.sent(event, "recipient:2", ("sender:1",))
    assert await redis.hget(PREFIX + event, DONE_FIELD) is not None
    assert await mine.finished(event) == {"sender:1", "recipient:2"}
