"""The cluster-wide sweep re-drives stuck transfers made through the HTTP API.

A user deposits through the public API while the bank is down; the request
is then lost from Redis and the wallet's own reconciler is off (as in a
cluster). No Transfer resource exists, so no kopf timer helps. With the
sweep switched off the transfer stays queued and the operator never asks
the wallet for stuck transfers; switched on, the operator lists them, waits
for the bank's health check and re-drives them: posted, once.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp

from tests.operator.conftest import Bank
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    TIMER,
    available,
    bank_side,
    lose_bank_requests,
    member,
    operator_settings,
    published,
    requests_to,
    running,
    scraped,
    until,
)
from tests.wallet.stack import RunningWallet, WalletClient

LIST_ROUTE = "/internal/v1/transfers"


async def test_stuck_http_api_deposits_are_swept_only_when_the_sweep_is_on(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    account = alice.account_number or ""
    await bank.stop()
    reply = await alice.call(
        "POST",
        "/api/v1/transfers",
        json={"kind": "deposit", "amount": "50.00", "currency": "INR"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert (reply.status, reply.body["state"]) == (202, "queued"), reply
    transfer_id = reply.body["id"]
    await until(lambda: published(wallet.settings.redis_url))
    await lose_bank_requests(bank.redis_url)
    await bank.start()

    async with running(
        operator_settings(api, wallet.internal_url, bank.url, sweep_api_transfers=False)
    ):
        await asyncio.sleep(8 * TIMER)  # many sweep intervals, were the sweep on
    assert await requests_to(wallet.internal_url, "GET", LIST_ROUTE) == 0
    assert await available(alice) == "0.00"

    settings = operator_settings(api, wallet.internal_url, bank.url, sweep_api_transfers=True)
    async with running(settings) as rt:
        await until(lambda: _posted(alice), timeout=20)
        assert rt.site is not None
        await scraped(
            rt.site.url, "vellet_operator_reconciles_total", 1, handler="sweep", outcome="ok"
        )
    assert await bank_side(bank, account, transfer_id) == (95_000, 1)
    assert (
        await requests_to(wallet.internal_url, "POST", LIST_ROUTE + "/{transfer_id}/redrive") >= 1
    )


async def _posted(alice: WalletClient) -> bool:
    return await available(alice) == "50.00"
