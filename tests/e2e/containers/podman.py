"""podman, asynchronously (the Kubernetes API emulator shares the test's event loop, so
nothing here may block it), and the labels every container, volume and network of a
run carries, so that a finalizer -- or the next run, after a kill -- removes them all.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "containers.conf")}
#: On everything a run makes; the value is the run's id.
RUN = "io.vellet.e2e.run"
#: The pid of the process that owns the run: a run whose owner is gone is swept.
OWNER = "io.vellet.e2e.owner"
POD = "io.vellet.e2e.pod"


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


async def podman(*args: str, timeout: float = 120) -> Done:
    proc = await asyncio.create_subprocess_exec(
        "podman", *args, env=ENV, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Done(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


async def ok(*args: str, timeout: float = 120) -> str:
    done = await podman(*args, timeout=timeout)
    if done.code != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}... failed: {done.err.strip()}")
    return done.out


def labels(run: str) -> list[str]:
    return ["--label", f"{RUN}={run}", "--label", f"{OWNER}={os.getpid()}"]


async def _ids(what: str, label: str) -> list[tuple[str, dict[str, str]]]:
    if what == "container":
        out = await ok("ps", "-a", "--filter", f"label={label}", "--format", "json")
        return [(c["Id"], c.get("Labels") or {}) for c in json.loads(out or "[]")]
    out = await ok(what, "ls", "--filter", f"label={label}", "--format", "json")
    rows: list[dict[str, Any]] = json.loads(out or "[]")
    key = "Name"
    return [
        (r.get(key) or r.get("name", ""), r.get("Labels") or r.get("labels") or {}) for r in rows
    ]


async def remove_run(run: str) -> None:
    """Every container, volume and network labelled with ``run``, removed."""
    label = f"{RUN}={run}"
    containers = [i for i, _ in await _ids("container", label)]
    if containers:
        await podman("rm", "--force", "--time", "2", *containers, timeout=180)
    for volume, _ in await _ids("volume", label):
        await podman("volume", "rm", "--force", volume)
    for network, _ in await _ids("network", label):
        await podman("network", "rm", "--force", network)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


async def sweep_orphans() -> list[str]:
    """Remove the runs whose owning process is gone (killed before its finalizer ran)."""
    runs: set[str] = set()
    for what in ("container", "volume", "network"):
        for _, found in await _ids(what, RUN):
            if not _alive(found.get(OWNER, "")):
                runs.add(found[RUN])
    for run in sorted(runs):
        await remove_run(run)
    return sorted(runs)


async def leftovers(run: str) -> list[str]:
    """What is still there of ``run`` (nothing, after ``remove_run``)."""
    label = f"{RUN}={run}"
    found = []
    for what in ("container", "volume", "network"):
        found += [f"{what} {i}" for i, _ in await _ids(what, label)]
    return found
