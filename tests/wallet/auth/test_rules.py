"""Pure sign-up and login rules: credentials. No servers."""

from __future__ import annotations

import pytest

from vellet.common.errors import InvalidRequest, Unprocessable
from vellet.wallet.auth import rules as auth_rules

BOB = "100000000002"


def test_credentials() -> None:
    creds = auth_rules.parse_credentials(
        {"account_number": BOB, "password": "long enough"}, new=True
    )
    assert "long enough" not in repr(creds)
    with pytest.raises(Unprocessable):
        auth_rules.parse_credentials({"account_number": BOB, "password": "short"}, new=True)
    assert auth_rules.parse_credentials({"account_number": BOB, "password": "short"}, new=False)
    for bad in ({"account_number": BOB}, {"account_number": BOB, "password": "x" * 257},
                {"account_number": BOB, "password": "\udcff" * 9}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            auth_rules.parse_credentials(bad, new=False)
