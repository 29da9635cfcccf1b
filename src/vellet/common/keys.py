"""Ed25519 keys: one private key per signer, public keys pinned by verifiers.

Why asymmetric: with one shared secret every service that can *check* a
token or a stream message can also *forge* one, so a single leaked pod is a
leaked bank. With a key pair per signer a verifier holds only public keys,
and the bank's admin key can live on an operator's laptop, never in a pod.

Names are per signer so that a process's environment shows what it may do:
``VELLET_WALLET_KEY`` (the wallet signs bank requests, transfer events and its
calls to the bank), ``VELLET_BANK_KEY`` (bank results), ``VELLET_OPERATOR_KEY``
(calls to the wallet's internal API) and ``VELLET_BANK_ADMIN_KEY`` (admin
tokens, CLI only). Verifiers read ``VELLET_<SIGNER>_PUBLIC_KEY``. Each value is
PEM text, or ``..._FILE`` names a file holding it (a mounted Secret). A public
key setting may hold several PEM blocks: during a rotation the old and the new
key are both trusted until every signer has switched.

The key id (``kid``) is derived from the public key, never configured, so a
verifier can pick the right key without trusting anything the sender claims
about it beyond "try this one first".
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from vellet.common.errors import ConfigError
from vellet.common.settings import Env

#: Every signer of a deployment, by the name its settings carry.
SIGNERS: Final = ("wallet", "bank", "operator", "bank-admin")

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z ]+)-----\s.*?-----END (?P=label)-----", re.DOTALL
)


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode()


@dataclass(frozen=True, repr=False)
class PublicKey:
    """A verifier's copy of one signer's public key."""

    key: Ed25519PublicKey
    #: Derived from the key itself; carried as ``kid`` so verifiers try it first.
    key_id: str

    @classmethod
    def of(cls, key: Ed25519PublicKey) -> PublicKey:
        return cls(key, _key_id(key))

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def __repr__(self) -> str:
        return f"PublicKey(kid={self.key_id!r})"


@dataclass(frozen=True, repr=False)
class PrivateKey:
    """A signer's own key. Never printed: ``repr`` shows only the key id."""

    key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def of(cls, key: Ed25519PrivateKey) -> PrivateKey:
        return cls(key, _key_id(key.public_key()))

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls.of(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key(), self.key_id)

    def pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def __repr__(self) -> str:
        return f"PrivateKey(kid={self.key_id!r}, **********)"

    __str__ = __repr__


def private_key_var(signer: str) -> str:
    """``"bank-admin"`` -> ``"VELLET_BANK_ADMIN_KEY"``."""
    return f"VELLET_{signer.upper().replace('-', '_')}_KEY"


def public_key_var(signer: str) -> str:
    """``"wallet"`` -> ``"VELLET_WALLET_PUBLIC_KEY"``."""
    return f"VELLET_{signer.upper().replace('-', '_')}_PUBLIC_KEY"


def parse_private(text: str, *, name: str) -> PrivateKey:
    """PEM (PKCS#8) -> key; a ConfigError naming the setting, never its value."""
    try:
        key = serialization.load_pem_private_key(text.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{name} must be an Ed25519 key (see `vellet keys generate`)")
    return PrivateKey.of(key)


def parse_public(text: str, *, name: str) -> tuple[PublicKey, ...]:
    """One or more PEM public keys (several during a rotation) -> keys."""
    blocks = [match.group(0) for match in _PEM_BLOCK.finditer(text)]
    if not blocks:
        raise ConfigError(f"{name} holds no PEM public key")
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block.encode())
        except ValueError:
            raise ConfigError(f"{name} holds a block that is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{name} must hold Ed25519 keys (see `vellet keys generate`)")
        keys.append(PublicKey.of(key))
    return tuple(keys)


def load_private(env: Env, signer: str) -> PrivateKey:
    """The signer's own key from ``VELLET_<SIGNER>_KEY`` or ``..._KEY_FILE``."""
    name = private_key_var(signer)
    return parse_private(env.value_or_file(name), name=name)


def load_public(env: Env, signer: str) -> tuple[PublicKey, ...]:
    """The keys trusted for ``signer`` from ``VELLET_<SIGNER>_PUBLIC_KEY[_FILE]``."""
    name = public_key_var(signer)
    return parse_public(env.value_or_file(name), name=name)


@dataclass(frozen=True)
class KeySettings:
    """The keys one process holds: its own (if it signs) and those it trusts.

    Which signers a service trusts is decided by the service, not by the
    environment: the bank trusts the wallet and the admin key, the wallet
    trusts the bank and the operator, the notifier trusts only the wallet.
    A key set for a signer the service does not trust is never even read.
    """

    #: This process's signing key; ``None`` for a process that only verifies.
    own: PrivateKey | None = None
    #: Public keys by signer name (several per signer during a rotation).
    trusted: Mapping[str, tuple[PublicKey, ...]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Env, *, own: str | None, trusts: tuple[str, ...]) -> KeySettings:
        return cls(
            own=load_private(env, own) if own else None,
            trusted={signer: load_public(env, signer) for signer in trusts},
        )

    def signer(self) -> PrivateKey:
        """The own key; a ConfigError for a process configured to verify only."""
        if self.own is None:
            raise ConfigError("this process holds no signing key")
        return self.own

    def keys_of(self, signer: str) -> tuple[PublicKey, ...]:
        """The public keys trusted for ``signer``; empty if it is not trusted."""
        return self.trusted.get(signer, ())
