"""The money forms: one transfer per form render, and a clear message for every refusal."""

from __future__ import annotations

import json

from playwright.async_api import Page, Request, Route, expect

from tests.browser.conftest import Watched
from tests.browser.people import Person, Stack, available, logged_in
from vellet.wallet.auth import store as auth_store
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL


async def p2p_count(stack: Stack, person: Person) -> int:
    pool = stack.wallet.app[POOL]
    user = await auth_store.user_by_account(pool, person.account_number)
    assert user is not None
    rows = await ledger_store.history(pool, user.id, 100, None)
    return sum(1 for r in rows if r["kind"] == "p2p")


async def fill_send(page: Page, to: str, amount: str, note: str | None = None) -> None:
    await page.goto("/send")
    await page.get_by_label("Recipient's account number").fill(to)
    await page.get_by_label("Amount in INR").fill(amount)
    if note is not None:
        await page.get_by_label("Note (optional)").fill(note)


async def test_a_double_clicked_send_moves_money_once(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    page = await logged_in(await browsers.context(), alice)
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    await fill_send(page, bob.account_number, "10.00")
    key = await page.locator("input[name=idempotency_key]").input_value()
    await page.get_by_role("button", name="Send").dblclick()
    await expect(page.get_by_role("heading", name="Money sent")).to_be_visible()
    await expect(page.locator("#money-form")).to_be_hidden()
    await page.wait_for_timeout(300)  # a second request, if any, has had time to leave
    transfers = [r for r in posts if r.url.endswith("/api/v1/transfers")]
    assert [r.headers.get("idempotency-key") for r in transfers] == [key]
    assert await p2p_count(stack, alice) == 1
    await page.goto("/dashboard")
    await expect(available(page)).to_have_text("990.00 INR")


async def test_a_send_whose_answer_was_lost_is_retried_with_the_same_key_and_moves_money_once(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    page = await logged_in(await browsers.context(), alice)
    await fill_send(page, bob.account_number, "10.00")
    answers: list[int] = []

    async def lose_first_answer(route: Route) -> None:
        if not answers:
            reply = await route.fetch()  # the wallet moves the money...
            answers.append(reply.status)
            await route.abort("connectionreset")  # ...and the page never hears of it
            return
        await route.continue_()

    await page.route("**/api/v1/transfers", lose_first_answer)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_contain_text("it will not be done twice")
    assert answers == [201]
    async with page.expect_response("**/api/v1/transfers") as replay:
        await page.get_by_role("button", name="Send").click()
    response = await replay.value
    assert response.status == 201
    assert response.headers.get("idempotent-replayed") == "true"
    await expect(page.get_by_role("heading", name="Money sent")).to_be_visible()
    assert await p2p_count(stack, alice) == 1


async def test_a_note_with_markup_is_shown_as_text_everywhere(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    note = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">&amp;'
    bob_page = await logged_in(await browsers.context(), bob)
    alice_page = await logged_in(await browsers.context(), alice)
    await fill_send(alice_page, bob.account_number, "1.00", note)
    await alice_page.get_by_role("button", name="Send").click()
    await expect(alice_page.get_by_role("heading", name="Money sent")).to_be_visible()

    for page in (bob_page, alice_page):  # bob's arrived live, alice's on the next page
        if page is alice_page:
            await page.goto("/dashboard")
        note_el = page.locator(".transfer .note").first
        await expect(note_el).to_have_text(note)
        assert await note_el.locator("script, img").count() == 0
        await page.locator(".transfer a").first.click()
        await expect(page.locator("#transfer-note")).to_have_text(note)
        assert await page.evaluate("window.pwned") is None


REFUSALS = [
    ("9000.00", "unknown", "No Vellet wallet has that account number."),
    ("5000.00", "bob", "You don't have enough available money for this."),
    ("10.00", "alice", "That is your own account."),
    ("0", "bob", "Enter an amount above zero"),
    ("ten", "bob", "Enter an amount above zero"),
    ("1.005", "bob", "Enter an amount above zero"),
    ("10.00", "12", "An account number is 6 to 20 digits."),
    ("10.00", "dollars", "That wallet holds a different currency"),
]


async def test_every_refusal_of_a_payment_is_explained_in_the_page(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    # One stack and one page for every case: a stack per case would cost more than the cases.
    dollars = await stack.person("Dora Dollar", currency="USD")
    numbers = {"alice": alice.account_number, "bob": bob.account_number, "12": "12",
               "unknown": "999999999999", "dollars": dollars.account_number}  # fmt: skip
    page = await logged_in(await browsers.context(), alice)
    for amount, to, shown in REFUSALS:
        await fill_send(page, numbers[to], amount)
        key = await page.locator("input[name=idempotency_key]").input_value()
        await page.get_by_role("button", name="Send").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text(shown)
        await expect(alert).to_be_focused()
        # A refusal is final: the corrected form is a new request, under a new key.
        assert await page.locator("input[name=idempotency_key]").input_value() != key, to
    assert await p2p_count(stack, alice) == 0


async def test_a_withdrawal_beyond_the_balance_and_a_reused_key_are_explained(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    page = await logged_in(await browsers.context(), alice)
    await page.goto("/withdraw")
    await page.get_by_label("Amount in INR").fill("1000.01")
    await page.get_by_role("button", name="Withdraw").click()
    await expect(page.get_by_role("alert")).to_contain_text("You don't have enough available")

    await page.goto("/deposit")
    await page.get_by_label("Amount in INR").fill("1.00")
    used = await page.locator("input[name=idempotency_key]").input_value()
    await page.get_by_role("button", name="Deposit").click()
    await expect(page.get_by_role("heading", name="Deposit posted")).to_be_visible()
    await page.goto("/deposit")  # a new render; force the old key onto it
    await page.locator("input[name=idempotency_key]").evaluate(
        f"(el) => {{ el.value = {json.dumps(used)}; }}"
    )
    await page.get_by_label("Amount in INR").fill("2.00")
    await page.get_by_role("button", name="Deposit").click()
    await expect(page.get_by_role("alert")).to_contain_text("already used for a different request")


async def test_a_deposit_the_bank_refuses_shows_why(
    browsers: Watched, stack: Stack, alice: Person
) -> None:
    page = await logged_in(await browsers.context(), alice)
    await page.goto("/deposit")
    await page.get_by_label("Amount in INR").fill("5000.01")  # more than alice's bank holds
    await page.get_by_role("button", name="Deposit").click()
    await expect(page.get_by_role("heading", name="Deposit failed")).to_be_visible()
    await expect(page.locator("#failure-reason")).to_have_text(
        "Your bank account does not have enough money for this deposit."
    )


async def test_a_form_sent_after_the_session_ended_says_so_and_links_to_log_in(
    browsers: Watched, stack: Stack, alice: Person, bob: Person
) -> None:
    ctx = await browsers.context()
    page = await logged_in(ctx, alice)
    await fill_send(page, bob.account_number, "1.00")
    await ctx.clear_cookies()
    await page.get_by_role("button", name="Send").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Your session has ended. Log in again.")
    await expect(alert.get_by_role("link", name="Log in")).to_have_attribute("href", "/login")
