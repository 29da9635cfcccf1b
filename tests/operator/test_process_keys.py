"""No running service can mint an admin token: its environment holds no admin key.

The wallet, the bank and the operator are started as real processes the way
``vellet up`` and the fault drill configure them -- one generated key
directory, and each process pointed by ``*_FILE`` variables at only its own
private key and the public keys it trusts (``keyfiles.file_env``). Then what
each process holds is read back from outside: ``/proc/<pid>/environ`` and
every file a ``*_FILE`` variable names. The bank-admin private key is in none
of them, and each holds exactly one private key, its own. The wallet's
sign-up start going through shows those keys also work between the processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.operator.emulator.server import ApiServer
from tests.operator.stack import OperatorProcess, operator_settings, with_port
from tests.support.bank import bank_env
from tests.support.flow_processes import wallet_env
from vellet.bank import admin as bank_admin
from vellet.bench.faults import ServiceProcess, wait_healthy
from vellet.common import keyfiles, keys
from vellet.common.embedded import free_port
from vellet.wallet import database

PRIVATE = "-----BEGIN PRIVATE KEY-----"


def held(pid: int) -> tuple[dict[str, str], list[str]]:
    """A process's environment, and every file its ``VELLET_*_FILE`` variables name."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    texts = list(env.values())
    named = [v for k, v in env.items() if k.startswith("VELLET_") and k.endswith("_FILE")]
    texts += [Path(path).read_text() for path in named]
    return env, texts


def own_env(env: dict[str, str], directory: Path, service: str) -> dict[str, str]:
    """``env`` with its key variables replaced by files, exactly as ``vellet up`` does."""
    kept = {k: v for k, v in env.items() if not keyfiles.is_key_variable(k)}
    return kept | keyfiles.file_env(directory, service)


@dataclass
class Running:
    #: pid by service name.
    pids: dict[str, int]
    #: The key directory's contents, as generated.
    generated: dict[str, keys.PrivateKey]
    wallet_url: str


@pytest.fixture
async def running(clean_databases, redis_url: str, api: ApiServer,  # type: ignore[no-untyped-def]
                  tmp_path: Path) -> AsyncIterator[Running]:  # fmt: skip
    directory = tmp_path / "keys"
    generated = keyfiles.ensure(directory)
    bank_db = await clean_databases.create("bank", bank_admin.MIGRATIONS)
    wallet_db = await clean_databases.create("wallet", database.MIGRATIONS)
    port = free_port()
    bank = ServiceProcess("bank", own_env(bank_env(bank_db, redis_url, port), directory, "bank"),
                          port, tmp_path / "bank.log")  # fmt: skip
    port = free_port()
    env = wallet_env(wallet_db, redis_url, bank.url, port)
    wallet = ServiceProcess("wallet", own_env(env, directory, "wallet"), port,
                            tmp_path / "wallet.log")  # fmt: skip
    settings = with_port(operator_settings(api, wallet.url, bank.url), free_port())
    operator = OperatorProcess(settings, api, key_vars=keyfiles.file_env(directory, "operator"))
    try:
        await bank.start()
        await wallet.start()
        await operator.start()
        assert operator.proc is not None
        assert bank.pid is not None
        assert wallet.pid is not None
        await wait_healthy(f"http://127.0.0.1:{settings.http.port}", operator.proc)
        pids = {"bank": bank.pid, "wallet": wallet.pid, "operator": operator.proc.pid}
        yield Running(pids, generated, wallet.url)
    finally:
        operator.stop()
        wallet.stop()
        bank.stop()


@pytest.mark.parametrize("service", ["wallet", "bank", "operator"])
async def test_a_running_service_holds_its_own_key_and_never_the_admin_key(
    running: Running, service: str
) -> None:
    env, texts = held(running.pids[service])
    admin = running.generated["bank-admin"]
    admin_vars = {keys.private_key_var("bank-admin"), f"{keys.private_key_var('bank-admin')}_FILE"}
    assert not admin_vars & set(env)
    admin_body = "".join(admin.pem().splitlines()[1:-1])
    assert not [t for t in texts if admin_body in t.replace("\n", "")]
    # Exactly one private key, its own; everything else it can read is public.
    own = running.generated[service].pem().strip()
    assert [t.strip() for t in texts if PRIVATE in t] == [own]
    for signer in keyfiles.ROLES[service][1]:
        assert f"{keys.public_key_var(signer)}_FILE" in env


async def test_the_keys_from_files_work_between_the_processes(running: Running) -> None:
    """The wallet's token, signed from its key file, is accepted by the bank process
    (a refused token would make the sign-up start a 503 bank_unavailable)."""
    body = {"account_number": "123456789012"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{running.wallet_url}/api/v1/auth/signup", json=body) as resp,
    ):
        assert resp.status == 202, await resp.text()
