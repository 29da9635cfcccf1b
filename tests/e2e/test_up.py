"""`vellet up` as a newcomer runs it: a real process, real embedded servers.

It must start everything, say where things are, serve, and stop cleanly on
Ctrl-C (SIGINT), leaving no server it started behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import psutil
import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from tests.support.waiting import eventually
from vellet.common import keys, redis_acl, streams, tokens
from vellet.common.embedded import free_port


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env.update(VELLET_HOME=str(tmp), VELLET_BANK_PORT=str(free_port()),
               VELLET_WALLET_PORT=str(free_port()), VELLET_NOTIFIER_PORT=str(free_port()),
               VELLET_WALLET_INTERNAL_PORT=str(free_port()),
               VELLET_BANK_INTERNAL_PORT=str(free_port()),
               VELLET_SINK_SMTP_PORT=str(free_port()),
               VELLET_SINK_HTTP_PORT=str(free_port()), VELLET_LOG_LEVEL="INFO",
               VELLET_PROMETHEUS_PORT=str(free_port()),
               VELLET_PROMETHEUS_INTERVAL="0.5")  # fmt: skip
    return env


async def _read_until_ready(proc: subprocess.Popen[str], timeout: float = 90.0) -> str:
    assert proc.stdout is not None
    out: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        line = await loop.run_in_executor(None, proc.stdout.readline)
        if not line and proc.poll() is not None:
            break
        out.append(line)
        if line.strip() == "vellet: ready":
            return "".join(out)
    raise AssertionError("vellet up never became ready:\n" + "".join(out))


async def _demo_user_can_log_in(
    http: aiohttp.ClientSession, env: dict[str, str], summary: str
) -> str:
    wallet = f"http://127.0.0.1:{env['VELLET_WALLET_PORT']}"
    assert "100000000001 / demo-100000000001" in summary
    login = {"account_number": "100000000001", "password": "demo-100000000001"}
    async with http.post(f"{wallet}/api/v1/auth/login", json=login) as resp:
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["token"]
        # Plain HTTP on loopback: vellet up opts out of Secure cookies explicitly,
        # or a browser on http://127.0.0.1 would never send the session back.
        cookies = resp.headers.getall("Set-Cookie")
    assert cookies
    assert not any("Secure" in c.split("; ") for c in cookies), cookies
    async with http.get(
        f"{wallet}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200
        me = await resp.json()
    assert me["account_number"] == "100000000001"
    assert me["email"].endswith("@example.test"), "the e-mail came from the bank"
    return str(token)


async def _deposit_then_pay_and_mail(
    http: aiohttp.ClientSession, env: dict[str, str], token: str, sink: str
) -> None:
    """Money in from the bank, out to another user, and both told by mail."""
    wallet = f"http://127.0.0.1:{env['VELLET_WALLET_PORT']}"
    auth = {"Authorization": f"Bearer {token}"}
    deposit = {"kind": "deposit", "amount": "100.00", "currency": "INR"}
    async with http.post(
        f"{wallet}/api/v1/transfers",
        json=deposit,
        headers={**auth, "Idempotency-Key": "e2e-deposit"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["state"] == "posted"
    pay = {
        "kind": "p2p",
        "amount": "25.50",
        "currency": "INR",
        "to_account": "100000000002",
        "note": "<b>lunch</b>",
    }
    async with http.post(
        f"{wallet}/api/v1/transfers", json=pay, headers={**auth, "Idempotency-Key": "e2e-p2p"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["state"] == "posted"
    async with http.get(f"{wallet}/api/v1/me", headers=auth) as resp:
        assert (await resp.json())["balance"]["available"] == "74.50"

    async def mails() -> list[dict[str, object]]:
        async with http.get(f"{sink}/messages.json") as resp:
            assert resp.status == 200
            return list(await resp.json())

    found = await eventually(mails, lambda m: len(m) >= 3, timeout=30)
    recipients = sorted(str(m["to"]) for m in found)
    assert len(found) == 3, recipients  # deposit: owner; p2p: sender and recipient
    assert sum("100000000001" in r or ".1@" in r for r in recipients) == 2, recipients


async def _scrapes_every_component(http: aiohttp.ClientSession, prometheus: str) -> None:
    """`--prometheus`: every component is a target, up, with the shipped rules loaded."""

    async def targets() -> dict[str, str]:
        async with http.get(f"{prometheus}/api/v1/targets") as resp:
            active = (await resp.json())["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in active}

    want = {"vellet-bank": "up", "vellet-wallet": "up", "vellet-notifier": "up"}
    await eventually(targets, lambda found: found == want, timeout=30, interval=0.2)
    async with http.get(f"{prometheus}/api/v1/rules") as resp:
        groups = (await resp.json())["data"]["groups"]
    assert any(r["name"] == "VelletBankUnavailable" for g in groups for r in g["rules"])


async def _internal_surfaces_only_on_internal_ports(
    http: aiohttp.ClientSession, env: dict[str, str], summary: str
) -> None:
    """The printout names both ports; what it says is internal is not on the public one."""
    wallet = f"http://127.0.0.1:{env['VELLET_WALLET_PORT']}"
    internal = f"http://127.0.0.1:{env['VELLET_WALLET_INTERNAL_PORT']}"
    bank_internal = f"http://127.0.0.1:{env['VELLET_BANK_INTERNAL_PORT']}"
    assert f"  internal  {internal}  (/internal/v1, /metrics)" in summary
    assert f"  internal  {bank_internal}  (admin routes, /metrics)" in summary
    async with http.get(f"{wallet}/metrics") as resp:
        assert resp.status == 404
    async with http.get(f"{wallet}/internal/v1/transfers") as resp:
        assert resp.status == 404
    async with http.get(f"{internal}/metrics") as resp:
        assert resp.status == 200
        assert "vellet_http_requests_total" in await resp.text()
    async with http.get(f"{internal}/internal/v1/transfers") as resp:
        assert resp.status == 401  # there, and asking for a service token


async def _newcomer_signs_up_with_the_mailed_code(
    http: aiohttp.ClientSession, env: dict[str, str], summary: str, sink: str
) -> None:
    """The README's walkthrough: start, read the code at the sink's page, complete."""
    wallet = f"http://127.0.0.1:{env['VELLET_WALLET_PORT']}"
    assert "sign up    100000000004, 100000000005" in summary
    number = "100000000004"
    async with http.post(f"{wallet}/api/v1/auth/signup", json={"account_number": number}) as r:
        assert r.status == 202, await r.text()
        assert "@" not in await r.text()  # nothing about the holder before the code

    async def code_mails() -> list[dict[str, object]]:
        async with http.get(f"{sink}/messages.json") as resp:
            return [m for m in await resp.json() if m["subject"] == "Your Vellet sign-up code"]

    [mail] = await eventually(code_mails, lambda m: len(m) == 1, timeout=30)
    async with http.get(f"{sink}/messages/{mail['id']}/raw") as resp:
        code = re.search(r"^ {4}([0-9]{6})\s*$", await resp.text(), re.M)
    assert code is not None
    body = {"account_number": number, "code": code.group(1), "password": "my long password"}
    async with http.post(f"{wallet}/api/v1/auth/signup/complete", json=body) as resp:
        assert resp.status == 201, await resp.text()
        user = await resp.json()
    assert user["email"] == str(mail["to"]).strip("<>").split("<")[-1].rstrip(">")
    login = {"account_number": number, "password": "my long password"}
    async with http.post(f"{wallet}/api/v1/auth/login", json=login) as resp:
        assert resp.status == 200


async def _each_service_is_its_own_redis_user(summary: str, kept: dict[str, str]) -> None:
    """The services connect as bank, wallet and notifier; the notifier's may not queue."""
    port = re.search(r"Redis +redis://admin:\*\*\*@127\.0\.0\.1:(\d+)/0", summary)
    assert port is not None, summary
    plain = f"redis://127.0.0.1:{port.group(1)}/0"
    admin = aioredis.Redis.from_url(
        redis_acl.with_credentials(plain, "admin", kept["VELLET_REDIS_ADMIN_PASSWORD"]),
        decode_responses=True,
    )
    notifier = aioredis.Redis.from_url(
        redis_acl.with_credentials(plain, "notifier", kept["VELLET_REDIS_NOTIFIER_PASSWORD"])
    )
    try:
        clients = await admin.client_list()
        assert {c["user"] for c in clients} == {"admin", "bank", "wallet", "notifier"}
        with pytest.raises(NoPermissionError):
            await notifier.xadd(streams.BANK_REQUESTS, {"payload": "{}"})
    finally:
        await admin.aclose()
        await notifier.aclose()


async def _admin_token_from_the_cli_opens_an_account(
    http: aiohttp.ClientSession, bank_url: str, keys_dir: Path, wallet_token: str
) -> None:
    """The admin key vellet up generated, in a person's hands: the wallet's key can't."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env["VELLET_BANK_ADMIN_KEY_FILE"] = str(keys_dir / "bank-admin.key")
    command = [sys.executable, "-m", "vellet", "bank", "token", "--admin"]
    minted = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                            timeout=60)  # fmt: skip
    body = {"account_number": "200000000001", "name": "New Holder", "currency": "INR",
            "email": "new@example.test", "balance": "10.00"}  # fmt: skip
    async with http.post(f"{bank_url}/api/v1/accounts", json=body,
                         headers={"Authorization": f"Bearer {wallet_token}"}) as resp:  # fmt: skip
        assert resp.status == 401
    admin = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    async with http.post(f"{bank_url}/api/v1/accounts", json=body, headers=admin) as resp:
        assert resp.status == 201, await resp.text()


@pytest.mark.e2e
async def test_vellet_up_serves_and_stops_cleanly(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vellet", "up", "--accounts", "3", "--prometheus"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        summary = await _read_until_ready(proc)
        pids = [int(p) for p in re.findall(r"\(pid (\d+)", summary)]
        assert len(pids) == 3, summary  # PostgreSQL, Redis, Prometheus
        bank_url = f"http://127.0.0.1:{env['VELLET_BANK_PORT']}"
        assert bank_url in summary
        prometheus = f"http://127.0.0.1:{env['VELLET_PROMETHEUS_PORT']}"
        assert f"Prometheus  {prometheus}" in summary
        # The first thing said after "Vellet is up." is where to click, and how to log in.
        wallet_url = f"http://127.0.0.1:{env['VELLET_WALLET_PORT']}"
        after = summary.split("Vellet is up.\n", 1)[1].splitlines()[0].strip()
        assert after == (f"Open the dashboard: {wallet_url}/  (log in with account "
                         "100000000001, password demo-100000000001)")  # fmt: skip

        kept = dict(
            line.split("=", 1) for line in (tmp_path / "secrets.env").read_text().splitlines()
        )
        for value in kept.values():
            assert value not in summary, "secrets are never printed"
        await _each_service_is_its_own_redis_user(summary, kept)
        keys_dir = tmp_path / "keys"
        wallet_key = keys.parse_private((keys_dir / "wallet.key").read_text(), name="wallet")
        assert wallet_key.pem() not in summary, "keys are never printed"
        assert stat.S_IMODE((keys_dir / "bank-admin.key").stat().st_mode) == 0o600
        token = tokens.mint(wallet_key, signer="wallet", audience=tokens.BANK_AUDIENCE,
                            subject="wallet")  # fmt: skip
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{bank_url}/readyz") as resp:
                assert resp.status == 200
            await _scrapes_every_component(http, prometheus)
            await _internal_surfaces_only_on_internal_ports(http, env, summary)
            async with http.get(f"{wallet_url}/login") as resp:
                assert resp.status == 200
                assert "<h1>Log in</h1>" in await resp.text()
            async with http.get(
                f"{bank_url}/api/v1/accounts/100000000001",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["currency"] == "INR"
            bank_internal = f"http://127.0.0.1:{env['VELLET_BANK_INTERNAL_PORT']}"
            await _admin_token_from_the_cli_opens_an_account(http, bank_internal, keys_dir, token)
            sink = f"http://127.0.0.1:{env['VELLET_SINK_HTTP_PORT']}"
            token = await _demo_user_can_log_in(http, env, summary)
            await _deposit_then_pay_and_mail(http, env, token, sink)
            await _newcomer_signs_up_with_the_mailed_code(http, env, summary, sink)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        said = summary + proc.stdout.read()
        assert [name for name, value in kept.items() if value in said] == [], (
            "secrets (the Redis passwords among them) are never printed or logged"
        )
        assert not [
            p
            for p in pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
