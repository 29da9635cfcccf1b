"""Key loading: per-signer names, files, rotation lists, and nothing printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vellet.common import keys
from vellet.common.errors import ConfigError
from vellet.common.settings import Env


def test_names_follow_the_signer() -> None:
    assert keys.private_key_var("bank-admin") == "VELLET_BANK_ADMIN_KEY"
    assert keys.public_key_var("wallet") == "VELLET_WALLET_PUBLIC_KEY"


def test_a_signature_verifies_only_with_its_own_public_key() -> None:
    mine, other = keys.PrivateKey.generate(), keys.PrivateKey.generate()
    signature = mine.sign(b"transfer 1")
    assert mine.public().verifies(signature, b"transfer 1")
    assert not mine.public().verifies(signature, b"transfer 2")
    assert not other.public().verifies(signature, b"transfer 1")
    assert mine.key_id != other.key_id


def test_a_private_key_round_trips_through_pem_and_keeps_its_id() -> None:
    key = keys.PrivateKey.generate()
    loaded = keys.load_private(Env({"VELLET_BANK_KEY": key.pem()}), "bank")
    assert loaded.key_id == key.key_id
    assert key.public().verifies(loaded.sign(b"x"), b"x")


def test_a_key_file_is_read(tmp_path: Path) -> None:
    key = keys.PrivateKey.generate()
    (tmp_path / "wallet.key").write_text(key.pem())
    env = Env({"VELLET_WALLET_KEY_FILE": str(tmp_path / "wallet.key")})
    assert keys.load_private(env, "wallet").key_id == key.key_id


def test_several_public_keys_are_trusted_during_a_rotation() -> None:
    old, new = keys.PrivateKey.generate(), keys.PrivateKey.generate()
    env = Env({"VELLET_BANK_PUBLIC_KEY": old.public().pem() + new.public().pem()})
    assert [k.key_id for k in keys.load_public(env, "bank")] == [old.key_id, new.key_id]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, r"VELLET_WALLET_KEY \(or VELLET_WALLET_KEY_FILE\) must be set"),
        ({"VELLET_WALLET_KEY": "x", "VELLET_WALLET_KEY_FILE": "/k"}, "not both"),
        ({"VELLET_WALLET_KEY_FILE": "/nonexistent/wallet.key"}, "cannot read"),
        ({"VELLET_WALLET_KEY": "not a key"}, "is not a PEM private key"),
    ],
)
def test_bad_private_key_settings_say_what_is_wrong(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        keys.load_private(Env(environ), "wallet")


def test_a_non_ed25519_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match="must be an Ed25519 key"):
        keys.load_private(Env({"VELLET_WALLET_KEY": pem.decode()}), "wallet")


def test_a_public_setting_without_a_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="holds no PEM public key"):
        keys.load_public(Env({"VELLET_BANK_PUBLIC_KEY": "hello"}), "bank")


def test_neither_repr_nor_errors_show_the_key() -> None:
    key = keys.PrivateKey.generate()
    secret_line = key.pem().splitlines()[1]
    assert secret_line not in repr(key)
    assert secret_line not in str(key)
    truncated = key.pem()[:60]  # unreadable, but it holds part of the key
    with pytest.raises(ConfigError) as caught:
        keys.load_private(Env({"VELLET_WALLET_KEY": truncated}), "wallet")
    assert truncated.splitlines()[1][:16] not in str(caught.value)


def test_key_settings_read_only_the_signers_the_service_trusts() -> None:
    wallet, bank = keys.PrivateKey.generate(), keys.PrivateKey.generate()
    env = Env(
        {
            "VELLET_BANK_KEY": bank.pem(),
            "VELLET_WALLET_PUBLIC_KEY": wallet.public().pem(),
            "VELLET_OPERATOR_PUBLIC_KEY": "garbage that would fail if read",
        }
    )
    settings = keys.KeySettings.from_env(env, own="bank", trusts=("wallet",))
    assert settings.signer().key_id == bank.key_id
    assert [k.key_id for k in settings.keys_of("wallet")] == [wallet.key_id]
    assert settings.keys_of("operator") == ()


def test_a_verify_only_process_cannot_sign() -> None:
    settings = keys.KeySettings.from_env(Env({}), own=None, trusts=())
    with pytest.raises(ConfigError, match="holds no signing key"):
        settings.signer()
