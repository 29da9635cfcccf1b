"""Start-up refuses a session key that is also a service key.

A service key travels to other places (its Secret, backups, the processes
that start the wallet); if it also signed user sessions, anyone who took it
from any of them could log in as any user. The refusal names the settings, never a value.
"""

from __future__ import annotations

import pytest

from tests.support.keys import TEST_KEYS, key_env
from tests.support.refusal import start_refused
from tests.wallet.test_settings import ENV
from vellet.common.errors import ConfigError
from vellet.common.settings import Secret, require_distinct
from vellet.wallet.settings import WalletSettings

# The wallet's own signing key, pasted into the session secret too.
SHARED = TEST_KEYS["wallet"].pem().strip()


def test_the_session_secret_must_differ_from_every_service_secret() -> None:
    with pytest.raises(ConfigError) as refused:
        WalletSettings.from_env(ENV | {"VELLET_SESSION_SECRET": SHARED})
    assert "VELLET_SESSION_SECRET must not be the same as VELLET_WALLET_KEY" in refused.value.detail
    assert SHARED not in str(refused.value)


def test_the_check_covers_each_secret_it_is_given() -> None:
    mine = Secret("s" * 32)
    require_distinct("MINE", mine, {"A": Secret("a" * 32), "B": Secret("b" * 32)})
    with pytest.raises(ConfigError, match="MINE must not be the same as B"):
        require_distinct("MINE", mine, {"A": Secret("a" * 32), "B": Secret("s" * 32)})


async def test_vellet_wallet_serve_refuses_to_start(wallet_dsn: str, redis_url: str) -> None:
    settings = {
        "VELLET_WALLET_DATABASE_URL": wallet_dsn, "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_URL": "http://127.0.0.1:9", "VELLET_WALLET_PORT": "0",
        "VELLET_SESSION_SECRET": SHARED, **key_env("wallet", ("bank", "operator")),
    }  # fmt: skip
    code, err = await start_refused("wallet", "serve", settings=settings)
    assert code == 2, err
    assert "VELLET_SESSION_SECRET must not be the same as VELLET_WALLET_KEY" in err
    assert "Traceback" not in err
    assert SHARED not in err
