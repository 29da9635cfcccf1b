"""The page's side of the live channel: it ends with the session and survives a restart."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import Watched
from tests.browser.people import Person, Stack, available, logged_in
from tests.wallet.stack import WalletClient
from vellet.wallet.web.hub import HUB


async def test_logging_out_in_one_tab_ends_the_live_channel_of_the_others(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    ctx = await browsers.context()
    first = await logged_in(ctx, alice)
    second = await ctx.new_page()
    await second.goto("/history")
    await expect(second.locator("body")).to_have_attribute("data-live", "open")
    assert stack.wallet.app[HUB].open_sockets(alice.account_number) == 2

    await second.get_by_role("button", name="Log out").click()
    await second.wait_for_url("**/login")
    # The server closed the first tab's socket: the page says so and does not reconnect.
    await expect(first.locator("body")).to_have_attribute("data-live", "closed")
    await expect(first.get_by_role("alert")).to_contain_text("You have logged out.")
    await expect(first.get_by_role("link", name="Log in again")).to_be_visible()
    assert stack.wallet.app[HUB].open_sockets(alice.account_number) == 0


async def test_the_dashboard_reconnects_by_itself_after_a_wallet_restart(
    browsers: Watched, stack: Stack, alice: Person, bob: Person, http
) -> None:  # type: ignore[no-untyped-def]
    page = await logged_in(await browsers.context(), bob)
    await stack.restart_wallet()
    await expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=10_000)

    payer = WalletClient(http, stack.wallet.url)
    assert (await payer.login(alice.account_number)).status == 200
    assert (await payer.send(bob.account_number, "7.25")).status == 201
    await expect(available(page)).to_have_text("57.25 INR", timeout=2000)
