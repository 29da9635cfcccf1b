"""Embedded servers never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.processes import alive
from tests.support.waiting import eventually

STARTER = """
import pathlib, sys, time
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis
base = pathlib.Path(sys.argv[1])
pg = EmbeddedPostgres(base / "pg", fsync=False).start()
redis = EmbeddedRedis(base / "redis", persistent=False).start()
print(pg.pid, redis.pid, flush=True)
time.sleep(120)
"""


async def test_servers_die_with_a_killed_parent(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    parent = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        assert all(alive(p) for p in pids)
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up code runs
        parent.wait()

        async def survivors() -> list[int]:
            return [p for p in pids if alive(p)]

        await eventually(survivors, lambda left: left == [], timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
