"""The dashboard over plain HTTP: security headers on everything, escaping, no BOLA."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet
from tests.wallet.web.helpers import cookie_user, pay
from vellet.wallet.web.rules import CONTENT_SECURITY_POLICY

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@pytest.mark.parametrize("path", ["/login", "/signup", "/static/vellet.js", "/static/vellet.css",
                                  "/api/v1/me", "/no/such/page"])  # fmt: skip
async def test_every_answer_carries_the_security_headers(
    wallet: RunningWallet, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(wallet.url + path, allow_redirects=False) as resp:
        for name, value in COMMON.items():
            assert resp.headers.get(name) == value, (path, name)
        if resp.content_type == "text/html":
            assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert resp.headers["Cache-Control"] == "no-store"


def test_the_policy_allows_no_inline_code_no_other_origin_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src"):
        assert directives[name] == "'self'", name
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


async def test_pages_hold_no_script_or_style_inline(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with cookie_user(bank, wallet, money=1000) as alice:
        for path in ("/dashboard", "/send", "/deposit", "/withdraw", "/history"):
            async with alice.http.get(wallet.url + path) as resp:
                html = await resp.text()
            assert resp.status == 200, path
            assert "<style" not in html
            assert " style=" not in html
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path  # no inline handlers
            for tag in html.split("<script")[1:]:
                assert tag.lstrip().startswith("src="), path  # only files of our own
            assert alice.token not in html, "the session token never appears in a page"


async def test_someone_elses_transfer_page_and_fragment_look_like_no_transfer(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with (
        cookie_user(bank, wallet, money=1000) as alice,
        cookie_user(bank, wallet) as bob,
        cookie_user(bank, wallet) as eve,
    ):
        sent = await pay(alice, wallet.url, bob.number, "3.00")
        async with bob.http.get(f"{wallet.url}/transfers/{sent['id']}") as resp:
            assert resp.status == 200
        async with eve.http.get(f"{wallet.url}/transfers/{sent['id']}") as resp:
            assert resp.status == 404
            assert "3.00" not in await resp.text()
        async with eve.http.get(f"{wallet.url}/fragments/transfers/{sent['id']}") as resp:
            assert resp.status == 404


async def test_markup_in_a_note_is_escaped_in_the_html(
    bank: RunningBank, wallet: RunningWallet
) -> None:
    async with cookie_user(bank, wallet, money=1000) as alice, cookie_user(bank, wallet) as bob:
        import uuid

        note = "<script>alert(1)</script>\"'&"
        body = {"kind": "p2p", "amount": "1.00", "currency": "INR", "to_account": bob.number,
                "note": note}  # fmt: skip
        headers = {"X-CSRF-Token": alice.csrf, "Idempotency-Key": uuid.uuid4().hex}
        async with alice.http.post(wallet.url + "/api/v1/transfers", json=body,
                                   headers=headers) as resp:  # fmt: skip
            assert resp.status == 201
        async with bob.http.get(wallet.url + "/fragments/summary") as resp:
            html = await resp.text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;" in html
        assert "<script>alert" not in html
