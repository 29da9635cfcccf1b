"""Every change, numbered by resourceVersion, for watches to replay and follow.

A watch that names a ``resourceVersion`` gets exactly the events after it --
kopf lists once, then watches from the list's version, and after each
``timeoutSeconds`` reconnects from the last version it saw. kmock's own
watch re-sends every object as ADDED and can miss an event that lands
between its snapshot and its subscription; numbering every change in one
log removes both problems. ``compact()`` forgets the log as etcd compaction
does, after which older versions answer 410 Gone and clients must list again.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, TypeVar

Body = dict[str, Any]
T = TypeVar("T")


class Changes:
    """The global resourceVersion counter and the per-resource event logs."""

    def __init__(self) -> None:
        self.revision = 0
        self.compacted = 0
        self.closing = False
        self._logs: dict[Hashable, list[tuple[int, Body]]] = {}
        self._wakeup = asyncio.Event()

    def next_revision(self) -> str:
        self.revision += 1
        return str(self.revision)

    def record(self, resource: Hashable, kind: str, obj: Body) -> None:
        """Log a watch event at the current revision (the object carries it)."""
        event = {"type": kind, "object": copy.deepcopy(obj)}
        self._logs.setdefault(resource, []).append((self.revision, event))
        self.wake()

    def wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def compact(self) -> None:
        self.compacted = self.revision
        for log in self._logs.values():
            log.clear()

    def close(self) -> None:
        """End every open watch (before the server stops)."""
        self.closing = True
        self.wake()

    async def until(self, check: Callable[[], T | None], timeout: float) -> T:
        """Re-run ``check`` after every change or request until it returns something."""
        async with asyncio.timeout(timeout):
            while True:
                wakeup = self._wakeup
                found = check()
                if found is not None:
                    return found
                await wakeup.wait()

    async def follow(
        self,
        resource: Hashable,
        since: str,
        current: Callable[[], list[Body]],
        selected: Callable[[Body], bool],
        timeout: float | None,
    ) -> AsyncIterator[Body]:
        """The events of a watch: replayed after ``since``, then live until ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        if since in ("", "0"):  # no version: start with what exists now
            position = self.revision
            for obj in current():
                if selected(obj):
                    yield {"type": "ADDED", "object": obj}
        elif int(since) < self.compacted:
            yield expired(since, self.compacted)
            return
        else:
            position = int(since)
        log = self._logs.setdefault(resource, [])
        while not self.closing:
            wakeup = self._wakeup  # taken before reading the log: no change can slip by
            pending = log[bisect.bisect_right(log, position, key=lambda entry: entry[0]) :]
            for revision, event in pending:
                position = revision
                if selected(event["object"]):
                    yield copy.deepcopy(event)
            if pending:
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)


def expired(since: str, oldest: int) -> Body:
    return {
        "type": "ERROR",
        "object": {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {since} ({oldest})",
            "reason": "Expired",
            "code": 410,
        },
    }
