"""The drill's deployment: two banks, two wallets and a notifier as processes.

wallet-a reaches bank-a through a :class:`GateProxy` (its answers can be
lost, delayed or never arrive), and its database and Redis through proxies
of :mod:`vellet.bench.drill_net`; wallet-b reaches everything directly. The
banks and the wallets have a PostgreSQL each, so either can restart alone;
they share one Redis. Every replica has its own consumer name; both wallets
run the reconciler (they take turns through an advisory lock). Thresholds
are short so that a lost queue is re-driven in seconds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from vellet.bank.mailer import SUBJECT as CODE_SUBJECT
from vellet.bank.mailer import find_code
from vellet.bench.drill_load import User
from vellet.bench.drill_net import Links, start_links
from vellet.bench.faults import ServiceProcess
from vellet.bench.faults_net import GateProxy
from vellet.bench.p2p_servers import fresh_database
from vellet.common import keyfiles, keys, streams, tokens
from vellet.common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from vellet.notifier.sink import MailSink, start_sink, take_mail

_SETTINGS = {
    "VELLET_STREAM_BLOCK_MS": "200",
    "VELLET_STREAM_CLAIM_IDLE_MS": "2000",
    "VELLET_STREAM_MAX_DELIVERIES": "20",
    "VELLET_LOG_LEVEL": "ERROR",
}
_WALLET_SETTINGS = {
    "VELLET_ARGON2_MEMORY_KIB": "1024",
    "VELLET_ARGON2_TIME_COST": "1",
    "VELLET_ARGON2_PARALLELISM": "1",
    "VELLET_SESSION_TTL": "7200",
    "VELLET_BANK_TRANSFER_TIMEOUT": "1.0",
    "VELLET_BANK_BREAKER_FAILURES": "3",
    "VELLET_BANK_BREAKER_RESET": "1.0",
    "VELLET_BANK_RELAY_INTERVAL": "0.2",
    "VELLET_OUTBOX_INTERVAL": "0.5",
    "VELLET_WALLET_RECONCILER": "true",
    "VELLET_RECONCILE_INTERVAL": "1.0",
    "VELLET_STUCK_AFTER": "3",
    "VELLET_SIGNUP_MAX_PER_ADDRESS": "100000",  # every drill user signs up from loopback
}


@dataclass
class Stack:
    root: Path
    pg: EmbeddedPostgres
    redis: EmbeddedRedis
    #: Every signer's key pair; each process is pointed at only its own files.
    keys_dir: Path
    bank_db: str
    wallet_db: str
    banks: list[ServiceProcess]
    wallets: list[ServiceProcess]
    proxy: GateProxy
    #: Where the banks mail sign-up codes (read back by ``open_users``).
    sink: MailSink
    #: The wallets' own PostgreSQL (``pg`` holds the bank's database).
    wallet_pg: EmbeddedPostgres
    #: wallet-a's other links, the notifier and its mail sink.
    links: Links

    @property
    def wallet_urls(self) -> list[str]:
        return [w.url for w in self.wallets]

    async def start_banks(self) -> None:
        for bank in self.banks:  # one after the other: they migrate on start
            if not bank.alive():
                await bank.start()

    async def ensure_running(self) -> None:
        await self.start_banks()
        for wallet in self.wallets:
            if not wallet.alive():
                await wallet.start()
        if not self.links.notifier.alive():
            await self.links.notifier.start()

    async def flushall(self) -> None:
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()

    def _admin(self) -> dict[str, str]:
        # The drill plays the person with the admin key: no bank or wallet holds it.
        admin = keys.parse_private(
            (self.keys_dir / keyfiles.private_file("bank-admin")).read_text(), name="bank-admin"
        )
        token = tokens.mint(admin, signer="bank-admin", audience=tokens.BANK_AUDIENCE,
                            subject="drill", role=tokens.ADMIN_ROLE)  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    async def open_users(self, http: aiohttp.ClientSession, count: int) -> list[User]:
        users = []
        for i in range(count):
            number = f"{300_000_000_000 + i}"
            body = {"account_number": number, "name": f"Drill {i}", "currency": "INR",
                    "email": f"drill{i}@example.test", "balance": "5000.00"}  # fmt: skip
            async with http.post(f"{self.banks[0].internal_url}/api/v1/accounts", json=body,
                                 headers=self._admin()) as resp:  # fmt: skip
                assert resp.status == 201, await resp.text()
            creds = {"account_number": number, "password": "drill password 1"}
            wallet = self.wallets[0].url
            start = {"account_number": number}
            async with http.post(f"{wallet}/api/v1/auth/signup", json=start) as resp:
                assert resp.status == 202, await resp.text()
            mail = await take_mail(self.sink.maildir, body["email"], subject=CODE_SUBJECT)
            complete = creds | {"code": find_code(mail) or ""}
            async with http.post(f"{wallet}/api/v1/auth/signup/complete", json=complete) as resp:
                assert resp.status == 201, await resp.text()
            async with http.post(f"{wallet}/api/v1/auth/login", json=creds) as resp:
                assert resp.status == 200, await resp.text()
                users.append(User(number, (await resp.json())["token"]))
        return users

    async def close_bank_accounts(self, http: aiohttp.ClientSession, users: list[User]) -> None:
        for user in users:
            url = f"{self.banks[0].internal_url}/api/v1/accounts/{user.account_number}"
            async with http.patch(url, json={"status": "closed"}, headers=self._admin()) as resp:
                assert resp.status == 200, await resp.text()

    async def wait_settled(self, within: float) -> int:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = await _fetchval(self.wallet_db, "SELECT count(*) FROM transfers "
                                   "WHERE state IN ('pending', 'queued')")  # fmt: skip
            if left == 0 or asyncio.get_running_loop().time() > deadline:
                return int(left)
            await asyncio.sleep(0.5)

    async def evidence(self, accepted: set[str]) -> dict[str, int]:
        ids = [uuid.UUID(a) for a in accepted]
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            dead = sum([await client.xlen(streams.dead_letter_stream(s))
                        for s in (streams.BANK_REQUESTS, streams.BANK_RESULTS)])  # fmt: skip
            # Commands a service's ACL user was refused (since Redis last started): a
            # service kept from its own work would show here before it showed as money.
            denials = len(await client.acl_log(count=128))
        finally:
            await client.aclose()
        return {
            "wallet_transfers": await _fetchval(self.wallet_db, "SELECT count(*) FROM transfers "
                                                "WHERE kind IN ('deposit', 'withdrawal')"),
            "accepted_found": await _fetchval(self.wallet_db, "SELECT count(*) FROM transfers "
                                              "WHERE id = ANY($1::uuid[])", ids),
            "republished": await _fetchval(self.wallet_db,
                                           "SELECT count(*) FROM transfers WHERE attempts > 1"),
            "misentered": await _fetchval(self.wallet_db, _MISENTERED),
            "dead_letters": int(dead),
            "acl_denials": denials,
        }  # fmt: skip

    async def stop(self) -> None:
        for proc in [*self.wallets, *self.banks]:
            proc.stop()
        await self.proxy.stop()
        await self.sink.stop()
        await self.links.stop()


# Posted transfers with other than exactly two entries (a repeated posting would add two).
_MISENTERED = """
SELECT count(*) FROM transfers t
WHERE t.kind IN ('deposit', 'withdrawal')
  AND (SELECT count(*) FROM entries e WHERE e.transfer_id = t.id)
      <> CASE t.state WHEN 'posted' THEN 2 ELSE 0 END
"""


async def _fetchval(dsn: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    return env | _SETTINGS | extra


async def start_stack(root: Path, pg: EmbeddedPostgres, redis: EmbeddedRedis,
                      wallet_pg: EmbeddedPostgres) -> Stack:  # fmt: skip
    bank_db = await fresh_database(pg.admin_url, "drill_bank")
    wallet_db = await fresh_database(wallet_pg.admin_url, "drill_wallet")
    keys_dir = root / "keys"
    keyfiles.ensure(keys_dir)
    links = await start_links(root, wallet_db, redis, keys_dir)
    sink = await start_sink(root / "mail")
    code_key = secrets.token_urlsafe(32)
    banks = []
    for name in ("bank-a", "bank-b"):
        port, internal = free_port(), free_port()
        env = _env({"VELLET_BANK_DATABASE_URL": bank_db, "VELLET_REDIS_URL": redis.url_for("bank"),
                    **keyfiles.file_env(keys_dir, "bank"), "VELLET_BANK_PORT": str(port),
                    "VELLET_BANK_INTERNAL_PORT": str(internal),
                    "VELLET_CONSUMER_NAME": name, "VELLET_BANK_CODE_KEY": code_key,
                    "VELLET_BANK_SMTP_HOST": sink.host,
                    "VELLET_BANK_SMTP_PORT": str(sink.smtp_port)})  # fmt: skip
        banks.append(
            ServiceProcess("bank", env, port, root / f"{name}.log", internal_port=internal)
        )
    proxy = await GateProxy("127.0.0.1", banks[0].port).start()
    session_secret = secrets.token_urlsafe(32)
    wallets = []
    # The wallets' own Redis user; through the proxy its user:password stays in the URL.
    wallet_redis = redis.url_for("wallet")
    links_of = {"wallet-a": (links.wallet_db.address_for(wallet_db),
                             links.wallet_redis.address_for(wallet_redis)),
                "wallet-b": (wallet_db, wallet_redis)}  # fmt: skip
    for name, bank_url in (("wallet-a", proxy.url), ("wallet-b", banks[1].url)):
        port, internal = free_port(), free_port()
        db_url, redis_url = links_of[name]
        env = _env(_WALLET_SETTINGS | {
            "VELLET_WALLET_DATABASE_URL": db_url, "VELLET_REDIS_URL": redis_url,
            "VELLET_BANK_URL": bank_url, **keyfiles.file_env(keys_dir, "wallet"),
            "VELLET_SESSION_SECRET": session_secret, "VELLET_WALLET_PORT": str(port),
            "VELLET_WALLET_INTERNAL_PORT": str(internal), "VELLET_CONSUMER_NAME": name,
        })  # fmt: skip
        wallets.append(
            ServiceProcess("wallet", env, port, root / f"{name}.log", internal_port=internal)
        )
    stack = Stack(root, pg, redis, keys_dir, bank_db, wallet_db, banks, wallets, proxy, sink,
                  wallet_pg, links)  # fmt: skip
    try:
        await stack.ensure_running()
    except BaseException:
        await stack.stop()
        raise
    return stack
