"""P2P Transfers through the real operator, wallet, bank, PostgreSQL and Redis.

A Transfer applied to the (emulated) API server is submitted to the wallet's
internal API, reaches Posted, and moves the money once. A refusal ends in
Failed with the wallet's reason and is never sent again. Deleting a Transfer
never moves money back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.operator.conftest import TRANSFERS, Bank, transfers_url
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    NAMESPACE,
    TIMER,
    available,
    condition,
    events_about,
    member,
    operator_settings,
    p2p,
    phase_is,
    reasons,
    requests_to,
    running,
    sample,
    scraped,
)
from tests.support.bank import internal_token
from tests.wallet.stack import RunningWallet, fund

CREATE_ROUTE = "/internal/v1/transfers"


async def wallet_transfer(wallet: RunningWallet, transfer_id: str) -> dict[str, Any]:
    token = internal_token()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{wallet.internal_url}/internal/v1/transfers/{transfer_id}",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def test_a_p2p_transfer_is_posted_and_moves_the_money_once(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 50_000)
    manifest = p2p(alice, bob, "125.50")
    name = manifest["metadata"]["name"]
    settings = operator_settings(api, wallet.internal_url, bank.url)
    async with running(settings) as rt:
        response = await api.post(transfers_url(), json=manifest)
        assert response.status == 201
        uid = (await response.json())["metadata"]["uid"]
        done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"))
        await api.until(lambda: "Posted" in reasons(api, name) or None)
        assert rt.site is not None
        metrics = await scraped(rt.site.url, "vellet_operator_transfers", 1, phase="Posted")

    status = done["status"]
    assert status["observedGeneration"] == 1
    assert status["attempts"] == 1
    assert status["message"] == "The money moved."
    assert (condition(done, "Accepted")["status"], condition(done, "Ready")["status"]) == (
        "True",
        "True",
    )
    assert condition(done, "Ready")["reason"] == "Posted"
    recorded = await wallet_transfer(wallet, status["transferId"])
    assert (recorded["state"], recorded["amount"], recorded["to_account"]) == (
        "posted",
        "125.50",
        bob.account_number,
    )
    assert (await available(alice), await available(bob)) == ("374.50", "125.50")
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1
    assert "Accepted" not in reasons(api, name)  # P2P posts at once: one transition, one Event
    assert sample(metrics, "vellet_operator_reconciles_total", handler="create", outcome="ok") == 1
    assert uid  # the idempotency key the wallet saw; proven by the restart tests


async def test_deleting_a_posted_transfer_moves_no_money_back(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 10_000)
    manifest = p2p(alice, bob, "40.00")
    name = manifest["metadata"]["name"]
    async with running(operator_settings(api, wallet.internal_url, bank.url)):
        await api.post(transfers_url(), json=manifest)
        await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"))
        response = await api.delete(transfers_url(name=name))
        assert response.status == 200
        await api.until(
            lambda: name not in {o["metadata"]["name"] for o in api.read_all(TRANSFERS)} or None
        )
    assert (await available(alice), await available(bob)) == ("60.00", "40.00")
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1


async def test_insufficient_funds_fail_once_and_are_never_retried(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 1_000)
    manifest = p2p(alice, bob, "25.00")
    name = manifest["metadata"]["name"]
    settings = operator_settings(api, wallet.internal_url, bank.url)
    async with running(settings):
        await api.post(transfers_url(), json=manifest)
        failed = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Failed"))
        await api.until(lambda: "Failed" in reasons(api, name) or None)
        # Give a retrying operator every chance: many timer intervals and
        # more than kopf's first back-offs.
        await asyncio.sleep(12 * TIMER)
    # ...and a restarted one too: kopf recorded the handler as done.
    async with running(settings):
        await asyncio.sleep(6 * TIMER)

    status = failed["status"]
    assert "does not cover this amount" in status["message"]
    assert status["lastError"].startswith("insufficient_funds: ")
    assert "transferId" not in status
    accepted = condition(failed, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InsufficientFunds")
    ready = condition(failed, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Failed")
    assert api.read(TRANSFERS, NAMESPACE, name)["status"]["phase"] == "Failed"
    # The wallet heard of it exactly once, and nothing moved.
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 1
    assert (
        await requests_to(wallet.internal_url, "GET", "/internal/v1/transfers/{transfer_id}") == 0
    )
    assert (await available(alice), await available(bob)) == ("10.00", "0.00")
    [event] = [e for e in events_about(api, name) if e["reason"] == "Failed"]
    assert event["type"] == "Warning"
