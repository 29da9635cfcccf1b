"""Fixtures for the operator's tests: the Transfer CRD, the API emulator, and the
real bank and wallet (in this event loop, on loopback ports) behind the operator."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import pytest
import yaml

from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer
from tests.support.bank import FAST_STREAMS, RunningBank, start_bank
from tests.wallet.stack import RunningWallet, start_wallet
from vellet.bank import admin as bank_admin
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings
from vellet.wallet import database
from vellet.wallet.settings import BankFlowSettings

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "k8s" / "crds" / "transfers.vellet.io.yaml"
BINDING_CRD_PATH = ROOT / "k8s" / "crds" / "accountbindings.vellet.io.yaml"
POLICY_PATH = ROOT / "k8s" / "crds" / "transfers-debit-bound-accounts.policy.yaml"
SAMPLES = sorted((ROOT / "k8s" / "samples").glob("*.yaml"))
TRANSFERS = kmock.resource("vellet.io", "v1alpha1", "transfers")
BINDINGS = kmock.resource("vellet.io", "v1alpha1", "accountbindings")

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def load_sample(name: str) -> dict[str, Any]:
    """A copy of k8s/samples/<name>.yaml."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "k8s" / "samples" / f"{name}.yaml").read_text())
    return copy.deepcopy(loaded)


def transfers_url(
    namespace: str = "default", name: str | None = None, sub: str | None = None
) -> str:
    url = f"/apis/vellet.io/v1alpha1/namespaces/{namespace}/transfers"
    if name is not None:
        url += f"/{name}"
    if sub is not None:
        url += f"/{sub}"
    return url


@pytest.fixture(scope="session")
def crd() -> Crd:
    return Crd.load(CRD_PATH)


@pytest.fixture(scope="session")
def binding_crd() -> Crd:
    return Crd.load(BINDING_CRD_PATH)


@pytest.fixture
async def api(crd: Crd, binding_crd: Crd) -> AsyncIterator[ApiServer]:
    async with ApiServer.running([crd, binding_crd], namespaces=["default", "other"]) as server:
        yield server


async def bind(api: ApiServer, namespace: str, *accounts: str) -> None:
    """What a cluster administrator does: add ``accounts`` to the namespace's AccountBinding."""
    url = f"/apis/vellet.io/v1alpha1/namespaces/{namespace}/accountbindings"
    try:
        current = api.read(BINDINGS, namespace, "vellet")["spec"]["accounts"]
    except KeyError:
        body = {"apiVersion": "vellet.io/v1alpha1", "kind": "AccountBinding",
                "metadata": {"name": "vellet"}, "spec": {"accounts": list(accounts)}}  # fmt: skip
        response = await api.post(url, json=body)
        assert response.status == 201, await response.text()
        return
    patch = {"spec": {"accounts": [*current, *(a for a in accounts if a not in current)]}}
    response = await api.patch(f"{url}/vellet", json=patch, headers=MERGE)
    assert response.status == 200, await response.text()


# ---------------------------------------------------------------- real services


@dataclass
class Bank:
    """The real bank, in this event loop, on a fixed port so it can go down and come back
    (its internal port, where accounts are opened, is a fresh one each start)."""

    database_url: str
    redis_url: str
    port: int = field(default_factory=free_port)
    running: RunningBank | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.running = await start_bank(
            self.database_url, self.redis_url, http=HttpSettings(port=self.port)
        )

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None

    async def create_account(self, number: str, balance: str = "1000.00") -> None:
        assert self.running is not None
        await self.running.create_account(number, balance=balance)


@pytest.fixture
async def bank(clean_databases, redis_url: str) -> AsyncIterator[Bank]:  # type: ignore[no-untyped-def]
    bank = Bank(await clean_databases.create("bank", bank_admin.MIGRATIONS), redis_url)
    await bank.start()
    yield bank
    await bank.stop()


@pytest.fixture
async def wallet(clean_databases, redis_url: str, bank: Bank) -> AsyncIterator[RunningWallet]:  # type: ignore[no-untyped-def]
    """The real wallet; its own reconcile timer is off, as in a cluster: only the
    operator re-drives stuck transfers here."""
    dsn = await clean_databases.create("wallet", database.MIGRATIONS)
    running = await start_wallet(
        dsn,
        redis_url,
        bank.url,
        streams=FAST_STREAMS,
        flows=BankFlowSettings(reconciler=False, transfer_timeout=1.0, relay_interval=0.1),
    )
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
