"""The stack the browser tests run against, and the people who use it.

``Stack`` is a real bank and a real wallet in this event loop (fast streams
and flows, so an outage heals in about a second) that can be stopped and
started again on the same ports. ``Person`` is a bank customer who has
signed up; ``log_in`` does it through the page, like a person.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, Page, expect

from tests.support.bank import FAST_STREAMS, RunningBank, start_bank
from tests.wallet.banking.helpers import FAST_FLOWS
from tests.wallet.stack import PASSWORD, RunningWallet, WalletClient, start_wallet
from vellet.bank import admin as bank_admin
from vellet.common.settings import HttpSettings
from vellet.wallet import database
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL

_numbers = itertools.count(300_000_000_001)


def new_number() -> str:
    return str(next(_numbers))


@dataclass
class Person:
    name: str
    account_number: str
    password: str = PASSWORD


@dataclass
class Stack:
    bank_db: str
    wallet_dsn: str
    redis_url: str
    bank: RunningBank
    wallet: RunningWallet
    wallet_overrides: dict[str, Any] = field(default_factory=dict)
    bank_up: bool = True

    async def person(self, name: str, *, balance: str = "1000.00", wallet: str | None = None,
                     currency: str = "INR") -> Person:  # fmt: skip
        """A bank customer signed up through the API (the sign-up page has its own test)."""
        number = new_number()
        await self.bank.create_account(number, balance=balance, currency=currency, name=name)
        import aiohttp

        async with aiohttp.ClientSession() as http:
            reply = await WalletClient(http, self.wallet.url).signup(number)
        assert reply.status == 201, reply
        if wallet is not None:
            await self.fund(number, wallet)
        return Person(name, number)

    async def fund(self, number: str, amount: str) -> None:
        """Money already in the wallet: a deposit the bank settled (not what a test checks)."""
        pool = self.wallet.app[POOL]
        user = await auth_store.user_by_account(pool, number)
        assert user is not None
        minor = int(amount.replace(".", ""))
        await ledger_store.post_deposit(pool, user.id, minor, user.currency)

    async def stop_bank(self) -> None:
        await self.bank.stop()
        self.bank_up = False

    async def start_bank(self) -> None:
        port = int(self.bank.url.rsplit(":", 1)[1])
        self.bank = await start_bank(self.bank_db, self.redis_url, http=HttpSettings(port=port))
        self.bank_up = True

    async def restart_wallet(self) -> None:
        """Stop the wallet and start a new one on the same port: a deploy, or a crash."""
        port = int(self.wallet.url.rsplit(":", 1)[1])
        await self.wallet.stop()
        self.wallet = await _wallet(self, port)

    async def close(self) -> None:
        await self.wallet.stop()
        if self.bank_up:
            await self.bank.stop()


async def _wallet(stack: Stack, port: int = 0) -> RunningWallet:
    return await start_wallet(
        stack.wallet_dsn,
        stack.redis_url,
        stack.bank.url,
        **{"streams": FAST_STREAMS, "flows": FAST_FLOWS, "http": HttpSettings(port=port),
           **stack.wallet_overrides},
    )  # fmt: skip


async def open_stack(databases: Any, redis_url: str, **wallet_overrides: Any) -> Stack:
    bank_db = await databases.create("bank", bank_admin.MIGRATIONS)
    wallet_dsn = await databases.create("wallet", database.MIGRATIONS)
    bank = await start_bank(bank_db, redis_url)
    stack = Stack(bank_db, wallet_dsn, redis_url, bank, None, dict(wallet_overrides))  # type: ignore[arg-type]
    stack.wallet = await _wallet(stack)
    return stack


async def log_in(page: Page, person: Person) -> Page:
    await page.goto("/login")
    await page.get_by_label("Account number").fill(person.account_number)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    return page


async def logged_in(context: BrowserContext, person: Person) -> Page:
    return await log_in(await context.new_page(), person)


def available(page: Page) -> Any:
    return page.locator("#available")
