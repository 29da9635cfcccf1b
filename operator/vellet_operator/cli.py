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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vellet.common.commands import command
from vellet.common.errors import ConfigError
from vellet.operator.handlers import run
from vellet.operator.runtime import Runtime
from vellet.operator.settings import OperatorSettings


def register(sub: Any) -> None:
    operator = command(
        sub, "operator", "the Kubernetes operator for Transfer resources", "vellet operator run"
    )
    cmds = operator.add_subparsers(dest="operator_command", metavar="COMMAND", required=True)
    command(
        cmds,
        "run",
        "watch Transfer resources and move their money through the wallet",
        "VELLET_WALLET_INTERNAL_URL=http://wallet:9080 VELLET_BANK_URL=http://bank:8081 "
        "vellet operator run",
        description="Watch Transfer resources (vellet.io/v1alpha1) and move their money "
        "through the wallet's internal API; re-drive stuck transfers. Configured by "
        "VELLET_OPERATOR_* variables; standalone unless VELLET_OPERATOR_PEERING is set.",
    ).set_defaults(func=_run)


#: Where a pod finds its service account token (kopf's in-cluster login).
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def _run(args: argparse.Namespace) -> int:
    settings = OperatorSettings.from_env(os.environ)
    if not _can_log_in(settings, os.environ):
        raise ConfigError(
            "no way to reach Kubernetes: not in a pod (no service account token), no "
            "kubeconfig (KUBECONFIG or ~/.kube/config), and VELLET_OPERATOR_KUBE_API_URL unset"
        )
    asyncio.run(run(Runtime(settings)))
    return 0


def _can_log_in(settings: OperatorSettings, environ: Mapping[str, str]) -> bool:
    """Whether the login handler will find credentials: checked before kopf starts,
    so a laptop without a cluster gets one line instead of kopf's tracebacks."""
    if settings.kube_api_url or SERVICE_ACCOUNT_TOKEN.exists():
        return True
    kubeconfig = environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return any(Path(p).is_file() for p in kubeconfig.split(os.pathsep) if p)
