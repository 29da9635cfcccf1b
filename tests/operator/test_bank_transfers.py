"""Deposits and withdrawals: Transfers that wait for the bank.

With the bank up they are posted at once (or voided when the bank says no,
the reservation released). While the bank is down a deposit goes Queued with
BankAvailable=False and is posted once when the bank is back. To prove the
operator's re-drive (not the bank's own stream consumer) is what finishes
it, that test trims the bank request stream while the bank is down -- as
when Redis loses a message -- and the wallet's own reconcile timer is off
(``conftest.wallet``), as in a cluster. Only a re-drive through the wallet's
internal API, made once the bank's health check passes, can then get the
money to move.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.operator.conftest import TRANSFERS, Bank, load_sample, transfers_url
from tests.operator.emulator.server import ApiServer
from tests.operator.stack import (
    NAMESPACE,
    available,
    bank_side,
    condition,
    events_about,
    lose_bank_requests,
    member,
    operator_settings,
    phase_is,
    published,
    reasons,
    requests_to,
    running,
    scraped,
    until,
)
from tests.wallet.stack import RunningWallet, fund


def deposit(account: str, amount: str, name: str) -> dict[str, Any]:
    manifest = load_sample("deposit")
    manifest["metadata"]["name"] = name
    manifest["spec"] |= {"fromAccount": account, "amount": amount}
    return manifest


def bank_unavailable(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return obj["status"].get("phase") == "Queued" and any(
        c["type"] == "BankAvailable" and c["status"] == "False" for c in conditions
    )


async def test_a_deposit_waits_out_a_bank_outage_and_is_posted_once(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    alice = await member(api, bank, wallet, http)
    account = alice.account_number or ""
    name = "top-up"
    async with running(operator_settings(api, wallet.internal_url, bank.url)) as rt:
        await bank.stop()
        await api.post(transfers_url(), json=deposit(account, "100.00", name))
        queued = await api.wait_for(TRANSFERS, NAMESPACE, name, bank_unavailable)
        # kopf's finalizer is there while the timer follows the Transfer.
        assert queued["metadata"].get("finalizers")
        assert rt.site is not None
        await scraped(rt.site.url, "vellet_operator_stuck_transfers", 1)
        await until(lambda: published(wallet.settings.redis_url))
        await lose_bank_requests(bank.redis_url)
        await bank.start()
        done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"), timeout=20)
        await api.until(lambda: "BankAvailable" in reasons(api, name) or None)
        await api.wait_for(
            TRANSFERS, NAMESPACE, name, lambda o: not o["metadata"].get("finalizers")
        )
        await scraped(rt.site.url, "vellet_operator_stuck_transfers", 0)

    transfer_id = done["status"]["transferId"]
    assert queued["status"]["transferId"] == transfer_id
    assert "bank is not answering" in condition(queued, "BankAvailable")["message"]
    assert condition(queued, "Ready")["status"] == "False"
    status = done["status"]
    assert status["attempts"] >= 2  # the creation, then at least one re-drive
    bank_available = condition(done, "BankAvailable")
    assert (bank_available["status"], condition(done, "Ready")["reason"]) == ("True", "Posted")
    # The money moved once: out of the bank account, into the wallet.
    reply = await alice.me()
    assert reply.body["balance"]["available"] == "100.00"
    assert await bank_side(bank, account, transfer_id) == (90_000, 1)
    assert await requests_to(wallet.internal_url, "POST", "/internal/v1/transfers") == 1
    assert (
        await requests_to(
            wallet.internal_url, "POST", "/internal/v1/transfers/{transfer_id}/redrive"
        )
        >= 1
    )
    # Events tell the story, warnings for the bad news.
    story = [(e["type"], e["reason"]) for e in events_about(api, name)]
    assert ("Normal", "Queued") in story
    assert ("Warning", "BankUnavailable") in story
    assert ("Normal", "Redriven") in story
    assert story.index(("Warning", "BankUnavailable")) < story.index(("Normal", "Posted"))


async def test_a_deposit_then_a_withdrawal_with_the_bank_up_are_posted_at_once(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    bob = await member(api, bank, wallet, http)
    account = bob.account_number or ""
    withdrawal = load_sample("withdrawal")
    withdrawal["spec"] |= {"fromAccount": account, "amount": "250"}
    async with running(operator_settings(api, wallet.internal_url, bank.url)):
        await api.post(transfers_url(), json=deposit(account, "300.00", "top-up"))
        await api.wait_for(TRANSFERS, NAMESPACE, "top-up", phase_is("Posted"))
        await api.post(transfers_url(), json=withdrawal)
        name = withdrawal["metadata"]["name"]
        done = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Posted"))
    assert done["status"]["attempts"] == 1
    assert await available(bob) == "50.00"
    # The bank account: 1000.00 - 300.00 + 250.00, the withdrawal executed once.
    assert await bank_side(bank, account, done["status"]["transferId"]) == (95_000, 1)


async def test_a_withdrawal_the_bank_refuses_is_voided_and_releases_the_money(
    api: ApiServer, bank: Bank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    assert bank.running is not None
    bob = await member(api, bank, wallet, http)
    # Credited in the wallet's ledger only: the bank's settlement account holds
    # nothing to pay the withdrawal out of, so the bank refuses it.
    await fund(wallet, bob, 30_000)
    withdrawal = load_sample("withdrawal")
    withdrawal["spec"] |= {"fromAccount": bob.account_number, "amount": "250"}
    name = withdrawal["metadata"]["name"]
    async with running(operator_settings(api, wallet.internal_url, bank.url)):
        await api.post(transfers_url(), json=withdrawal)
        voided = await api.wait_for(TRANSFERS, NAMESPACE, name, phase_is("Voided"))
        await api.until(lambda: "Voided" in reasons(api, name) or None)
    assert voided["status"]["message"].startswith("The bank refused the transfer; nothing moved.")
    ready = condition(voided, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Voided")
    assert [e["type"] for e in events_about(api, name) if e["reason"] == "Voided"] == ["Warning"]
    assert await available(bob) == "300.00"  # the reservation was released
    assert await requests_to(wallet.internal_url, "POST", "/internal/v1/transfers") == 1
