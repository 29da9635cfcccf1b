"""``vellet keys generate``: one Ed25519 key pair per signer, for a deployment.

Two destinations. ``--dir`` writes ``<signer>.key`` (0600) and
``<signer>.pub`` for every signer into a directory (a laptop, a VM, files
you mount yourself). ``--kubernetes-secret`` prints a Secret for ``kubectl
apply -f -`` holding what the cluster needs -- the wallet's, the bank's and
the operator's private keys and every public key -- and writes the
bank-admin private key to a local file instead: it mints admin tokens, which
create accounts with any opening balance, so it must never reach a pod.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from vellet.common import keyfiles, keys
from vellet.common.commands import command
from vellet.common.errors import ConfigError

# Kubernetes object and namespace names (RFC 1123); nothing else reaches the YAML.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def register(sub: Any) -> None:
    group = command(
        sub, "keys", "service keys: one Ed25519 key pair per signer",
        "vellet keys generate --dir ./keys",
        description="Service keys. Each of the wallet, the bank and the operator signs with "
        "its own private key; verifiers hold only public keys. The bank-admin key mints "
        "admin tokens (vellet bank token --admin) and is held by no running service.",
    )  # fmt: skip
    cmds = group.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    generate = command(
        cmds, "generate", "generate every signer's key pair",
        "vellet keys generate --dir ./keys",
        "vellet keys generate --kubernetes-secret vellet-keys --namespace vellet "
        "| kubectl apply -f -",
        description="Generate a key pair for every signer (wallet, bank, operator, "
        "bank-admin). With --dir, write <signer>.key (mode 0600) and <signer>.pub into the "
        "directory; existing keys are never overwritten. With --kubernetes-secret, print a "
        "Secret holding the wallet, bank and operator private keys and all four public "
        "keys, and write the bank-admin private key to a local file (--admin-key) that "
        "must stay off the cluster.",
    )  # fmt: skip
    where = generate.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", type=Path, help="write every key pair into this directory")
    where.add_argument("--kubernetes-secret", metavar="NAME",
                       help="print a Secret manifest named NAME on standard output")  # fmt: skip
    generate.add_argument("--namespace", help="the Secret's namespace (with --kubernetes-secret)")
    generate.add_argument("--admin-key", type=Path, default=Path("bank-admin.key"),
                          help="where the bank-admin private key goes with --kubernetes-secret "
                          "(default ./bank-admin.key; never overwritten)")  # fmt: skip
    generate.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    if args.dir is not None:
        return _to_directory(args.dir)
    for value, what in ((args.kubernetes_secret, "NAME"), (args.namespace, "--namespace")):
        if value is not None and not _NAME.match(value):
            raise ConfigError(f"{what} {value!r} is not a Kubernetes name (a-z, 0-9, '-')")
    if args.admin_key.exists():
        raise ConfigError(f"{args.admin_key} exists; move it away or pass --admin-key elsewhere")
    generated = keyfiles.generate_all()
    admin = generated["bank-admin"]
    keyfiles.write_file(args.admin_key, admin.pem(), 0o600)
    manifest = keyfiles.secret_manifest(
        keyfiles.secret_files(generated), args.kubernetes_secret, args.namespace
    )
    sys.stdout.write(manifest)
    print(  # noqa: T201 - the CLI's own message, on stderr so the pipe stays a manifest
        f"vellet: the bank-admin private key is in {args.admin_key} (mode 0600); keep it off "
        "the cluster. Mint admin tokens with: "
        f"VELLET_BANK_ADMIN_KEY_FILE={args.admin_key} vellet bank token --admin",
        file=sys.stderr,
    )
    return 0


def _to_directory(directory: Path) -> int:
    existing = [s for s in keys.SIGNERS if (directory / keyfiles.private_file(s)).exists()]
    keyfiles.ensure(directory)
    new = [s for s in keys.SIGNERS if s not in existing]
    kept = f"; kept {', '.join(existing)}" if existing else ""
    print(  # noqa: T201 - the CLI's own output
        f"vellet: {directory}: generated {', '.join(new) or 'nothing'}{kept}. Give each "
        "process only its own <signer>.key and the .pub files it trusts; bank-admin.key "
        "stays with you."
    )
    return 0
