"""The full history in keyset pages, and one transfer's detail."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import Watched
from tests.browser.people import Person, Stack, logged_in
from tests.wallet.stack import WalletClient


async def test_history_pages_show_every_transfer_once_newest_first(
    browsers: Watched, stack: Stack, alice: Person, bob: Person, http: Any
) -> None:
    payer = WalletClient(http, stack.wallet.url)
    assert (await payer.login(bob.account_number)).status == 200
    for i in range(25):
        assert (await payer.send(alice.account_number, "1.00", note=f"n{i:02d}")).status == 201
    page = await logged_in(await browsers.context(), alice)
    await page.get_by_role("link", name="History", exact=True).click()
    await expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    seen: list[str] = []
    first = await page.locator(".transfer").evaluate_all(
        "els => els.map(e => e.dataset.transferId)"
    )
    assert len(first) == 20
    assert await page.locator(".transfer .note").first.text_content() == "n24"
    seen += first
    await page.get_by_role("link", name="Older transfers").click()
    second = await page.locator(".transfer").evaluate_all(
        "els => els.map(e => e.dataset.transferId)"
    )
    seen += second
    assert len(second) == 6  # 25 payments and the funding deposit
    assert len(set(seen)) == 26
    await expect(page.get_by_role("link", name="Older transfers")).to_have_count(0)
    await expect(page.locator(".transfer .what").last).to_have_text("Deposit · From your bank")

    await page.locator(".transfer a").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Payment: From {bob.account_number}"
    )
    await expect(page.locator("#transfer-state")).to_have_text("Posted")
    await expect(page.locator("#transfer-note")).to_have_text("n04")
