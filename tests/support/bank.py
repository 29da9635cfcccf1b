"""Start a real bank for tests: in-process (fast) or as a `vellet bank serve` process.

In-process banks run the real app on a random loopback port in the test's
event loop; process banks are real child processes that a test can SIGKILL.
Both use a fresh database and the session's Redis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.keys import TEST_KEYS, key_env, key_settings
from tests.support.mailbox import session_mailbox
from vellet.bank.admin import migrate
from vellet.bank.app import create_app
from vellet.bank.settings import BankSettings, CacheSettings, SignupSettings
from vellet.bench.faults import ServiceProcess
from vellet.common import tokens
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings, Secret, StreamSettings, TokenSettings
from vellet.common.web import Site, start

#: Token lifetimes of every test service (the keys are ``tests.support.keys``).
TEST_TOKENS = TokenSettings()
#: What the bank signs as and trusts, as in ``BankSettings.from_env``.
BANK_KEYS = ("bank", ("wallet", "bank-admin"))
#: The key sign-up codes are stored under, shared by every test bank (replicas too).
TEST_CODE_KEY = "test-code-key-not-for-production-0123456789abcdef"
TEST_SIGNUP = SignupSettings(code_key=Secret(TEST_CODE_KEY))
#: Streams that retry fast, so failure tests finish quickly.
FAST_STREAMS = StreamSettings(block_ms=100, claim_idle_ms=300, max_deliveries=3, batch_size=16)


def holder_email(number: str) -> str:
    """The e-mail on file that :meth:`RunningBank.create_account` gives by default."""
    return f"holder{number}@example.test"


def service_token(subject: str = "wallet", role: str = tokens.SERVICE_ROLE,
                  signer: str = "wallet", **claims: Any) -> str:  # fmt: skip
    """A token for the bank signed with a test key (the wallet's by default)."""
    return tokens.mint(TEST_KEYS[signer], signer=signer, audience=tokens.BANK_AUDIENCE,
                       subject=subject, role=role, **claims)  # fmt: skip


def admin_token(signer: str = "bank-admin", **claims: Any) -> str:
    """An admin token, as ``vellet bank token --admin`` mints it (``signer`` to forge one)."""
    claims.setdefault("max_ttl", tokens.ADMIN_TTL_MAX)
    return service_token("test-admin", tokens.ADMIN_ROLE, signer, **claims)


def internal_token(subject: str = "operator", signer: str = "operator", **claims: Any) -> str:
    """A token for the wallet's internal API, as the operator mints it."""
    return tokens.mint(TEST_KEYS[signer], signer=signer, audience=tokens.WALLET_INTERNAL_AUDIENCE,
                       subject=subject, **claims)  # fmt: skip


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class RunningBank:
    url: str
    settings: BankSettings
    site: Site | None = None
    app: Any = None
    accounts: list[str] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)
    #: The admin routes and /metrics (the internal port); ``url`` when not given.
    internal_url: str = ""

    def __post_init__(self) -> None:
        self.internal_url = self.internal_url or self.url

    async def create_account(self, number: str, *, balance: str = "1000.00",
                             currency: str = "INR", name: str = "Test Holder",
                             email: str | None = None) -> dict[str, Any]:  # fmt: skip
        body = {"account_number": number, "name": name, "currency": currency,
                "email": email or holder_email(number), "balance": balance}  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.internal_url}/api/v1/accounts", json=body, headers=auth(admin_token())
            ) as resp,
        ):
            data: dict[str, Any] = await resp.json()
            assert resp.status == 201, data
        self.accounts.append(number)
        self.emails[number] = body["email"]
        return data

    async def signup_code(self, number: str) -> str:
        """The code this bank mailed for ``number``, read from the real SMTP sink."""
        return await session_mailbox().code_for(self.emails[number])

    async def stop(self) -> None:
        if self.site is not None:
            await self.site.stop()


def bank_settings(database_url: str, redis_url: str, **overrides: Any) -> BankSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "http": HttpSettings(port=0),
        "internal_http": HttpSettings(port=0),
        "streams": FAST_STREAMS,
        "keys": key_settings(*BANK_KEYS),
        "cache": CacheSettings(),
        "signup": TEST_SIGNUP,
        "smtp": session_mailbox().smtp(),
        "consumer_name": "bank-test",
    }
    values.update(overrides)
    return BankSettings(**values)


async def start_bank(database_url: str, redis_url: str, **overrides: Any) -> RunningBank:
    """A real bank app in this event loop, on a random port, migrations applied."""
    settings = bank_settings(database_url, redis_url, **overrides)
    await migrate(database_url)
    app = create_app(settings)
    site = await start("bank", app, settings.http)
    return RunningBank(site.url, settings, site, app, internal_url=site.internal_url)


def bank_env(database_url: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env.update(
        VELLET_BANK_DATABASE_URL=database_url,
        VELLET_REDIS_URL=redis_url,
        VELLET_BANK_CODE_KEY=TEST_CODE_KEY,
        VELLET_BANK_PORT=str(port),
        VELLET_BANK_INTERNAL_PORT=str(free_port()),
        VELLET_STREAM_BLOCK_MS="100",
        VELLET_STREAM_CLAIM_IDLE_MS="300",
        VELLET_STREAM_MAX_DELIVERIES="3",
        VELLET_LOG_LEVEL="WARNING",
    )
    env.update(key_env(*BANK_KEYS))
    env.update(session_mailbox().env())
    env.update(extra)
    return env


def bank_process(env: dict[str, str], logs: Path) -> ServiceProcess:
    """`vellet bank serve` as a real child process (the drill's own wrapper)."""
    port, internal = int(env["VELLET_BANK_PORT"]), int(env["VELLET_BANK_INTERNAL_PORT"])
    return ServiceProcess("bank", env, port, logs / f"bank-{port}.log", internal_port=internal)


def new_port() -> int:
    return free_port()
