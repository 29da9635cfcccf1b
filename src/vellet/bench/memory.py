"""Resident memory of service processes, sampled while a benchmark loads them.

Read from ``/proc/<pid>/status``: ``VmHWM`` is the peak resident set the
kernel saw over the process's life (so a spike between two samples still
counts), ``VmRSS`` the current one. Linux only, like the embedded servers.
"""

from __future__ import annotations

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
