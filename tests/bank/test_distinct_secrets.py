"""The bank refuses a sign-up code key that is also the service key.

The code key must stay a secret of its own: one value in two settings is
one key in every place either of them goes.
"""

from __future__ import annotations

import pytest

from tests.support.keys import TEST_KEYS, key_env
from tests.support.refusal import start_refused
from vellet.bank.settings import BankSettings
from vellet.common.errors import ConfigError

# The bank's own signing key, pasted into the code key too.
SHARED = TEST_KEYS["bank"].pem().strip()
ENV = {
    "VELLET_BANK_DATABASE_URL": "postgresql://db/bank",
    "VELLET_REDIS_URL": "redis://r/0",
    **key_env("bank", ("wallet", "bank-admin")),
}


def test_the_code_key_must_differ_from_the_service_key() -> None:
    assert BankSettings.from_env(ENV | {"VELLET_BANK_CODE_KEY": "c" * 32})
    with pytest.raises(ConfigError) as refused:
        BankSettings.from_env(ENV | {"VELLET_BANK_CODE_KEY": SHARED})
    assert "VELLET_BANK_CODE_KEY must not be the same as VELLET_BANK_KEY" in refused.value.detail
    assert SHARED not in str(refused.value)


async def test_vellet_bank_serve_refuses_to_start(bank_db: str, redis_url: str) -> None:
    settings = ENV | {
        "VELLET_BANK_DATABASE_URL": bank_db, "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_PORT": "0", "VELLET_BANK_CODE_KEY": SHARED,
    }  # fmt: skip
    code, err = await start_refused("bank", "serve", settings=settings)
    assert code == 2, err
    assert "VELLET_BANK_CODE_KEY must not be the same as VELLET_BANK_KEY" in err
    assert "Traceback" not in err
    assert SHARED not in err
