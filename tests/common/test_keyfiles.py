"""Key directories, per-role environments, ``vellet keys generate`` and admin tokens.

The CLI runs as a real child process (``main`` in-process for the error
paths that print one line): what a person types is what is tested.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import yaml

from vellet.bank.settings import BankSettings
from vellet.common import keyfiles, keys, tokens
from vellet.notifier.settings import NotifierSettings
from vellet.operator.settings import OperatorSettings
from vellet.wallet.settings import WalletSettings

BASE = {
    "VELLET_WALLET_DATABASE_URL": "postgresql://db/w", "VELLET_BANK_DATABASE_URL": "postgresql://db/b",
    "VELLET_REDIS_URL": "redis://r/0", "VELLET_BANK_URL": "http://bank",
    "VELLET_WALLET_INTERNAL_URL": "http://wallet", "VELLET_SESSION_SECRET": "s" * 32,
    "VELLET_BANK_CODE_KEY": "c" * 32, "VELLET_OPERATOR_NAMESPACES": "*",
}  # fmt: skip


def vellet(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")} | env
    return subprocess.run([sys.executable, "-m", "vellet", *args], env=clean, cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


def test_a_directory_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = keyfiles.ensure(tmp_path / "keys")
    again = keyfiles.ensure(tmp_path / "keys")  # a restart keeps every key
    assert {s: k.key_id for s, k in again.items()} == {s: k.key_id for s, k in first.items()}
    for signer in keys.SIGNERS:
        private = tmp_path / "keys" / f"{signer}.key"
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        [public] = keys.parse_public((tmp_path / "keys" / f"{signer}.pub").read_text(), name="x")
        assert public.key_id == first[signer].key_id
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_each_service_reads_exactly_what_its_role_file_env_gives(tmp_path: Path) -> None:
    """ROLES (what vellet up hands out) and the settings (what a service reads) agree."""
    generated = keyfiles.ensure(tmp_path)
    readers = {"wallet": WalletSettings.from_env, "bank": BankSettings.from_env,
               "notifier": NotifierSettings.from_env,
               "operator": OperatorSettings.from_env}  # fmt: skip
    for service, read in readers.items():
        settings = read(BASE | keyfiles.file_env(tmp_path, service))
        own, trusts = keyfiles.ROLES[service]
        own_key = settings.keys.own
        assert (own_key.key_id if own_key else None) == (generated[own].key_id if own else None)
        assert set(settings.keys.trusted) == set(trusts)
        assert f"{keys.private_key_var('bank-admin')}_FILE" not in keyfiles.file_env(
            tmp_path, service
        )


def test_the_cli_writes_a_directory_and_never_overwrites_a_key(tmp_path: Path) -> None:
    done = vellet("keys", "generate", "--dir", "keys", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    before = (tmp_path / "keys" / "wallet.key").read_text()
    assert "PRIVATE KEY" not in done.stdout + done.stderr
    again = vellet("keys", "generate", "--dir", "keys", cwd=tmp_path)
    assert again.returncode == 0
    assert "kept wallet, bank, operator, bank-admin" in again.stdout
    assert (tmp_path / "keys" / "wallet.key").read_text() == before


def test_the_kubernetes_secret_holds_no_admin_private_key(tmp_path: Path) -> None:
    done = vellet("keys", "generate", "--kubernetes-secret", "vellet-keys", "--namespace", "pay",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    secret = yaml.safe_load(done.stdout)
    assert (secret["kind"], secret["metadata"]) == ("Secret", {"name": "vellet-keys",
                                                               "namespace": "pay"})  # fmt: skip
    files = {name: base64.b64decode(value).decode() for name, value in secret["data"].items()}
    assert set(files) == {"wallet.key", "bank.key", "operator.key", "wallet.pub", "bank.pub",
                          "operator.pub", "bank-admin.pub"}  # fmt: skip
    admin = keys.parse_private((tmp_path / "bank-admin.key").read_text(), name="admin")
    assert stat.S_IMODE((tmp_path / "bank-admin.key").stat().st_mode) == 0o600
    [public] = keys.parse_public(files["bank-admin.pub"], name="pub")
    assert public.key_id == admin.key_id
    assert admin.pem() not in done.stdout
    assert "keep it off the cluster" in done.stderr
    # A second run would replace the admin key whose public half is deployed: refused.
    again = vellet("keys", "generate", "--kubernetes-secret", "vellet-keys", cwd=tmp_path)
    assert again.returncode == 2
    assert "exists" in again.stderr


@pytest.mark.parametrize("name", ["Vellet", "a b", "x\nkind: Pod", "x-"])
def test_a_name_that_is_not_a_kubernetes_name_is_refused(tmp_path: Path, name: str) -> None:
    done = vellet("keys", "generate", "--kubernetes-secret", name, cwd=tmp_path)
    assert done.returncode == 2
    assert "not a Kubernetes name" in done.stderr
    assert not (tmp_path / "bank-admin.key").exists()


def test_admin_tokens_come_from_the_admin_key_with_a_capped_lifetime(tmp_path: Path) -> None:
    generated = keyfiles.ensure(tmp_path)
    key_file = str(tmp_path / "bank-admin.key")
    done = vellet("bank", "token", "--admin", "--subject", "alice", "--ttl", "3600",
                  cwd=tmp_path, VELLET_BANK_ADMIN_KEY_FILE=key_file)  # fmt: skip
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    trusted = keys.KeySettings(trusted={"bank-admin": (generated["bank-admin"].public(),)})
    principal = tokens.verify(trusted, token, audience=tokens.BANK_AUDIENCE,
                              accept=tokens.BANK_ADMIN)  # fmt: skip
    assert principal == tokens.Principal("alice", "admin")
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    too_long = vellet("bank", "token", "--admin", "--ttl", "3601", cwd=tmp_path,
                      VELLET_BANK_ADMIN_KEY_FILE=key_file)  # fmt: skip
    assert (too_long.returncode, too_long.stdout) == (2, "")
    no_key = vellet("bank", "token", "--admin", cwd=tmp_path)
    assert no_key.returncode == 2
    assert "VELLET_BANK_ADMIN_KEY" in no_key.stderr


def test_mint_refuses_a_lifetime_over_its_cap() -> None:
    key = keys.PrivateKey.generate()
    with pytest.raises(ValueError, match="at most 900"):
        tokens.mint(key, signer="wallet", audience=tokens.BANK_AUDIENCE, subject="wallet",
                    ttl_seconds=901)  # fmt: skip
    assert "PRIVATE" not in repr(tokens.Issuer("wallet", key))


def test_key_variables_are_recognised_so_none_leaks_into_a_child() -> None:
    assert keyfiles.is_key_variable("VELLET_BANK_ADMIN_KEY")
    assert keyfiles.is_key_variable("VELLET_WALLET_PUBLIC_KEY_FILE")
    assert not keyfiles.is_key_variable("VELLET_BANK_CODE_KEY")
