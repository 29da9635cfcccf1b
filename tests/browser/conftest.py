"""Browser tests: Debian's Chromium driven by Playwright, against a real stack.

One browser per test session (starting Chromium is the slow part); one
context per user, so two people are two cookie jars, exactly like two
phones. The bank and the wallet run in this event loop on random ports
(``tests.support.bank``, ``tests.wallet.stack``), on real PostgreSQL and Redis.

Nothing here skips: a machine without ``/usr/bin/chromium`` or axe-core fails
with the command that installs them (``make browser``, run by ``make test``).

Every page a test opens is watched: an uncaught script error or a Content
Security Policy violation fails the test, so the pages are proven to run
under their own strict CSP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.browser.people import Person, Stack, open_stack
from tests.support.bank import RunningBank

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `make browser` (apt-get install chromium)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail("no axe-core: run `make browser` (npm ci --prefix tests/browser)")
    return AXE.read_text()


class Watched:
    """Contexts whose pages fail the test on a script error or a CSP violation."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    async def context(self, *, phone: bool = False) -> BrowserContext:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1100, "height": 800}
        ctx = await self.browser.new_context(base_url=self.base_url, viewport=viewport)  # type: ignore[arg-type]
        ctx.on("page", self._watch)
        self.contexts.append(ctx)
        return ctx

    async def page(self, *, phone: bool = False) -> Page:
        ctx = await self.context(phone=phone)
        return await ctx.new_page()

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda err: self.problems.append(f"script error: {err}"))

        def console(msg: object) -> None:
            text = getattr(msg, "text", "")
            if "Content Security Policy" in text or "Content-Security-Policy" in text:
                self.problems.append(f"CSP: {text}")

        page.on("console", console)

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()


@pytest.fixture
async def stack(request, clean_databases, redis_url: str) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    """Parametrize indirectly with a dict of wallet settings to override."""
    overrides = getattr(request, "param", {})
    running = await open_stack(clean_databases, redis_url, **overrides)
    yield running
    await running.close()


@pytest.fixture
async def browsers(browser: Browser, stack: Stack) -> AsyncIterator[Watched]:
    watched = Watched(browser, stack.wallet.url)
    yield watched
    await watched.close()
    assert not watched.problems, watched.problems


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def alice(stack: Stack) -> Person:
    return await stack.person("Alice Adeyemi", balance="5000.00", wallet="1000.00")


@pytest.fixture
async def bob(stack: Stack) -> Person:
    return await stack.person("Bob Banerjee", balance="5000.00", wallet="50.00")


__all__ = ["SCREENSHOTS", "RunningBank"]
