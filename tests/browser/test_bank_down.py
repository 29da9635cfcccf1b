"""The bank is down: a deposit and a withdrawal are queued, and when the bank is back the
deposit is shown posted and the withdrawal voided, live, on pages nobody reloads."""

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
    # A withdrawal queued too: its money is reserved now, and comes back when the bank
    # voids it (Vellet's settlement account at the bank will hold only the 250.00).
    out = await ctx.new_page()
    await out.goto("/withdraw")
    await out.get_by_label("Amount in INR").fill("300.00")
    await out.get_by_role("button", name="Withdraw").click()
    await expect(out.get_by_role("heading", name="Withdrawal queued")).to_be_visible()
    # The open dashboard learns of it when it settles; until then it shows what it had.
    await dashboard.reload()
    await expect(dashboard.locator(".transfer .state")).to_have_text(
        ["Queued (waiting for the bank)", "Queued (waiting for the bank)", "Posted"]
    )
    await expect(available(dashboard)).to_have_text("700.00 INR")
    await expect(dashboard.locator("#pending")).to_have_text("300.00 INR")

    await stack.start_bank()
    # Neither page is reloaded: the settlement event reaches both over the live channel.
    await expect(form.locator("#transfer-state")).to_have_text("Posted", timeout=10_000)
    await expect(out.locator("#transfer-state")).to_have_text("Voided", timeout=10_000)
    await expect(out.locator("#failure-reason")).to_contain_text("the money stayed in your wallet")
    await expect(dashboard.locator(".transfer .state")).to_have_text(["Voided", "Posted", "Posted"])
    await expect(available(dashboard)).to_have_text("1250.00 INR")
    await expect(dashboard.locator("#pending")).to_have_text("0.00 INR")
