"""The real ``vellet`` command in a child process, with only the settings a test gives."""

from __future__ import annotations

import asyncio
import os
import sys


async def run_vellet(*args: str, settings: dict[str, str]) -> tuple[int | None, str]:
    """Exit code and stdout of ``vellet ARGS``; no ``VELLET_*`` leaks in from the caller.

    A traceback on stderr fails the test: the CLI's errors are one readable line.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")} | settings
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vellet", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert b"Traceback" not in err, err.decode()
    return proc.returncode, out.decode()
