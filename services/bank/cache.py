"""Account look-ups through a two-level LRU cache.

Sign-up and the wallet's checks ask "does this account exist, whose is it,
what is its e-mail" far more often than accounts change, and the same few
accounts dominate (a Zipf distribution). So a look-up tries, in order:

1. an in-process LRU (bounded entries, short TTL: no network at all);
2. a Redis key with a TTL (shared by replicas; evictable by design, since
   the instance runs ``volatile-lru`` and only keys with a TTL may go);
3. the database, whose answer (including "no such account") fills both.

Whoever changes an account invalidates its local entry and the Redis key,
and bumps the account's generation. A reader that loaded from the database
writes its answer back only if the generation is still the one it saw
before loading, so a slow reader cannot put a stale answer back after the
invalidation (the classic cache-aside race). Other replicas' local entries
expire within ``local_ttl`` seconds. Balances
are never cached. A Redis outage degrades to the database, it never fails a
look-up.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import RedisError

from vellet.bank.domain import AccountView
from vellet.bank.settings import CacheSettings
from vellet.common.streams import Redis

log = logging.getLogger("vellet.bank.cache")

Loader = Callable[[str], Awaitable[AccountView | None]]
_KEY: Final = "vellet:bank:cache:account:"
_GEN: Final = "vellet:bank:cache:gen:"
_ABSENT: Final = "null"
# SET the value only if the generation is unchanged since the reader looked.
_SET_IF_GEN = """
local gen = redis.call('GET', KEYS[2]) or '0'
if gen == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "vellet_cache_requests_total", "Cache look-ups by cache level and result.",
            ["cache", "result"], registry=registry,
        )  # fmt: skip
        # Every series exists at zero from the start, so a hit ratio over rate()
        # sees the first hit rather than taking it for the counter's birth.
        for level, results in (("lru", ("hit", "miss")), ("redis", ("hit", "miss", "error"))):
            for result in results:
                self.requests.labels(f"bank_account_{level}", result)


class AccountCache:
    def __init__(self, redis: Redis, load: Loader, settings: CacheSettings,
                 metrics: CacheMetrics) -> None:  # fmt: skip
        self._redis = redis
        self._load = load
        self._settings = settings
        self._metrics = metrics
        self._local: OrderedDict[str, tuple[float, AccountView | None]] = OrderedDict()
        self._local_gen: dict[str, int] = {}
        #: Database look-ups made (the figure the cache exists to shrink).
        self.loads = 0

    async def get(self, number: str) -> AccountView | None:
        now = time.monotonic()
        entry = self._local.get(number)
        if entry is not None and entry[0] > now:
            self._local.move_to_end(number)
            self._count("lru", "hit")
            return entry[1]
        self._count("lru", "miss")
        local_gen = self._local_gen.get(number, 0)
        found, view, gen = await self._from_redis(number)
        if not found:
            self.loads += 1
            view = await self._load(number)
            if gen is not None:
                await self._to_redis(number, view, gen)
        if self._local_gen.get(number, 0) == local_gen:
            self._remember(number, view, now)
        return view

    async def invalidate(self, number: str) -> None:
        self._local.pop(number, None)
        self._local_gen[number] = self._local_gen.get(number, 0) + 1
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(_GEN + number)
                pipe.delete(_KEY + number)
                await pipe.execute()
        except RedisError as err:
            # The key would outlive the change by at most redis_ttl: say so loudly.
            log.error("could not invalidate cached account (%s)", type(err).__name__)  # noqa: TRY400

    def _remember(self, number: str, view: AccountView | None, now: float) -> None:
        self._local[number] = (now + self._settings.local_ttl, view)
        self._local.move_to_end(number)
        while len(self._local) > self._settings.local_size:
            self._local.popitem(last=False)

    async def _from_redis(self, number: str) -> tuple[bool, AccountView | None, str | None]:
        """(found, view, generation); generation None when Redis is unusable."""
        try:
            raw, raw_gen = await self._redis.mget(_KEY + number, _GEN + number)
        except RedisError:
            self._count("redis", "error")
            return False, None, None
        gen = str(raw_gen) if raw_gen is not None else "0"
        if raw is None:
            self._count("redis", "miss")
            return False, None, gen
        self._count("redis", "hit")
        if raw == _ABSENT:
            return True, None, gen
        return True, AccountView(**json.loads(raw)), gen

    async def _to_redis(self, number: str, view: AccountView | None, gen: str) -> None:
        value = _ABSENT if view is None else json.dumps(view.to_wire())
        try:
            await self._redis.eval(
                _SET_IF_GEN, 2, _KEY + number, _GEN + number, value,
                str(self._settings.redis_ttl), gen,
            )  # fmt: skip
        except RedisError:
            self._count("redis", "error")

    def _count(self, cache: str, result: str) -> None:
        self._metrics.requests.labels(f"bank_account_{cache}", result).inc()
