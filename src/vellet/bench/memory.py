"""Resident memory of service processes, sampled while a benchmark loads them.

Read from ``/proc/<pid>/status``: ``VmRSS`` is the resident set now, sampled
while the load runs; the goal is judged on its highest sample. ``VmHWM`` is
the peak over the process's whole life, start-up included (the wallet hashes
a dummy password with argon2 when it starts, a one-off spike of its memory
cost), and is shown beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from vellet.bench.report import Row

#: The issue's goal for every service, in MiB.
GOAL_MIB = 150.0


def status_kib(pid: int, key: str) -> int | None:
    """One ``kB`` field of ``/proc/<pid>/status``; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0])
    return None


@dataclass
class Peaks:
    """Per service name, the highest VmRSS sampled and the highest VmHWM (MiB)."""

    mib: dict[str, float] = field(default_factory=dict)
    hwm: dict[str, float] = field(default_factory=dict)

    def sample(self, name: str, pid: int | None) -> None:
        """The process, and apart from it each child it started (the wallet's
        outbox relay process): a service's container holds both."""
        if pid is None:
            return
        for child in children(pid):
            self._one(f"{name} child process", child)
        self._one(name, pid)

    def _one(self, name: str, pid: int) -> None:
        rss, hwm = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
        if rss is not None:
            self.mib[name] = max(self.mib.get(name, 0.0), rss / 1024)
        if hwm is not None:
            self.hwm[name] = max(self.hwm.get(name, 0.0), hwm / 1024)

    def sample_all(self, groups: dict[str, list[int | None]]) -> None:
        for name, pids in groups.items():
            for pid in pids:
                self.sample(name, pid)

    def describe(self) -> str:
        return ", ".join(f"{n} {m:.0f} MiB (VmHWM {self.hwm.get(n, 0):.0f})"
                         for n, m in sorted(self.mib.items())) or "-"  # fmt: skip

    def rows(self, during: str) -> list[Row]:
        return [
            Row(f"RSS {name}, {during}", f"{mib:.0f} MiB (VmHWM since start "
                f"{self.hwm.get(name, 0):.0f} MiB)", f"< {GOAL_MIB:.0f} MiB", mib < GOAL_MIB)
            for name, mib in sorted(self.mib.items())
        ]  # fmt: skip


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time the process has used so far (0 once it is gone)."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children(pid: int) -> list[int]:
    """The direct children of a process (none once it is gone)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (a PostgreSQL postmaster and its backends)."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(child) for child in children(pid))


@dataclass
class CpuShare:
    """CPU seconds each named group of processes spent between ``start`` and ``stop``."""

    used: dict[str, float] = field(default_factory=dict)
    #: Groups counted without their children (a process that started the others).
    alone: frozenset[str] = frozenset()
    _at_start: dict[str, float] = field(default_factory=dict)

    def _now(self, groups: dict[str, list[int]]) -> dict[str, float]:
        return {n: sum(map(cpu_seconds if n in self.alone else tree_cpu_seconds, pids))
                for n, pids in groups.items()}  # fmt: skip

    def start(self, groups: dict[str, list[int]]) -> None:
        self._at_start = self._now(groups)

    def stop(self, groups: dict[str, list[int]]) -> None:
        self.used = {n: s - self._at_start.get(n, 0.0) for n, s in self._now(groups).items()}

    def describe(self) -> str:
        return ", ".join(f"{n} {s:.1f} s" for n, s in sorted(self.used.items()))


@contextlib.asynccontextmanager
async def sampling(
    peaks: Peaks, groups: Callable[[], dict[str, list[int | None]]], every: float = 0.2
) -> AsyncIterator[Peaks]:
    """Sample ``groups()`` (name -> pids, asked anew each time: processes restart)
    every ``every`` seconds while the block runs, and once more at its end."""

    async def loop() -> None:
        while True:
            peaks.sample_all(groups())
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    try:
        yield peaks
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        peaks.sample_all(groups())
