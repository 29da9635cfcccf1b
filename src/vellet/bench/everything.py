"""``vellet bench all``: every benchmark at a size that fits ten minutes, one table.

Runs, one after the other (never at once: each must have the machine to
itself): P2P against pgbench, the mail burst against the sink's raw rate,
the backlog drain, the bank cache, and the data-scale comparison. Each
returns table rows; a figure that depends on the machine is given with the
reference measured in the same run beside it (pgbench ``-N`` TPS, the
sink's raw acceptance rate). A part that raises becomes a failed row, so
the table is always printed. Exit status 1 when any correctness check
failed (books, mails exactly once, ledger invariant, cache answers); a
speed goal not met is reported, not fatal.

``--quick`` runs every part at a smoke size (what the test suite runs):
it proves the command works, and its figures mean nothing.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vellet.bench.report import Row, exit_code
from vellet.common.commands import command

#: Each part: (name, full-size arguments, smoke-size arguments).
_SIZES: dict[str, tuple[list[str], list[str]]] = {
    "p2p": (["--clients", "32", "--seconds", "10", "--rounds", "3", "--users", "1000"],
            ["--clients", "2", "--seconds", "1", "--rounds", "1", "--users", "4",
             "--pgbench-clients", "2"]),
    "mail": (["--events", "2500"], ["--events", "10"]),
    "drain": (["--transfers", "20000", "--users", "20"],
              ["--transfers", "40", "--users", "4", "--parallel", "4"]),
    "cache": (["--accounts", "100000", "--warmup", "1000000", "--lookups", "200000",
               "--zipf", "1.0"],
              ["--accounts", "200", "--warmup", "1000", "--lookups", "500", "--zipf", "1.0"]),
    "scale": (["--users", "100000", "--past-transfers", "1000000", "--active-users", "1000",
               "--clients", "32", "--seconds", "10"],
              ["--users", "200", "--past-transfers", "2000", "--active-users", "4",
               "--clients", "2", "--seconds", "1", "--history-requests", "20"]),
}  # fmt: skip
PARTS = tuple(_SIZES)


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "all",
        "every benchmark at a size that fits 10 minutes, one table",
        "vellet bench all",
        "vellet bench all --only mail drain",
        description="Run the P2P, mail, backlog-drain, cache and data-scale benchmarks one "
        "after the other and print one table: measure, figure, goal, met or not. Exit 1 if "
        "any correctness check failed.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke sizes: proves the command works, figures mean nothing",
    )
    parser.add_argument("--only", nargs="+", choices=PARTS, metavar="PART",
                        help=f"run only these parts ({', '.join(PARTS)})")  # fmt: skip
    parser.set_defaults(func=_main)


def part_args(name: str, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by the part's own ``vellet bench <name>`` parser (its defaults too)."""
    parser = argparse.ArgumentParser(prog="vellet bench")
    module = importlib.import_module(f"vellet.bench.{name}")
    module.add_parser(parser.add_subparsers(dest="bench"))
    return parser.parse_args([name, *argv])


def _p2p(args: argparse.Namespace) -> list[Row]:
    from vellet.bench import p2p  # noqa: PLC0415 - each part loads what it needs

    return p2p.measure(args).rows(args)


def _mail(args: argparse.Namespace) -> list[Row]:
    from vellet.bench import mail  # noqa: PLC0415

    mail.quiet_sink()
    with tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp:
        Path(tmp).chmod(0o755)
        return mail.run_rows(Path(tmp), args.events, args.senders)


def _drain(args: argparse.Namespace) -> list[Row]:
    from vellet.bench import drain  # noqa: PLC0415

    return drain.measure(args).rows()


def _cache(args: argparse.Namespace) -> list[Row]:
    from vellet.bench import cache  # noqa: PLC0415

    return cache.measure(args).rows()


def _scale(args: argparse.Namespace) -> list[Row]:
    from vellet.bench import scale  # noqa: PLC0415

    return scale.measure(args).rows()


_RUN: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "p2p": _p2p, "mail": _mail, "drain": _drain, "cache": _cache, "scale": _scale,
}  # fmt: skip


def _main(args: argparse.Namespace) -> int:
    rows: list[Row] = []
    started = time.monotonic()
    for name in args.only or PARTS:
        full, quick = _SIZES[name]
        argv = quick if args.quick else full
        print(f"vellet bench {name} {' '.join(argv)} ...", flush=True)
        began = time.monotonic()
        try:
            rows += _RUN[name](part_args(name, argv))
        except Exception as err:  # noqa: BLE001 - one failed part must not hide the others
            rows.append(Row(f"{name}: the run itself", f"failed: {type(err).__name__}: "
                            f"{str(err)[:200]}", "completes", False, check=True))  # fmt: skip
        print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
    rows.append(Row("whole run", f"{time.monotonic() - started:.0f} s on {_machine()}"
                    f"{' (--quick: smoke sizes)' if args.quick else ''}", "< 600 s",
                    time.monotonic() - started < 600))  # fmt: skip
    return exit_code(rows)


def _machine() -> str:
    import os  # noqa: PLC0415

    return f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
