"""A deposit while the bank is down: accepted as queued, then posted live when it is back."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import SCREENSHOTS, Watched
from tests.browser.people import Person, Stack, available, logged_in


async def test_a_deposit_queued_while_the_bank_is_down_is_shown_posted_when_it_returns(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    ctx = await browsers.context()
    dashboard = await logged_in(ctx, alice)
    form = await ctx.new_page()
    await form.goto("/deposit")

    await stack.stop_bank()
    await form.get_by_label("Amount in INR").fill("250.00")
    await form.get_by_role("button", name="Deposit").click()
    await expect(form.get_by_role("heading", name="Deposit queued")).to_be_visible()
    await expect(form.locator("#done-text")).to_contain_text("the bank is not answering yet")
    await expect(form.locator("#transfer-state")).to_have_text("Queued (waiting for the bank)")
    await form.screenshot(path=SCREENSHOTS / "deposit-queued.png")
    # The open dashboard learns of it when it settles; until then it shows what it had.
    await dashboard.reload()
    await expect(dashboard.locator(".transfer .state").first).to_have_text(
        "Queued (waiting for the bank)"
    )
    await expect(available(dashboard)).to_have_text("1000.00 INR")

    await stack.start_bank()
    # Neither page is reloaded: the settlement event reaches both over the live channel.
    await expect(form.locator("#transfer-state")).to_have_text("Posted", timeout=10_000)
    await expect(dashboard.locator(".transfer .state").first).to_have_text("Posted")
    await expect(available(dashboard)).to_have_text("1250.00 INR")
