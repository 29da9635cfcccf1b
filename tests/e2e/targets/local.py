"""The local target: `vellet up` as a newcomer runs it (embedded PostgreSQL and Redis,
one process), one demo user signed up and three accounts left for the scenarios.

It runs no operator and no Kubernetes API, and every component lives in one process,
so the scenarios that stop the bank, restart Redis or use kubectl skip here, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from tests.e2e.targets.base import Target
from vellet.common.embedded import free_port

PORTS = ("BANK", "WALLET", "NOTIFIER", "SINK_SMTP", "SINK_HTTP", "PROMETHEUS")


@contextlib.asynccontextmanager
async def running(tmp: Path) -> AsyncIterator[Target]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    ports = {name: free_port() for name in PORTS}
    env.update({f"VELLET_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(VELLET_HOME=str(tmp), VELLET_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vellet", "up", "--accounts", "1", "--unregistered", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await _until_ready(proc)
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        yield Target(
            name="local (vellet up)",
            wallet=url["WALLET"],
            ingress=None,
            sink=url["SINK_HTTP"],
            components={"wallet": url["WALLET"], "bank": url["BANK"], "notifier": url["NOTIFIER"]},
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _until_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    seen = []
    while True:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 180)
        if not line:
            raise AssertionError("vellet up exited before it was ready:\n" + "".join(seen))
        seen.append(line)
        if line.strip() == "vellet: ready":
            # Keep reading its output so it never blocks on a full pipe.
            asyncio.get_running_loop().run_in_executor(None, proc.stdout.read)
            return
