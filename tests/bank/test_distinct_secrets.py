"""The bank refuses a sign-up code key that is also the service key.

The service key is held by the wallet and the operator too; the code key
must stay the bank's alone, or they could forge the codes' HMACs.
"""

from __future__ import annotations

import pytest

from tests.support.refusal import start_refused
from vellet.bank.settings import BankSettings
from vellet.common.errors import ConfigError

SHARED = "one-key-for-everything-0123456789abcdef"
ENV = {
    "VELLET_BANK_DATABASE_URL": "postgresql://db/bank",
    "VELLET_REDIS_URL": "redis://r/0",
    "VELLET_JWT_SECRET": SHARED,
}


def test_the_code_key_must_differ_from_the_service_key() -> None:
    assert BankSettings.from_env(ENV | {"VELLET_BANK_CODE_KEY": "c" * 32})
    with pytest.raises(ConfigError) as refused:
        BankSettings.from_env(ENV | {"VELLET_BANK_CODE_KEY": SHARED})
    assert "VELLET_BANK_CODE_KEY must not be the same as VELLET_JWT_SECRET" in refused.value.detail
    assert SHARED not in str(refused.value)


async def test_vellet_bank_serve_refuses_to_start(bank_db: str, redis_url: str) -> None:
    settings = ENV | {
        "VELLET_BANK_DATABASE_URL": bank_db, "VELLET_REDIS_URL": redis_url,
        "VELLET_BANK_PORT": "0", "VELLET_BANK_CODE_KEY": SHARED,
    }  # fmt: skip
    code, err = await start_refused("bank", "serve", settings=settings)
    assert code == 2, err
    assert "VELLET_BANK_CODE_KEY must not be the same as VELLET_JWT_SECRET" in err
    assert "Traceback" not in err
    assert SHARED not in err
