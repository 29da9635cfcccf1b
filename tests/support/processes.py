"""Whether a process a test started (or had started) still runs."""

from __future__ import annotations

import psutil


def alive(pid: int) -> bool:
    """Running: a zombie has exited already, whoever has yet to reap it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
