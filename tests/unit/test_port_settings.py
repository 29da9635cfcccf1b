"""The wallet's and the bank's second port: its settings, read like the first one's."""

from __future__ import annotations

import pytest

from tests.support.keys import key_env
from vellet.bank.settings import BankSettings
from vellet.common.errors import ConfigError
from vellet.wallet.settings import WalletSettings

WALLET = {
    "VELLET_WALLET_DATABASE_URL": "postgresql://db/wallet",
    "VELLET_REDIS_URL": "redis://r/0",
    "VELLET_BANK_URL": "http://bank:8081",
    "VELLET_SESSION_SECRET": "t" * 32,
    **key_env("wallet", ("bank", "operator")),
}
BANK = {
    "VELLET_BANK_DATABASE_URL": "postgresql://db/bank",
    "VELLET_REDIS_URL": "redis://r/0",
    "VELLET_BANK_CODE_KEY": "c" * 32,
    **key_env("bank", ("wallet", "bank-admin")),
}


def test_the_internal_ports_default_to_9080_and_9081_on_the_public_host() -> None:
    wallet = WalletSettings.from_env(WALLET | {"VELLET_WALLET_HOST": "0.0.0.0"})
    assert (wallet.http.port, wallet.internal_http.port) == (8080, 9080)
    assert wallet.internal_http.host == "0.0.0.0"
    bank = BankSettings.from_env(BANK | {"VELLET_BANK_HOST": "0.0.0.0"})
    assert (bank.http.port, bank.internal_http.port) == (8081, 9081)
    assert bank.internal_http.host == "0.0.0.0"


def test_the_internal_host_and_port_can_be_set_apart() -> None:
    wallet = WalletSettings.from_env(
        WALLET | {"VELLET_WALLET_INTERNAL_HOST": "10.0.0.5", "VELLET_WALLET_INTERNAL_PORT": "7000"}
    )
    assert (wallet.internal_http.host, wallet.internal_http.port) == ("10.0.0.5", 7000)
    assert wallet.http.host == "127.0.0.1"
    bank = BankSettings.from_env(BANK | {"VELLET_BANK_INTERNAL_PORT": "7001"})
    assert bank.internal_http.port == 7001


@pytest.mark.parametrize(
    ("cls", "env", "name"),
    [
        (WalletSettings, WALLET, "VELLET_WALLET_INTERNAL_PORT"),
        (BankSettings, BANK, "VELLET_BANK_INTERNAL_PORT"),
    ],
)
def test_a_bad_internal_port_is_refused_by_name(cls: type, env: dict[str, str], name: str) -> None:
    for bad in ("http", "70000"):
        with pytest.raises(ConfigError, match=name):
            cls.from_env(env | {name: bad})
