"""Vellet's image, built by the project's own script and run with podman as the chart runs it.

Every container runs as uid 10001 with a read-only root file system, a tmpfs
``/tmp``, no capabilities and no privilege escalation -- the chart's security
context -- on the host's network, so it reaches the test's own PostgreSQL,
Redis and Kubernetes API emulator on loopback.
"""

from __future__ import annotations

import functools
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("VELLET_TEST_IMAGE", "localhost/vellet:dev")
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "containers.conf")}
LOCKED_DOWN = (
    "--user", "10001:10001",
    "--read-only",
    "--tmpfs", "/tmp:rw,size=64m,mode=1777",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--network", "host",
)  # fmt: skip


@functools.cache
def built_image() -> str:
    """Build (cached layers make a rebuild quick) and return the image name."""
    subprocess.run(
        [str(ROOT / "deploy" / "build-image.sh"), "--quiet"],
        env={**ENV, "IMAGE": IMAGE},
        check=True,
        timeout=900,
        stdout=subprocess.DEVNULL,
    )
    return IMAGE


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )


def _env_args(env: Mapping[str, str]) -> list[str]:
    return [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]


def run(args: Sequence[str], env: Mapping[str, str] = {}) -> subprocess.CompletedProcess[str]:
    """Run one ``vellet`` command to completion in a locked-down container."""
    return podman("run", "--rm", *LOCKED_DOWN, *_env_args(env), built_image(), *args)


@dataclass
class Container:
    """A long-running ``vellet`` command in a locked-down container."""

    name: str

    @classmethod
    def start(cls, args: Sequence[str], env: Mapping[str, str]) -> Container:
        name = f"vellet-test-{uuid.uuid4().hex[:10]}"
        done = podman(
            "run", "-d", "--name", name, *LOCKED_DOWN, *_env_args(env), built_image(), *args
        )
        assert done.returncode == 0, done.stderr
        return cls(name)

    def logs(self) -> str:
        done = podman("logs", self.name)
        return done.stdout + done.stderr

    def running(self) -> bool:
        done = podman("inspect", "--format", "{{.State.Running}}", self.name)
        return done.stdout.strip() == "true"

    def remove(self) -> None:
        podman("rm", "--force", "--time", "5", self.name)
