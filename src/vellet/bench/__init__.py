"""``vellet bench ...``: benchmarks whose figures go into the README.

Speed and memory targets are measured here, never asserted in tests. Each
benchmark is a module of this package exposing ``add_parser(subparsers)``;
a benchmark may orchestrate several services (it sits above them), and
starts embedded PostgreSQL/Redis itself unless URLs are given.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from vellet.common.commands import command

_BENCHMARKS = ("cache", "p2p", "drill", "audit", "mail", "drain", "scale", "everything")


def register(sub: Any) -> None:
    parser = command(
        sub,
        "bench",
        "run a benchmark",
        "vellet bench p2p --seconds 5",
        "vellet bench drill --transfers 1000",
    )
    benches = parser.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for name in _BENCHMARKS:
        try:
            module = import_module(f"vellet.bench.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"vellet.bench.{name}":
                continue
            raise
        module.add_parser(benches)
