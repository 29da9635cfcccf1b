"""``target``: the stack the scenarios run against, one per target, parametrised.

- ``local``: `vellet up` (every run).
- ``containers``: the chart's rendered workloads as podman containers (marked
  ``image``, as the other tests that build the image; every `make test`).
- ``kind``: a kind cluster, opt-in with ``pytest -m kind``; skipped, with the reason,
  unless asked for and unless docker, kind, helm and kubectl are there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.e2e.targets import kind
from tests.e2e.targets.base import Target

TARGETS = [
    pytest.param("local", id="local"),
    pytest.param("containers", id="containers", marks=pytest.mark.image),
    pytest.param("kind", id="kind", marks=pytest.mark.kind),
]


def _kind_wanted(config: pytest.Config) -> bool:
    return "kind" in (config.getoption("-m") or "").replace("not kind", "")


@pytest.fixture(scope="module", params=TARGETS)
async def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "local":
        from tests.e2e.targets import local

        async with local.running(tmp) as found:
            yield found
    elif request.param == "containers":
        from tests.e2e.targets import containers
        from tests.image.podman import built_image

        ready_within = float(os.environ.get("VELLET_E2E_READY_WITHIN", "120"))
        async with containers.running(built_image(), tmp, ready_within, request.session) as found:
            yield found
    else:
        if not _kind_wanted(request.config):
            pytest.skip(
                "the kind target is opt-in: pytest -m kind (needs docker, kind, helm, kubectl)"
            )
        why = kind.missing()
        if why:
            pytest.skip(why)
        async with kind.running(tmp, request.session) as found:
            yield found
