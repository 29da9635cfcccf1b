"""Key pairs on disk, and the environment that hands each process only its own.

One directory holds ``<signer>.key`` (PKCS#8 PEM, mode 0600) and
``<signer>.pub`` for every signer. ``vellet up``, the benchmarks and the
tests generate one and then start each process with ``*_FILE`` variables
naming just the files its role needs (:data:`ROLES`): its own private key
and the public keys of the signers it trusts. No process but the CLI is
ever pointed at ``bank-admin.key``.

The same shapes feed ``vellet keys generate --kubernetes-secret``, whose
Secret carries the in-cluster private keys and every public key but never
the bank-admin private key.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from vellet.common import keys

#: Per service: the signer it is (``None``: it signs nothing) and whom it trusts.
#: The services' settings read exactly these (see each ``settings.py``).
ROLES: Final[Mapping[str, tuple[str | None, tuple[str, ...]]]] = {
    "wallet": ("wallet", ("bank", "operator")),
    "bank": ("bank", ("wallet", "bank-admin")),
    "notifier": (None, ("wallet",)),
    "operator": ("operator", ()),
}

#: Private keys that live in the cluster (the admin key stays with a person).
IN_CLUSTER: Final = ("wallet", "bank", "operator")


def private_file(signer: str) -> str:
    return f"{signer}.key"


def public_file(signer: str) -> str:
    return f"{signer}.pub"


def write_file(path: Path, text: str, mode: int) -> None:
    # Created with its final mode, so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(mode)


def write_pair(directory: Path, signer: str, key: keys.PrivateKey) -> None:
    write_file(directory / private_file(signer), key.pem(), 0o600)
    write_file(directory / public_file(signer), key.public().pem(), 0o644)


def ensure(directory: Path) -> dict[str, keys.PrivateKey]:
    """Every signer's key in ``directory``: kept when there, generated when not."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    found = {}
    for signer in keys.SIGNERS:
        path = directory / private_file(signer)
        if path.exists():
            found[signer] = keys.parse_private(path.read_text(), name=str(path))
        else:
            found[signer] = keys.PrivateKey.generate()
            write_pair(directory, signer, found[signer])
    return found


def file_env(directory: Path, service: str) -> dict[str, str]:
    """``*_FILE`` variables for ``service``: its own key, the public keys it trusts."""
    own, trusts = ROLES[service]
    env = {f"{keys.private_key_var(own)}_FILE": str(directory / private_file(own))} if own else {}
    for signer in trusts:
        env[f"{keys.public_key_var(signer)}_FILE"] = str(directory / public_file(signer))
    return env


def pem_env(generated: Mapping[str, keys.PrivateKey], service: str) -> dict[str, str]:
    """The same as :func:`file_env` with the PEM text in the variables themselves."""
    own, trusts = ROLES[service]
    env = {keys.private_key_var(own): generated[own].pem()} if own else {}
    env.update({keys.public_key_var(s): generated[s].public().pem() for s in trusts})
    return env


def generate_all() -> dict[str, keys.PrivateKey]:
    """A fresh key pair for every signer (kept in memory only)."""
    return {signer: keys.PrivateKey.generate() for signer in keys.SIGNERS}


def is_key_variable(name: str) -> bool:
    """Whether ``name`` configures a key (so a child process must not inherit it)."""
    return any(
        name in (var, f"{var}_FILE")
        for signer in keys.SIGNERS
        for var in (keys.private_key_var(signer), keys.public_key_var(signer))
    )


def secret_files(generated: Mapping[str, keys.PrivateKey]) -> dict[str, str]:
    """File name -> PEM for a cluster: in-cluster private keys and every public key."""
    files = {private_file(s): generated[s].pem() for s in IN_CLUSTER}
    files.update({public_file(s): generated[s].public().pem() for s in keys.SIGNERS})
    return files


def secret_manifest(files: Mapping[str, str], name: str, namespace: str | None) -> str:
    """A Kubernetes Secret (``kubectl apply -f -``) holding ``files``."""
    meta = [f"  name: {name}"] + ([f"  namespace: {namespace}"] if namespace else [])
    data = [
        f"  {file}: {base64.b64encode(text.encode()).decode()}"
        for file, text in sorted(files.items())
    ]
    return "\n".join(
        ["apiVersion: v1", "kind: Secret", "metadata:", *meta, "type: Opaque", "data:", *data, ""]
    )
