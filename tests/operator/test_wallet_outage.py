"""A wallet that is down is waited for, with back-off, and then paid once.

The operator's wallet URL points at a port where nothing listens yet (the
wallet's address in a cluster before its pods are ready). The Transfer stays
Pending with the error noted and a Warning Event, kopf retries with growing
delays (TemporaryError), and once the wallet answers the transfer is posted:
the wallet sees exactly one request, because unanswered ones never reached it.
"""

from __future__ import annotations

import aiohttp

from tests.operator.conftest import TRANSFERS, Bank, transfers_url
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    NAMESPACE,
    HoldingWallet,
    available,
    events_about,
    member,
    operator_settings,
    p2p,
    phase_is,
    requests_to,
    running,
)
from tests.wallet.stack import RunningWallet, fund
from vellet.common.embedded import free_port


async def test_a_transfer_waits_for_the_wallet_and_is_posted_when_it_answers(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 10_000)
    port = free_port()
    manifest = p2p(alice, bob, "30.00")
    name = manifest["metadata"]["name"]
    relay = HoldingWallet(wallet.internal_url, port=port)
    settings = operator_settings(api, f"http://127.0.0.1:{port}", bank.url)
    try:
        async with running(settings):
            await api.post(transfers_url(), json=manifest)
            waiting = await api.wait_for(
                TRANSFERS, NAMESPACE, name, lambda o: o.get("status", {}).get("attempts", 0) >= 2
            )
            await relay.start()
            done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"))
    finally:
        await relay.stop()

    assert waiting["status"]["phase"] == "Pending"
    assert "the wallet did not answer" in waiting["status"]["lastError"]
    assert waiting["status"]["message"].startswith("Will retry: ")
    assert done["status"]["attempts"] > waiting["status"]["attempts"]
    warnings = [e for e in events_about(api, name) if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["Retrying"]  # the same problem is not news twice
    assert await requests_to(wallet.internal_url, "POST", "/internal/v1/transfers") == 1
    assert (await available(alice), await available(bob)) == ("70.00", "30.00")
