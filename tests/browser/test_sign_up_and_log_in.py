"""Sign-up, log-in and log-out through the pages, and every refusal explained."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Watched
from tests.browser.people import Person, Stack, log_in, new_number
from tests.support.bank import holder_email
from tests.support.mailbox import session_mailbox
from tests.wallet.stack import PASSWORD
from vellet.wallet.settings import LoginLimits


async def ask_for_a_code(page: Page, number: str) -> None:
    await page.goto("/signup")
    await page.get_by_label("Bank account number").fill(number)
    await page.get_by_role("button", name="Send me a code").click()


async def sign_up(
    page: Page, number: str, password: str = PASSWORD, code: str | None = None
) -> None:
    """Both steps, with the code the bank mailed to the holder (read from the test sink)."""
    await ask_for_a_code(page, number)
    await expect(page.get_by_label("Code from the bank's e-mail")).to_be_focused()
    if code is None:
        code = await session_mailbox().code_for(holder_email(number))
    await page.get_by_label("Code from the bank's e-mail").fill(code)
    await page.get_by_label("Choose a password").fill(password)
    await page.get_by_role("button", name="Create my wallet").click()


async def test_a_bank_customer_signs_up_logs_out_and_logs_in_again(
    browsers: Watched, stack: Stack
) -> None:
    number = new_number()
    await stack.bank.create_account(number, balance="300.00", name="Chidi Okafor")
    page = await browsers.page()
    await page.goto("/")
    await expect(page).to_have_url(f"{stack.wallet.url}/login")
    await page.get_by_role("link", name="Sign up with your bank account").click()
    await sign_up(page, number)
    await page.wait_for_url("**/dashboard?welcome")
    await expect(page.get_by_text("Your wallet is ready.")).to_be_visible()
    await expect(page.get_by_text(f"Chidi Okafor · account {number}")).to_be_visible()
    await expect(page.locator("#available")).to_have_text("0.00 INR")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")

    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url("**/login")
    await page.goto("/dashboard")  # the cookies are gone: back to log-in
    await expect(page).to_have_url(f"{stack.wallet.url}/login?session=none")
    await log_in(page, Person("Chidi Okafor", number))
    await expect(page.get_by_role("heading", name="Your wallet", level=1)).to_be_visible()


INVALID_CODE = "That code is wrong, expired or already used. Ask for a new code and try again."


async def test_every_refusal_of_a_sign_up_is_explained(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    page = await browsers.page()
    # The first step answers the same for every account (no enumeration): a bad number is
    # the only thing it can refuse.
    await ask_for_a_code(page, "12")
    alert = page.get_by_role("alert").first
    await expect(alert).to_have_text("An account number is 6 to 20 digits.")
    await expect(alert).to_be_focused()
    # An unknown account and a wrong code look alike: no mail, or the wrong code.
    for number in ("888888888888", alice.account_number):
        await sign_up(page, number, code="000000")
        await expect(page.locator("#complete-error")).to_have_text(INVALID_CODE)
        await expect(page.locator("#complete-error")).to_be_focused()
    fresh = new_number()
    await stack.bank.create_account(fresh)
    await sign_up(page, fresh, "short")
    await expect(page.locator("#complete-error")).to_contain_text(
        "That password is too short: choose a longer one"
    )
    await expect(page.locator("#password-help")).to_have_text("At least 8 characters.")


async def test_a_sign_up_while_the_bank_is_down_says_to_try_again(
    browsers: Watched, stack: Stack
) -> None:
    number = new_number()
    await stack.bank.create_account(number)
    await stack.stop_bank()
    page = await browsers.page()
    await ask_for_a_code(page, number)
    await expect(page.locator("#start-error")).to_have_text(
        "The bank is not answering right now. Please try again in a few minutes."
    )


@pytest.mark.parametrize("stack", [{"login": LoginLimits(per_account=2)}], indirect=True)
async def test_a_wrong_password_and_then_too_many_attempts_are_explained(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    page = await browsers.page(phone=True)
    await page.goto("/login")
    await page.get_by_label("Account number").fill(alice.account_number)
    await page.get_by_label("Password").fill("not the password at all")
    for _ in range(2):
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("alert")).to_have_text(
            "The account number or the password is wrong."
        )
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Too many attempts. Please wait 5 minutes and try again."
    )


async def test_pages_without_a_session_send_you_to_log_in(browsers: Watched, stack: Stack) -> None:
    page = await browsers.page()
    for path in ("/dashboard", "/send", "/deposit", "/withdraw", "/history",
                 "/transfers/00000000-0000-0000-0000-000000000000"):  # fmt: skip
        await page.goto(path)
        await expect(page).to_have_url(f"{stack.wallet.url}/login?session=none")
    await page.context.add_cookies(
        [{"name": "vellet_session", "value": "not.a.token", "url": stack.wallet.url}]
    )
    await page.goto("/dashboard")
    await expect(
        page.get_by_text("Your session has ended. Log in again to continue.")
    ).to_be_visible()
