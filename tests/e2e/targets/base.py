"""What every e2e target gives the scenarios: URLs through Services (and the ingress),
the mail sink, and the few operations a scenario needs (stop the bank, restart Redis,
kill the operator, kubectl). A target that cannot do one says why, and the scenario
skips with that reason instead of passing without having tried."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vellet.common import redis_acl

ROOT = Path(__file__).resolve().parents[3]
#: Helm and kubectl from the project's pinned packages (deploy/install-tools.py).
TOOLS = Path(os.environ.get("VELLET_TOOLS_DIR", ROOT / ".tools")) / "bin"
KUBECTL = TOOLS / "kubectl"
NAMESPACE = "vellet"
RELEASE = "vellet"
#: Every target's chart values, in this order (the container target adds external ones).
VALUES = (ROOT / "k8s/dev/values.yaml", ROOT / "tests/e2e/values.yaml")
SAMPLES = ROOT / "k8s" / "samples"
#: The Secret k8s/dev/values.yaml's keys.existingSecret names.
KEYS_SECRET = "vellet-keys"


class Unsupported(Exception):
    """This target cannot do that (the message says why); the scenario skips."""


@dataclass
class Target:
    name: str
    #: The wallet's public API through its Service.
    wallet: str
    #: The wallet's public API through the ingress route (None: no ingress here).
    ingress: str | None
    #: The mail sink's HTTP page (``/messages.json``).
    sink: str
    #: Every component's base URL through its Service, for /readyz.
    components: dict[str, str]
    #: Where the Kubernetes API is (a kubeconfig file), None without one.
    kubeconfig: Path | None = None
    #: Extra `kubectl apply` flags this target's API needs.
    apply_flags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    async def component_urls(self) -> dict[str, str]:
        """Every component's base URL through its Service, for /readyz (now: ports may move)."""
        return dict(self.components)

    async def lose_bank_requests(self) -> None:
        """Empty the bank's request stream (what no AOF can keep), for the re-drive."""
        raise Unsupported(f"{self.name}: cannot reach Redis to empty a stream")

    async def stop_bank(self) -> None:
        raise Unsupported(f"{self.name}: the bank cannot be stopped on its own")

    async def start_bank(self) -> None:
        raise Unsupported(f"{self.name}: the bank cannot be started on its own")

    async def restart_redis(self) -> None:
        raise Unsupported(f"{self.name}: Redis cannot be restarted on its own")

    async def kill_operator(self) -> None:
        raise Unsupported(f"{self.name}: runs no operator")

    async def bank_audit(self) -> str:
        raise Unsupported(f"{self.name}: cannot run `vellet bank audit` beside the bank")

    async def bind(self, *accounts: str) -> None:
        """What a cluster administrator does: let the namespace's Transfers use ``accounts``."""
        raise Unsupported(f"{self.name}: has no Kubernetes API")


def secret(name: str, **data: str) -> dict[str, Any]:
    """A Secret as `kubectl create secret generic` makes it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {
            k.replace("_", "-"): base64.b64encode(v.encode()).decode() for k, v in data.items()
        },
    }


def keys_secret(name: str = KEYS_SECRET) -> dict[str, Any]:
    """The service keys' Secret as a user makes it: `vellet keys generate
    --kubernetes-secret` (the real CLI; its bank-admin key stays in a directory removed
    at once: no scenario opens an account, the chart's `bank seed` does)."""
    with tempfile.TemporaryDirectory(prefix="vellet-e2e-keys-") as tmp:
        done = subprocess.run(
            [
                sys.executable, "-m", "vellet", "keys", "generate",
                "--kubernetes-secret", name, "--namespace", NAMESPACE,
                "--admin-key", str(Path(tmp) / "bank-admin.key"),
            ],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = yaml.safe_load(done.stdout)
    return doc


def redis_secret(name: str) -> dict[str, Any]:
    """External Redis's Secret: each ACL user's password (the keys
    k8s/dev/external-values.yaml names) and the ACL file Redis loads (hashes only)."""
    passwords = redis_acl.generate_passwords()
    acl = redis_acl.acl_file(passwords)
    doc = secret(name, **{f"{user}_password": pw for user, pw in passwords.items()})
    doc["data"]["users.acl"] = base64.b64encode(acl.encode()).decode()
    return doc


def precreated_secrets() -> list[dict[str, Any]]:
    """The Secrets k8s/dev/values.yaml and k8s/dev/external-values.yaml name, made
    before the install."""
    token = lambda: secrets.token_urlsafe(32)  # noqa: E731
    return [
        keys_secret(),
        secret("vellet-app-secrets", session_secret=token(), code_key=token()),
        secret("vellet-db-passwords", bank_password=token(), wallet_password=token()),
        redis_secret("vellet-redis-passwords"),
    ]


def sample(file: str, name: str, **spec: str) -> str:
    """A k8s/samples Transfer renamed and re-aimed, as YAML for `kubectl apply -f -`."""
    doc = yaml.safe_load((SAMPLES / f"{file}.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"].update(spec)
    return yaml.safe_dump(doc)
