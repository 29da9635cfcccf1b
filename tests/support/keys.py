"""One key pair per signer for the whole test session, and the env that holds them.

Generated once per run (never committed: a key in the repo is a key anyone
has), then handed to each process as its own environment would be in a real
deployment: a service gets its own private key and only the public keys of
the signers it trusts.
"""

from __future__ import annotations

from vellet.common import keys

TEST_KEYS: dict[str, keys.PrivateKey] = {
    signer: keys.PrivateKey.generate() for signer in keys.SIGNERS
}


def key_env(own: str | None = None, trusts: tuple[str, ...] = ()) -> dict[str, str]:
    """Environment variables for a process signing as ``own`` and trusting ``trusts``."""
    env = {keys.private_key_var(own): TEST_KEYS[own].pem()} if own else {}
    env.update({keys.public_key_var(s): TEST_KEYS[s].public().pem() for s in trusts})
    return env


def key_settings(own: str | None = None, trusts: tuple[str, ...] = ()) -> keys.KeySettings:
    """The same as :func:`key_env`, already parsed (for in-process apps)."""
    return keys.KeySettings(
        own=TEST_KEYS[own] if own else None,
        trusted={s: (TEST_KEYS[s].public(),) for s in trusts},
    )
