"""Waiting for asynchronous effects without sleeping blindly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *,
                     timeout: float = 30.0, interval: float = 0.05) -> T:  # fmt: skip
    """Poll ``probe`` until ``done(result)``; fail with the last result otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    result = await probe()
    while not done(result):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(interval)
        result = await probe()
    return result
