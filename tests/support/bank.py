"""Start a real bank for tests: in-process (fast) or as a `vellet bank serve` process.

In-process banks run the real app on a random loopback port in the test's
event loop; process banks are real child processes that a test can SIGKILL.
Both use a fresh database and the session's Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from vellet.bank.admin import migrate
from vellet.bank.app import create_app
from vellet.bank.settings import BankSettings, CacheSettings
from vellet.common import tokens
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings, Secret, StreamSettings, TokenSettings
from vellet.common.web import Site, start

#: The signing key every test deployment shares (never a real one).
TEST_SECRET = "test-secret-not-for-production-0123456789abcdef"
TEST_TOKENS = TokenSettings(secret=Secret(TEST_SECRET))
#: Streams that retry fast, so failure tests finish quickly.
FAST_STREAMS = StreamSettings(block_ms=100, claim_idle_ms=300, max_deliveries=3, batch_size=16)


def service_token(subject: str = "wallet", role: str = tokens.SERVICE_ROLE) -> str:
    return tokens.mint(TEST_TOKENS, audience=tokens.BANK_AUDIENCE, subject=subject, role=role)


def admin_token() -> str:
    return service_token("test-admin", tokens.ADMIN_ROLE)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class RunningBank:
    url: str
    settings: BankSettings
    site: Site | None = None
    app: Any = None
    accounts: list[str] = field(default_factory=list)

    async def create_account(self, number: str, *, balance: str = "1000.00",
                             currency: str = "INR", name: str = "Test Holder",
                             email: str | None = None) -> dict[str, Any]:  # fmt: skip
        body = {"account_number": number, "name": name, "currency": currency,
                "email": email or f"holder{number}@example.test", "balance": balance}  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/api/v1/accounts", json=body, headers=auth(admin_token())
            ) as resp,
        ):
            data: dict[str, Any] = await resp.json()
            assert resp.status == 201, data
        self.accounts.append(number)
        return data

    async def stop(self) -> None:
        if self.site is not None:
            await self.site.stop()


def bank_settings(database_url: str, redis_url: str, **overrides: Any) -> BankSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "http": HttpSettings(port=0),
        "streams": FAST_STREAMS,
        "tokens": TEST_TOKENS,
        "cache": CacheSettings(),
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
    return RunningBank(site.url, settings, site, app)


def bank_env(database_url: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env.update(
        VELLET_BANK_DATABASE_URL=database_url,
        VELLET_REDIS_URL=redis_url,
        VELLET_JWT_SECRET=TEST_SECRET,
        VELLET_BANK_PORT=str(port),
        VELLET_STREAM_BLOCK_MS="100",
        VELLET_STREAM_CLAIM_IDLE_MS="300",
        VELLET_STREAM_MAX_DELIVERIES="3",
        VELLET_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@dataclass
class BankProcess:
    """`vellet bank serve` as a real child process."""

    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> BankProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vellet", "bank", "serve"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        await wait_healthy(self.url, self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None,
                       timeout: float = 30.0) -> None:  # fmt: skip
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if proc is not None and proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"process exited with {proc.returncode}: {err[-2000:]}")
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy")


def new_port() -> int:
    return free_port()
