"""Run a kopf operator in-process, in a thread with its own event loop.

Why a thread: ``kopf.operator()`` treats every asyncio task created after it
started as one of its own, and on exit waits for them and then cancels them
(see kopf's ``run_tasks``: "the loop is not fully ours"). In the test's loop
that would include the emulator's request handlers and any server a test
starts later. In its own loop the operator sees only its tasks, exactly as in
its own process, while the handlers, the registry and the settings stay
ordinary Python objects the test can build and inspect.

The test loop keeps serving the emulator while the operator starts and
stops: both waits run in worker threads (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import kopf


class OperatorThread:
    """``kopf.operator(**kwargs)`` in a thread; stopped through its stop flag."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.ready = threading.Event()
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None
        self.killed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:
            if not (self.killed and isinstance(err, asyncio.CancelledError)):
                self.error = err
        finally:
            self.ready.set()  # never leave a waiter hanging on a thread that died

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        await kopf.operator(stop_flag=self.stop_flag, ready_flag=self.ready, **self.kwargs)

    def start(self, timeout: float) -> None:
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("the operator did not become ready")
        if self.error is not None:
            raise RuntimeError("the operator failed to start") from self.error

    def kill(self, timeout: float) -> None:
        """Cancel the operator mid-work, as close to a crash as a thread gets:
        handlers die where they are, nothing is patched on their way out."""
        assert self._loop is not None
        assert self._task is not None
        self.killed = True
        self._loop.call_soon_threadsafe(self._task.cancel)
        # kopf waits for a threading.Event stop flag in an executor thread, and
        # asyncio.run() waits for that thread: release it (after the cancel, so
        # kopf is already dying rather than stopping gracefully).
        self.stop_flag.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the operator did not die")

    def stop(self, timeout: float) -> None:
        self.stop_flag.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the operator did not stop")
        if self.error is not None:
            raise RuntimeError("the operator failed") from self.error


@contextlib.asynccontextmanager
async def running_operator(timeout: float = 10.0, **kwargs: Any) -> AsyncIterator[OperatorThread]:
    """Start the operator, yield while it runs, stop it cleanly (errors re-raised)."""
    operator = OperatorThread(**kwargs)
    await asyncio.to_thread(operator.start, timeout)
    try:
        yield operator
    finally:
        if not operator.killed:
            await asyncio.to_thread(operator.stop, timeout)
