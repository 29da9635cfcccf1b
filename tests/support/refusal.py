"""Start a ``vellet`` service that must refuse to start, and say how it ended."""

from __future__ import annotations

import asyncio
import os
import sys


async def start_refused(*args: str, settings: dict[str, str]) -> tuple[int | None, str]:
    """Exit code and stderr of ``vellet ARGS``, which is expected to refuse to start.

    If it starts instead (it prints ``listening on``), it is stopped and the
    code is None: no clock decides, the service's own words do.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")} | settings
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vellet", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    stderr = asyncio.ensure_future(proc.stderr.read())  # drained alongside: never a full pipe
    async for line in proc.stdout:
        if b"listening on" in line:
            proc.terminate()
            await proc.wait()
            return None, (await stderr).decode()
    err = await stderr
    return await proc.wait(), err.decode()
