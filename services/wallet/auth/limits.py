"""Attempt limits in Redis, per account number and per client address.

Logins count failures (a success gives its attempt back); the two sign-up
steps count every attempt. Each has its own keys and budgets.

A fixed window per key: the first failure starts it (``SET NX EX``), each
attempt counts (``INCR``), and a success gives its attempt back. Counting
*before* the password is checked matters: a burst of concurrent guesses all
see each other's counts, so a limit of 5 means at most 5 guesses, not
5 per burst. Everything is one pipelined round trip, shared by every
replica. If Redis is down, logins fail closed (503) rather than unlimited.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Final, Protocol

from aiohttp import web
from redis.exceptions import RedisError

from vellet.common.errors import TooManyRequests, Unavailable
from vellet.common.streams import Redis

_PREFIX: Final = "vellet:wallet:login-failures"
SIGNUP_START_PREFIX: Final = "vellet:wallet:signup-starts"
SIGNUP_COMPLETE_PREFIX: Final = "vellet:wallet:signup-completions"


class Budgets(Protocol):
    """``LoginLimits`` and ``SignupLimits`` alike."""

    @property
    def per_account(self) -> int: ...
    @property
    def per_address(self) -> int: ...
    @property
    def window_seconds(self) -> int: ...


@dataclass(frozen=True)
class Attempt:
    keys: tuple[str, str]


class LoginLimiter:
    def __init__(
        self,
        redis: Redis,
        limits: Budgets,
        *,
        prefix: str = _PREFIX,
        what: str = "failed logins",
    ) -> None:
        self._redis = redis
        self._limits = limits
        self._prefix = prefix
        self._what = what

    async def attempt(self, account_number: str, address: str) -> Attempt:
        """Count one attempt; :class:`TooManyRequests` when a budget is spent."""
        keys = (f"{self._prefix}:account:{account_number}", f"{self._prefix}:address:{address}")
        window = self._limits.window_seconds
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(key, 0, ex=window, nx=True)
                    pipe.incr(key)
                    pipe.ttl(key)
                replies: list[Any] = await pipe.execute()
        except RedisError as err:
            raise Unavailable(
                "unavailable for a moment; try again shortly", code="unavailable"
            ) from err
        counts = (int(replies[1]), int(replies[4]))
        ttls = (int(replies[2]), int(replies[5]))
        limits = (self._limits.per_account, self._limits.per_address)
        over = [
            ttl for count, ttl, limit in zip(counts, ttls, limits, strict=True) if count > limit
        ]
        if over:
            raise TooManyRequests(
                f"too many {self._what}; wait before trying again", retry_after=max(1, *over)
            )
        return Attempt(keys)

    async def succeeded(self, attempt: Attempt) -> None:
        """A correct password does not count against either budget."""
        # If Redis fails here the attempt stays counted: harmless, it expires with the window.
        with contextlib.suppress(RedisError):
            await self._redis.eval(_GIVE_BACK, len(attempt.keys), *attempt.keys)


# DECR only keys that still exist: a DECR after the window expired would
# create a key without a TTL, holding a spare attempt forever.
_GIVE_BACK: Final = """
for _, key in ipairs(KEYS) do
    if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


LIMITER = web.AppKey("wallet_login_limiter", LoginLimiter)
SIGNUP_STARTS = web.AppKey("wallet_signup_start_limiter", LoginLimiter)
SIGNUP_COMPLETIONS = web.AppKey("wallet_signup_complete_limiter", LoginLimiter)
