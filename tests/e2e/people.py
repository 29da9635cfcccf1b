"""The scenarios' people and their mail, through a target's public surfaces only: the
wallet API, the mail sink's HTTP page, kubectl. Nothing here knows which target it is."""

from __future__ import annotations

import asyncio
import email
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.targets.base import KUBECTL, NAMESPACE, Target
from tests.wallet.stack import WalletClient
from vellet.bank.domain import demo_accounts
from vellet.bank.mailer import SUBJECT as CODE_SUBJECT
from vellet.bank.mailer import find_code

#: The newcomers' bank accounts: every target seeds four demo accounts and leaves these
#: three unregistered (`bank seed --accounts 4`; `vellet up --accounts 1 --unregistered 3`).
ACCOUNTS = {a.account_number: a.email for a in demo_accounts(4)[1:]}
PASSWORD = "e2e-correct-horse-battery"


async def mails(http: aiohttp.ClientSession, sink: str, address: str) -> list[EmailMessage]:
    """Every mail the sink holds for ``address``, oldest first, parsed."""
    async with http.get(f"{sink}/messages.json") as response:
        assert response.status == 200, await response.text()
        rows = await response.json()
    found = []
    for row in reversed(rows):
        if address not in row["to"]:
            continue
        async with http.get(f"{sink}/messages/{row['id']}/raw") as response:
            raw = await response.read()
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


async def wait_for(what: str, check: Any, within: float = 60.0, every: float = 0.5) -> Any:
    """Poll ``check()`` (async) until it returns something truthy; fail saying ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {within:.0f}s (last: {last!r})")


@dataclass
class People:
    target: Target
    http: aiohttp.ClientSession
    users: dict[str, WalletClient] = field(default_factory=dict)

    async def user(self, number: str) -> WalletClient:
        """The holder of ``number``, signed up (once, the newcomer's way) and logged in."""
        if number not in self.users:
            client = WalletClient(self.http, self.target.wallet)
            if (await client.login(number, PASSWORD)).status != 200:
                await self.sign_up(client, number)
                assert (await client.login(number, PASSWORD)).status == 200
            self.users[number] = client
        return self.users[number]

    async def sign_up(self, client: WalletClient, number: str) -> None:
        address = ACCOUNTS[number]
        before = len(await mails(self.http, self.target.sink, address))
        started = await client.start_signup(number)
        assert started.status == 202, started.body

        async def code() -> str | None:
            got = await mails(self.http, self.target.sink, address)
            fresh = [m for m in got[before:] if m["Subject"] == CODE_SUBJECT]
            return find_code(fresh[-1]) if fresh else None

        done = await client.complete_signup(number, await wait_for("sign-up code", code), PASSWORD)
        assert done.status == 201, done.body

    async def balance(self, number: str) -> Decimal:
        me = await (await self.user(number)).me()
        assert me.status == 200, me.body
        return Decimal(me.body["balance"]["available"])

    async def move(
        self, number: str, kind: str, amount: str, **extra: str
    ) -> tuple[int, dict[str, Any]]:
        client = await self.user(number)
        body = {"kind": kind, "amount": amount, "currency": "INR", **extra}
        reply = await client.call(
            "POST", "/api/v1/transfers", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        return reply.status, reply.body

    async def history(self, number: str) -> list[dict[str, Any]]:
        reply = await (await self.user(number)).call("GET", "/api/v1/transfers?limit=100")
        assert reply.status == 200, reply.body
        return list(reply.body["items"])

    async def state_of(self, number: str, transfer: str) -> str:
        reply = await (await self.user(number)).call("GET", f"/api/v1/transfers/{transfer}")
        assert reply.status == 200, reply.body
        return str(reply.body["state"])


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    """The real kubectl (v1.34, from .tools) against the target's Kubernetes API."""
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        NAMESPACE,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(None if stdin is None else stdin.encode())
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


async def transfer_status(kubeconfig: Path, name: str) -> dict[str, Any]:
    got = json.loads(await kubectl(kubeconfig, "get", "transfer", name, "-o", "json"))
    return dict(got.get("status") or {})
