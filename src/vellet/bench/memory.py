"""Resident memory of service processes, sampled while a benchmark loads them.

Read from ``/proc/<pid>/status``: ``VmHWM`` is the peak resident set the
kernel saw over the process's life (so a spike between two samples still
counts), ``VmRSS`` the current one. Linux only, like the embedded servers.
"""

from __future__ import annotations

import os
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
    """The highest VmHWM seen per service name (several replicas: the largest)."""

    mib: dict[str, float] = field(default_factory=dict)

    def sample(self, name: str, pid: int | None) -> None:
        if pid is None:
            return
        kib = status_kib(pid, "VmHWM") or status_kib(pid, "VmRSS")
        if kib is not None:
            self.mib[name] = max(self.mib.get(name, 0.0), kib / 1024)

    def rows(self, during: str) -> list[Row]:
        return [
            Row(f"peak RSS {name}, {during}", f"{mib:.0f} MiB", f"< {GOAL_MIB:.0f} MiB",
                mib < GOAL_MIB)
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


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (a PostgreSQL postmaster and its backends)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        total += sum(tree_cpu_seconds(int(child)) for child in children)
    return total


@dataclass
class CpuShare:
    """CPU seconds each named group of processes spent between ``start`` and ``stop``."""

    used: dict[str, float] = field(default_factory=dict)
    _at_start: dict[str, float] = field(default_factory=dict)

    def start(self, groups: dict[str, list[int]]) -> None:
        self._at_start = {n: sum(map(tree_cpu_seconds, pids)) for n, pids in groups.items()}

    def stop(self, groups: dict[str, list[int]]) -> None:
        self.used = {n: sum(map(tree_cpu_seconds, pids)) - self._at_start.get(n, 0.0)
                     for n, pids in groups.items()}  # fmt: skip

    def describe(self) -> str:
        return ", ".join(f"{n} {s:.1f} s" for n, s in sorted(self.used.items()))
