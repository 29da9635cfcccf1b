"""The wallet's settings: read once from the environment, refused when they cannot work."""

from __future__ import annotations

import pytest

from tests.support.keys import key_env
from vellet.common.errors import ConfigError
from vellet.wallet import settings

ENV = {
    "VELLET_WALLET_DATABASE_URL": "postgresql://db/wallet",
    "VELLET_REDIS_URL": "redis://r/0",
    "VELLET_BANK_URL": "http://bank:8081/",
    **key_env("wallet", ("bank", "operator")),
    "VELLET_SESSION_SECRET": "t" * 32,
    **key_env("wallet", ("bank", "operator")),
}


def test_settings_from_env_defaults_and_overrides() -> None:
    s = settings.WalletSettings.from_env(ENV)
    assert (s.bank_url, s.http.port, s.sessions.ttl_seconds) == ("http://bank:8081", 8080, 900)
    assert "t" * 32 not in repr(s)
    custom = settings.WalletSettings.from_env(
        ENV | {"VELLET_WALLET_PORT": "9000", "VELLET_LOGIN_MAX_FAILURES_PER_ACCOUNT": "3",
               "VELLET_COOKIE_SECURE": "true", "VELLET_IDEMPOTENCY_RETENTION_HOURS": "24"}
    )  # fmt: skip
    assert (custom.http.port, custom.login.per_account, custom.sessions.cookie_secure) == (
        9000, 3, True,
    )  # fmt: skip
    assert custom.idempotency_retention_hours == 24


@pytest.mark.parametrize(
    "broken",
    [
        {"VELLET_SESSION_SECRET": ""},
        {"VELLET_SESSION_SECRET": "short"},
        {"VELLET_BANK_URL": ""},
        {"VELLET_WALLET_PORT": "http"},
    ],
)
def test_settings_refuse_what_cannot_work(broken: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        settings.WalletSettings.from_env(ENV | broken)
