"""Password hashing with argon2id, off the event loop.

argon2 is memory-hard on purpose (tens of milliseconds and 64 MiB per hash
by default), so every hash runs in a worker thread: argon2-cffi releases the
GIL, and the loop keeps serving transfers meanwhile.

An unknown account is checked against a dummy hash of the same cost, so the
time a failed login takes does not tell whether the account exists.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import partial

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vellet.wallet.settings import PasswordSettings


class Passwords:
    def __init__(self, settings: PasswordSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_kib,
            parallelism=settings.parallelism,
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            None, partial(self._check, password_hash, password)
        )

    async def prepare(self) -> None:
        """Make the dummy hash now, so the first unknown account costs no extra hash."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))

    async def verify_unknown(self, password: str) -> bool:
        """Spend the time a real check would, then fail."""
        await self.prepare()
        assert self._dummy is not None
        await self.verify(self._dummy, password)
        return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other cost settings than today's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


PASSWORDS = web.AppKey("wallet_passwords", Passwords)
