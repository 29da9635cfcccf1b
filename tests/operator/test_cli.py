"""``vellet operator run`` refuses, in one readable line, what a user can fix.

(The happy path -- the CLI as a real process logging in through a
kubeconfig -- is in ``test_restarts.py``.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.keys import key_env


def run_cli(env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VELLET_", "KUBE"))}
    return subprocess.run(
        [sys.executable, "-m", "vellet", "operator", "run"],
        env=base | {"HOME": str(home)} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli({}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vellet: VELLET_WALLET_INTERNAL_URL and VELLET_BANK_URL must be set"
    ]


def test_no_way_to_reach_kubernetes_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {
        "VELLET_WALLET_INTERNAL_URL": "http://127.0.0.1:1",
        "VELLET_BANK_URL": "http://127.0.0.1:1",
        **key_env("operator"),
        "VELLET_OPERATOR_NAMESPACES": "default",
        "KUBECONFIG": str(tmp_path / "missing"),
    }
    result = run_cli(env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("vellet: no way to reach Kubernetes")
    assert "Traceback" not in result.stderr


def test_a_busy_metrics_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            "VELLET_WALLET_INTERNAL_URL": "http://127.0.0.1:1",
            "VELLET_BANK_URL": "http://127.0.0.1:1",
            **key_env("operator"),
            "VELLET_OPERATOR_NAMESPACES": "default",
            "VELLET_OPERATOR_PORT": str(busy.getsockname()[1]),
            "KUBECONFIG": str(kubeconfig),
        }
        result = run_cli(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("vellet: cannot serve metrics on ")
    assert "Traceback" not in result.stderr
