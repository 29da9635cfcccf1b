"""Fixtures for the operator's tests: the Transfer CRD and the API emulator."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml

from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "k8s" / "crds" / "transfers.vellet.io.yaml"
SAMPLES = sorted((ROOT / "k8s" / "samples").glob("*.yaml"))
TRANSFERS = kmock.resource("vellet.io", "v1alpha1", "transfers")

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


@pytest.fixture
async def api(crd: Crd) -> AsyncIterator[ApiServer]:
    async with ApiServer.running([crd], namespaces=["default", "other"]) as server:
        yield server
