"""Every page passes axe-core (no serious or critical violation) at desktop and phone width,
works from the keyboard, and is photographed for the README (docs/screenshots)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, Watched
from tests.browser.people import Person, Stack, log_in
from tests.wallet.stack import WalletClient

NO_SUCH = "/transfers/00000000-0000-0000-0000-000000000000"
PAGES = ["/login", "/signup", "/dashboard", "/send", "/deposit", "/withdraw", "/history",
         "TRANSFER", NO_SUCH, "/history?cursor=bogus"]  # fmt: skip


async def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    # evaluate() runs over the DevTools protocol, outside the page's CSP: the
    # page itself never loads axe, and needs no exception in its policy.
    await page.evaluate(axe_source)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def some_history(stack: Stack, alice: Person, bob: Person, http: Any) -> str:
    payer = WalletClient(http, stack.wallet.url)
    assert (await payer.login(bob.account_number)).status == 200
    reply = await payer.send(alice.account_number, "42.00", note="Concert tickets")
    assert reply.status == 201
    await payer.send(alice.account_number, "6.50", note="<b>coffee</b> & cake")
    return str(reply.body["id"])


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
async def test_every_page_passes_axe_with_no_serious_or_critical_violation(
    browsers: Watched, stack: Stack, alice: Person, bob: Person, axe_source: str, http: Any,
    phone: bool,
) -> None:  # fmt: skip
    transfer_id = await some_history(stack, alice, bob, http)
    page = await browsers.page(phone=phone)
    found = {}
    for path in PAGES:
        if path == "/dashboard":
            await log_in(page, alice)
        else:
            await page.goto(path.replace("TRANSFER", f"/transfers/{transfer_id}"))
        await expect(page.locator("h1")).to_have_count(1)
        found[path] = await axe_violations(page, axe_source)
    # The messages a page shows appear too: an error, and a finished transfer.
    await page.goto("/send")
    await page.get_by_label("Recipient's account number").fill("999999999999")
    await page.get_by_label("Amount in INR").fill("1.00")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    found["/send (refused)"] = await axe_violations(page, axe_source)
    await page.get_by_label("Recipient's account number").fill(bob.account_number)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#transfer-state")).to_have_text("Posted")
    found["/send (sent)"] = await axe_violations(page, axe_source)
    assert {path: v for path, v in found.items() if v} == {}


async def test_log_in_and_send_with_the_keyboard_alone(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    page = await browsers.page()
    await page.goto("/login")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")  # focus moves to <main>: the next Tab is its first field
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Account number")).to_be_focused()
    await page.keyboard.type(alice.account_number)
    await page.keyboard.press("Tab")
    await page.keyboard.type(alice.password)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/dashboard")
    outline = await page.evaluate(
        "() => { const a = document.querySelector('nav a'); a.focus();"
        " return getComputedStyle(a).outlineStyle; }"
    )
    assert outline == "solid"  # focus is visible, not the browser's faint default

    await page.goto("/send")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Send", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    await page.get_by_label("Recipient's account number").focus()
    await page.keyboard.type(bob.account_number)
    await page.keyboard.press("Tab")
    await page.keyboard.type("3.00")
    await page.keyboard.press("Enter")
    done = page.locator("#form-done")
    await expect(done).to_be_focused()
    await expect(done.get_by_role("heading", name="Money sent")).to_be_visible()


async def test_screenshots_for_the_readme(
    browsers: Watched, stack: Stack, alice: Person, bob: Person, http: Any
) -> None:
    await some_history(stack, alice, bob, http)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browsers.page()
    await page.goto("/signup")
    await page.screenshot(path=SCREENSHOTS / "signup.png")
    await page.goto("/login")
    await page.get_by_label("Account number").fill(alice.account_number)
    await page.screenshot(path=SCREENSHOTS / "login.png")
    await log_in(page, alice)
    await page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
    await page.goto("/send")
    await page.get_by_label("Recipient's account number").fill(bob.account_number)
    await page.get_by_label("Amount in INR").fill("5000.00")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "send-refused.png")
    await page.goto("/history")
    await page.locator(".transfer a").first.click()
    await expect(page.locator("#transfer-state")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "transfer.png")

    phone = await browsers.page(phone=True)
    await log_in(phone, bob)
    await phone.screenshot(path=SCREENSHOTS / "dashboard-phone.png", full_page=True)
