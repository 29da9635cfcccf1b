"""Money moving, seen live: P2P between two open dashboards, a double click, notes as text."""

from __future__ import annotations

import time

from playwright.async_api import expect

from tests.browser.conftest import Watched
from tests.browser.people import Person, Stack, available, logged_in


async def test_a_payment_shows_on_the_recipients_open_dashboard_within_2_s(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    bob_page = await logged_in(await browsers.context(), bob)
    await expect(available(bob_page)).to_have_text("50.00 INR")

    alice_page = await logged_in(await browsers.context(), alice)
    await alice_page.get_by_role("link", name="Send", exact=True).click()
    await alice_page.get_by_label("Recipient's account number").fill(bob.account_number)
    await alice_page.get_by_label("Amount in INR").fill("125.50")
    await alice_page.get_by_label("Note (optional)").fill("dinner on friday")
    await alice_page.get_by_role("button", name="Send").click()
    await expect(alice_page.get_by_role("heading", name="Money sent")).to_be_visible()
    sent = time.monotonic()

    # No reload: the recipient's page hears of it on the live channel and re-reads.
    await expect(available(bob_page)).to_have_text("175.50 INR", timeout=2000)
    row = bob_page.locator(".transfer").first
    await expect(row).to_contain_text(f"From {alice.account_number}", timeout=2000)
    await expect(row).to_contain_text("+125.50 INR")
    await expect(row).to_contain_text("dinner on friday")
    assert time.monotonic() - sent < 2.0

    await alice_page.get_by_role("link", name="Back to the dashboard").click()
    await expect(available(alice_page)).to_have_text("874.50 INR")
