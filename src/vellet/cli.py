"""The ``vellet`` command: one entry point, one subcommand per component.

Each component owns its own subcommands in ``vellet.<component>.cli`` and
registers them here, so adding one never touches another's code. Errors a
user can fix (bad configuration, a server not reachable) print one readable
line and exit 2; they never print a stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from vellet import __version__
from vellet.common import logs
from vellet.common.commands import describe
from vellet.common.errors import VelletError

Command = Callable[[argparse.Namespace], int]

# Modules that contribute subcommands through ``register(subparsers)``.
_COMPONENTS = (
    "vellet.bank.cli",
    "vellet.wallet.cli",
    "vellet.notifier.cli",
    "vellet.operator.cli",
    "vellet.up",
    "vellet.keygen",
    "vellet.bench",
    "vellet.check",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vellet",
        **describe(
            "Vellet, a wallet that never loses, creates or spends money twice. One command "
            "with a subcommand per component; each takes its settings from VELLET_* "
            "environment variables.",
            "vellet up",
            "vellet wallet --help",
            "vellet bench p2p --seconds 5",
        ),
    )
    parser.add_argument("--version", action="version", version=f"vellet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMPONENTS:
        try:
            module = import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # a component not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup()
    command: Command = args.func
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130
    except VelletError as err:
        print(f"vellet: {err.detail}", file=sys.stderr)  # noqa: T201
        return 2
    except OSError as err:
        print(f"vellet: {describe_os_error(err)}", file=sys.stderr)  # noqa: T201
        return 2


def describe_os_error(err: OSError) -> str:
    """The error's own words; a bare TimeoutError (asyncio's, asyncpg's) has none,
    and "vellet: " followed by nothing told a user nothing."""
    said = err.strerror or str(err)
    if said:
        return said
    if isinstance(err, TimeoutError):
        return "timed out waiting for a server (TimeoutError)"
    return type(err).__name__


if __name__ == "__main__":
    raise SystemExit(main())
