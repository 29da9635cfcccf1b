"""``vellet operator run``: the Transfer operator, configured from the environment.

Standalone unless ``VELLET_OPERATOR_PEERING`` names a kopf peering object:
one replica with the ``Recreate`` strategy needs no coordination, and
peering needs its own CRDs and RBAC that a small cluster should not have to
install. kopf handles SIGTERM and SIGINT itself: it stops the handlers, runs
the cleanup handler (the sweep stops, the metrics server closes) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from vellet.operator.handlers import run
from vellet.operator.runtime import Runtime
from vellet.operator.settings import OperatorSettings


def register(sub: Any) -> None:
    operator: argparse.ArgumentParser = sub.add_parser(
        "operator", help="the Kubernetes operator for Transfer resources"
    )
    cmds = operator.add_subparsers(dest="operator_command", metavar="COMMAND", required=True)
    cmds.add_parser(
        "run",
        help="watch Transfer resources and move their money through the wallet",
        description="Watch Transfer resources (vellet.io/v1alpha1) and move their money "
        "through the wallet's internal API; re-drive stuck transfers. Configured by "
        "VELLET_OPERATOR_* variables; standalone unless VELLET_OPERATOR_PEERING is set.",
    ).set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = OperatorSettings.from_env(os.environ)
    asyncio.run(run(Runtime(settings)))
    return 0
