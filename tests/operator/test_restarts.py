"""An operator that dies in the middle of a transfer never pays twice.

The widest window: the wallet has executed the transfer, the operator has
not yet heard the answer, so the Transfer's status says nothing. A relay in
front of the wallet (``HoldingWallet``) holds the answer back; the operator
is killed with SIGKILL (``vellet operator run`` as a real process) and a new
one is started. kopf never recorded the create handler as done, so the new
operator submits again -- with the same uid as Idempotency-Key, which the
wallet answers with the transfer it already made.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.operator.conftest import TRANSFERS, Bank, transfers_url
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    NAMESPACE,
    HoldingWallet,
    OperatorProcess,
    member,
    operator_settings,
    p2p,
    phase_is,
    requests_to,
    running,
    scraped,
    with_port,
)
from tests.support.bank import auth, internal_token
from tests.wallet.stack import RunningWallet, WalletClient, fund
from vellet.common.embedded import free_port
from vellet.operator.domain import wallet_request
from vellet.operator.handlers import HANDLED


async def history(client: WalletClient) -> list[dict[str, Any]]:
    reply = await client.call("GET", "/api/v1/transfers")
    assert reply.status == 200, reply
    items: list[dict[str, Any]] = reply.body["items"]
    return items


async def test_an_operator_killed_mid_transfer_and_restarted_moves_the_money_once(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 50_000)
    relay = await HoldingWallet(wallet.internal_url, hold=True).start()
    port = free_port()
    # Slow enough a wallet call that the operator is surely still waiting when killed.
    settings = with_port(operator_settings(api, relay.url, bank.url, http_timeout=60), port)
    manifest = p2p(alice, bob, "75.00")
    name = manifest["metadata"]["name"]
    first = await OperatorProcess(settings, api).start()
    second = OperatorProcess(settings, api)
    try:
        await api.post(transfers_url(), json=manifest)
        async with asyncio.timeout(30):  # the process imports and logs in first
            await relay.executed.wait()
        first.kill()
        assert "phase" not in api.read(TRANSFERS, NAMESPACE, name).get("status", {})
        assert (await history(bob))[0]["amount"] == "75.00"  # the money did move

        relay.hold = False
        await second.start()
        done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"), timeout=30)
        await scraped(f"http://127.0.0.1:{port}", "vellet_operator_transfers", 1, phase="Posted")
    finally:
        first.kill()
        exit_code = second.stop()
        await relay.stop()

    assert exit_code == 0, second.stderr()  # SIGTERM: a clean stop, as in a pod
    # Submitted twice, executed once: one transfer, one debit, one credit.
    assert await requests_to(wallet.internal_url, "POST", "/internal/v1/transfers") == 2
    alice_history, bob_history = await history(alice), await history(bob)
    p2p_ids = {t["id"] for t in alice_history if t["kind"] == "p2p"}
    assert p2p_ids == {done["status"]["transferId"]}
    assert [t["id"] for t in bob_history] == [done["status"]["transferId"]]
    me = await alice.me()
    assert me.body["balance"]["available"] == "425.00"
    assert (await bob.me()).body["balance"]["available"] == "75.00"


async def test_a_transfer_marked_handled_but_without_its_outcome_is_finished_once(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    """kopf's two writes split by a kill: "handled" on the object, no status.

    kopf records a finished create handler on the object (an annotation) and
    its result in the status subresource, one request after the other. An
    operator killed between them (seen about once in seven kills by the
    container e2e) leaves this state behind, after the wallet moved the money.
    """
    alice = await member(api, bank, wallet, http)
    bob = await member(api, bank, wallet, http)
    await fund(wallet, alice, 50_000)
    manifest = p2p(alice, bob, "75.00")
    name = manifest["metadata"]["name"]
    manifest["metadata"]["annotations"] = {HANDLED: json.dumps({"spec": manifest["spec"]})}
    created = await api.post(transfers_url(), json=manifest)
    assert created.status == 201, await created.text()
    uid = api.read(TRANSFERS, NAMESPACE, name)["metadata"]["uid"]
    # What the killed operator had done: the wallet made the transfer under the uid.
    made = await http.post(f"{wallet.internal_url}/internal/v1/transfers",
                           json=wallet_request(manifest["spec"]),
                           headers={**auth(internal_token()), "Idempotency-Key": uid})  # fmt: skip
    assert made.status == 201, await made.text()
    transfer_id = (await made.json())["id"]

    async with running(operator_settings(api, wallet.internal_url, bank.url)):
        done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"), timeout=30)

    assert done["status"]["transferId"] == transfer_id
    assert [t["id"] for t in await history(bob)] == [transfer_id]  # once, not twice
    assert (await alice.me()).body["balance"]["available"] == "425.00"
