"""Child processes we own: free ports, waiting on a port, dying with the parent, stopping."""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from vellet.common.errors import ConfigError

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_port(
    host: str, port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"{what} exited early; see {log}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise ConfigError(f"{what} did not start within {timeout:.0f}s; see {log}")


def _spawn(args: list[str], log: Path, host: str, port: int, what: str) -> subprocess.Popen[bytes]:
    """Start a server in its own session, output to ``log``; return once it listens."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no locks taken
        )
    _wait_port(host, port, proc, what, log)
    return proc


def _load_prctl() -> Any:
    # Resolved here, in the parent: a forked child must not dlopen anything
    # (another thread may have held the loader's lock at fork time).
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the process that started us dies.

    The servers run in their own session (Ctrl-C in a terminal must reach
    ``vellet up``, which stops them in order), so nothing else would end them
    if ``vellet up`` or a test run were killed: they would linger, holding
    ports and data directories. Only a call through a pointer resolved
    before the fork happens here. Linux only; elsewhere a no-op.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user walk down to ``path``.

    Only the execute (traverse) bit is added, and only where it is missing:
    nobody gains the right to list or read a parent directory.
    """
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM,
          timeout: float = 10.0) -> None:  # fmt: skip
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
