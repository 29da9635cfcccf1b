"""How the operator reads the wallet's answers: final refusals versus "try later".

The internal API itself is tested with the real wallet later; here the
classification rules are checked as pure functions, and an unreachable
wallet and bank over a real (closed) port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from vellet.common.embedded import free_port
from vellet.common.keys import PrivateKey
from vellet.common.tokens import Issuer
from vellet.operator.wallet_client import (
    BankHealth,
    WalletClient,
    WalletRefused,
    WalletUnavailable,
    classify,
    parse_transfer,
)

TOKENS = Issuer("operator", PrivateKey.generate())


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (422, "insufficient_funds"),
        (422, "idempotency_mismatch"),
        (422, "invalid_amount"),
        (404, "unknown_recipient"),
        (400, "invalid_request"),
    ],
)
def test_business_refusals_are_final(status: int, code: str) -> None:
    error = classify(status, {"code": code, "detail": "why"}, None)
    assert isinstance(error, WalletRefused)
    assert (error.status, error.code, error.detail) == (status, code, "why")


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "delay"),
    [
        (409, "idempotency_in_flight", None, None),  # the same key is still running
        (429, "too_many_attempts", "7", 7.0),
        (503, "bank_unavailable", None, None),
        (500, "", "soon", None),
        (502, "", None, None),
        (401, "unauthorized", None, None),  # our token: fix the deployment, keep the transfer
    ],
)
def test_passing_problems_are_temporary(
    status: int, code: str, retry_after: str | None, delay: float | None
) -> None:
    error = classify(status, {"code": code} if code else {}, retry_after)
    assert isinstance(error, WalletUnavailable)
    assert error.retry_after == delay


def test_transfers_are_parsed_and_garbage_is_not_trusted() -> None:
    transfer = parse_transfer(
        {"id": "t1", "kind": "p2p", "state": "posted", "amount": "1.00", "currency": "INR",
         "from_account": "100000", "to_account": "200000", "failure_reason": None,
         "updated_at": "2026-01-01T10:00:00.000000Z"}
    )  # fmt: skip
    assert (transfer.phase, transfer.to_account) == ("Posted", "200000")
    with pytest.raises(WalletUnavailable):
        parse_transfer({"id": "t1"})
    with pytest.raises(WalletUnavailable):
        parse_transfer(
            {"id": "t1", "kind": "p2p", "state": "lost", "amount": "1", "currency": "INR"}
        )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_an_unreachable_wallet_is_temporary(session: aiohttp.ClientSession) -> None:
    client = WalletClient(session, f"http://127.0.0.1:{free_port()}", TOKENS, timeout=2)
    with pytest.raises(WalletUnavailable):
        await client.create({"kind": "p2p"}, idempotency_key="uid-1")


async def test_an_unreachable_bank_is_unhealthy(session: aiohttp.ClientSession) -> None:
    assert (
        await BankHealth(session, f"http://127.0.0.1:{free_port()}", timeout=2).healthy() is False
    )
