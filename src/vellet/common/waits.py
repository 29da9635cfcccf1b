"""Bounded waits that never lose a cancellation.

Not ``asyncio.wait_for``: on Python 3.11 it returns the inner result when
the task is cancelled in the same loop step as the awaited thing finishes
(python/cpython#86296; fixed in 3.12, where it is built on
``asyncio.timeout``). The cancellation is then simply gone. A relay that
waits for its wake-up event that way and is cancelled just as a commit
wakes it goes on relaying, and whoever awaits it after ``task.cancel()``
(an app's ``cleanup_ctx``) waits forever. It hung a whole CI run in
teardown. ``asyncio.timeout`` counts cancellations (``Task.uncancel``),
so a cancellation from outside always propagates, timeout or not.
ruff bans ``asyncio.wait_for`` outside the tests (``pyproject.toml``).
"""

from __future__ import annotations

import asyncio


async def until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``event``; whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
