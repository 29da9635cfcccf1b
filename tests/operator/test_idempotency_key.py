"""The operator's Idempotency-Key is the Transfer's uid, never its name.

Names are chosen by people and reused: a Transfer deleted and applied again
under the same name, or the same name in two namespaces, is a new request
for money and must become a new wallet transfer. Keyed by name, the wallet
would see the second as a repeat: a replay of the first transfer (no money
moves) or, with another amount, an idempotency mismatch (the Transfer
fails). The other operator tests give every Transfer a random name, so they
cannot tell the two keys apart.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.operator.conftest import TRANSFERS, Bank, bind, transfers_url
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import available, operator_settings, p2p, requests_to, running
from tests.wallet.stack import RunningWallet, WalletClient, fund, registered
from vellet.wallet.state import POOL

CREATE_ROUTE = "/internal/v1/transfers"


def finished(obj: dict[str, Any]) -> bool:
    return obj.get("status", {}).get("phase") in ("Posted", "Failed")


async def apply(api: ApiServer, manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Create the Transfer and wait until the operator has finished it."""
    response = await api.post(transfers_url(namespace), json=manifest)
    assert response.status == 201, await response.text()
    name = manifest["metadata"]["name"]
    return await api.wait_for(TRANSFERS, namespace, name, finished)


async def p2p_in_wallet(wallet: RunningWallet) -> dict[str, int]:
    """The wallet's P2P transfers: id -> amount (minor units)."""
    rows = await wallet.app[POOL].fetch("SELECT id, amount FROM transfers WHERE kind = 'p2p'")
    return {str(r["id"]): int(r["amount"]) for r in rows}


async def two_users(api: ApiServer, bank: Bank, wallet: RunningWallet,
                    http: aiohttp.ClientSession) -> tuple[WalletClient, WalletClient]:  # fmt: skip
    """Alice (funded, her account bound to both namespaces, as an administrator would) and Bob."""
    assert bank.running is not None
    alice = await registered(bank.running, wallet, http)
    bob = await registered(bank.running, wallet, http)
    await fund(wallet, alice, 100_00)
    for namespace in ("default", "other"):
        await bind(api, namespace, alice.account_number or "")
    return alice, bob


async def test_a_transfer_deleted_and_applied_again_under_its_name_moves_money_again(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice, bob = await two_users(api, bank, wallet, http)
    manifest = p2p(alice, bob, "10.00")
    name = manifest["metadata"]["name"]
    async with running(operator_settings(api, wallet.internal_url, bank.url)):
        first = await apply(api, manifest, "default")
        assert (await api.delete(transfers_url(name=name))).status == 200
        await api.until(lambda: not api.read_all(TRANSFERS) or None)
        manifest["spec"]["amount"] = "25.00"
        again = await apply(api, manifest, "default")

    assert (first["status"]["phase"], again["status"]["phase"]) == ("Posted", "Posted"), again
    assert first["metadata"]["uid"] != again["metadata"]["uid"]
    assert await p2p_in_wallet(wallet) == {
        first["status"]["transferId"]: 10_00,
        again["status"]["transferId"]: 25_00,
    }
    assert (await available(alice), await available(bob)) == ("65.00", "35.00")
    assert await requests_to(wallet.internal_url, "POST", CREATE_ROUTE) == 2


async def test_the_same_name_in_two_namespaces_is_two_transfers(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice, bob = await two_users(api, bank, wallet, http)
    manifest = p2p(alice, bob, "10.00")  # the same name, payer, payee and amount in both
    settings = operator_settings(
        api, wallet.internal_url, bank.url, namespaces=("default", "other")
    )
    async with running(settings):
        here = await apply(api, manifest, "default")
        there = await apply(api, manifest, "other")

    assert (here["status"]["phase"], there["status"]["phase"]) == ("Posted", "Posted")
    assert here["status"]["transferId"] != there["status"]["transferId"]
    assert await p2p_in_wallet(wallet) == {
        here["status"]["transferId"]: 10_00,
        there["status"]["transferId"]: 10_00,
    }
    assert (await available(alice), await available(bob)) == ("80.00", "20.00")
