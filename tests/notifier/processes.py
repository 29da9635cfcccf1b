"""Real `vellet notifier serve` processes, killable at any moment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.notifier.waiting import eventually


class NotifierProcess:
    """A real ``vellet notifier serve`` process, killable with SIGKILL."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{env['VELLET_NOTIFIER_PORT']}"

    async def start(self) -> NotifierProcess:
        await self.spawn()
        await eventually(self._ready, f"notifier process ready (log: {self.log})", timeout=30)
        return self

    async def spawn(self) -> NotifierProcess:
        """Start the process without waiting for it to be ready."""
        exe = Path(sys.executable).parent / "vellet"
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(exe),
                "notifier",
                "serve",
                env=self.env,
                stdout=out,
                stderr=out,
                cwd=self.log.parent,  # never the repo root: its operator/ would shadow the stdlib's
            )
        return self

    async def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.returncode is not None:
            pytest.fail(
                f"notifier exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
            )
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{self.url}/readyz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, exactly like the OOM killer."""
        assert self.proc is not None
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.proc.wait()


class Fleet:
    """Notifier processes sharing one consumer name, as restarts of one pod do."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.started: list[NotifierProcess] = []

    async def launch(
        self, *, wait_ready: bool = True, env: dict[str, str] | None = None
    ) -> NotifierProcess:
        proc = NotifierProcess({**self.env, **(env or {})}, self.log)
        self.started.append(proc)  # before it is ready: it may consume while starting
        return await (proc.start() if wait_ready else proc.spawn())

    @property
    def latest(self) -> NotifierProcess:
        return self.started[-1]

    async def wait_latest_dead(self) -> None:
        await eventually(
            lambda: self.latest.proc is not None and self.latest.proc.returncode is not None,
            "the running notifier killed",
        )
