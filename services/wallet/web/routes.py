"""The dashboard's pages: thin handlers that read and render, never write.

Each page authenticates with the session cookie like the API does (a page
is a GET, so no CSRF token is needed to read it) and sends anyone without a
live session to the log-in page. ``/fragments/...`` render the parts of a
page the live channel refreshes, from the same templates, so a refreshed
region is escaped and scoped exactly like a reloaded one. The only write
here is ``POST /logout``; money moves through ``/api/v1`` from the page.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jinja2
from aiohttp import web

from vellet.common.errors import InvalidRequest, Unauthorized
from vellet.wallet import wire
from vellet.wallet.auth import rules as auth_rules
from vellet.wallet.auth import sessions
from vellet.wallet.auth.sessions import VERIFIER
from vellet.wallet.ledger import rules as ledger_rules
from vellet.wallet.ledger import store as ledger_store
from vellet.wallet.state import POOL, SETTINGS
from vellet.wallet.web import rules
from vellet.wallet.web.hub import HUB

routes = web.RouteTableDef()
TEMPLATES = web.AppKey("wallet_web_templates", jinja2.Environment)

_MONEY_FORMS = {
    "/send": ("money.html", "p2p", "Send money"),
    "/deposit": ("money.html", "deposit", "Deposit from your bank"),
    "/withdraw": ("money.html", "withdrawal", "Withdraw to your bank"),
}


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("path", request.path)  # the navigation marks the current page
    text = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(text=text, status=status, content_type="text/html")


def _session(request: web.Request) -> sessions.Session | None:
    try:
        return sessions.authenticate(request, request.app[VERIFIER])
    except Unauthorized:
        return None


async def _me(request: web.Request) -> tuple[sessions.Session, dict[str, Any]]:
    """The logged-in user (``/api/v1/me``'s JSON), or off to the log-in page."""
    session = _session(request)
    found = None if session is None else await ledger_store.user_and_balance(
        request.app[POOL], session.user_id
    )  # fmt: skip
    if session is None or found is None:
        ended = "expired" if request.cookies.get(sessions.COOKIE) else "none"
        raise web.HTTPSeeOther(f"/login?session={ended}")
    return session, auth_rules.me_json(*found)


Page = tuple[list[rules.TransferView], str | None]


async def _latest(request: web.Request, session: sessions.Session, limit: int,
                  cursor: ledger_rules.Cursor | None = None) -> Page:  # fmt: skip
    rows = await ledger_store.history(request.app[POOL], session.user_id, limit + 1, cursor)
    views = [rules.transfer_view(wire.transfer_json(r), session.account_number) for r in rows]
    if len(rows) <= limit:
        return views, None
    last = rows[limit - 1]
    return views[:limit], ledger_rules.Cursor(last["created_at"], last["id"]).encode()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/dashboard" if _session(request) else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", session=request.query.get("session"))


@routes.get("/signup")
async def signup_page(request: web.Request) -> web.Response:
    # Its own template and script (signup.js): two steps, the second with the
    # code the bank mailed to the account's holder.
    return render(request, "signup.html", password_min=auth_rules.PASSWORD_MIN)


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    session, me = await _me(request)
    latest, _ = await _latest(request, session, rules.LATEST)
    return render(request, "dashboard.html", me=me, latest=latest,
                  welcome="welcome" in request.query)  # fmt: skip


@routes.get("/fragments/summary")
async def summary_fragment(request: web.Request) -> web.Response:
    session, me = await _me(request)
    latest, _ = await _latest(request, session, rules.LATEST)
    return render(request, "_summary.html", me=me, latest=latest)


@routes.get("/send")
@routes.get("/deposit")
@routes.get("/withdraw")
async def money_form(request: web.Request) -> web.Response:
    _, me = await _me(request)
    template, kind, title = _MONEY_FORMS[request.path]
    # One key per render: a double click or a resubmit of this form is one transfer.
    return render(request, template, me=me, kind=kind, title=title, key=str(uuid.uuid4()),
                  request_path=request.path)  # fmt: skip


@routes.get("/history")
async def history(request: web.Request) -> web.Response:
    session, me = await _me(request)
    raw = request.query.get("cursor")
    try:
        cursor = None if raw is None else ledger_rules.Cursor.decode(raw)
    except InvalidRequest:
        return render(request, "error.html", status=400, me=me, title="Unknown page",
                      message="That history page does not exist.")  # fmt: skip
    items, next_cursor = await _latest(request, session, rules.PAGE, cursor)
    return render(request, "history.html", me=me, items=items, next_cursor=next_cursor,
                  first=cursor is None)  # fmt: skip


@routes.get("/fragments/history")
async def history_fragment(request: web.Request) -> web.Response:
    session, _ = await _me(request)
    items, next_cursor = await _latest(request, session, rules.PAGE)
    return render(request, "_history.html", items=items, next_cursor=next_cursor)


async def _transfer(request: web.Request, session: sessions.Session) -> rules.TransferView | None:
    ident = wire.transfer_id(request.match_info["transfer_id"])
    row = None if ident is None else await ledger_store.transfer_of(
        request.app[POOL], session.user_id, ident
    )  # fmt: skip
    return None if row is None else rules.transfer_view(wire.transfer_json(row),
                                                        session.account_number)  # fmt: skip


@routes.get("/transfers/{transfer_id}")
async def transfer_page(request: web.Request) -> web.Response:
    session, me = await _me(request)
    found = await _transfer(request, session)
    if found is None:  # someone else's and none at all look the same
        return render(request, "error.html", status=404, me=me, title="No such transfer",
                      message="There is no transfer of yours with that id.")  # fmt: skip
    return render(request, "transfer.html", me=me, t=found)


@routes.get("/fragments/transfers/{transfer_id}")
async def transfer_fragment(request: web.Request) -> web.Response:
    session, _ = await _me(request)
    found = await _transfer(request, session)
    if found is None:
        raise web.HTTPNotFound()
    return render(request, "_transfer.html", t=found)


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session everywhere the dashboard holds it open, then clear the cookies.

    A valid session must prove it is the page's own (the CSRF header), so a
    hostile page cannot log a user out; an expired or broken one is simply
    cleared.
    """
    settings = request.app[SETTINGS].sessions
    token = request.cookies.get(sessions.COOKIE)
    session = _session(request)  # a wrong CSRF header raises 403 here
    if session is not None and token:
        left = int(session.expires_at.timestamp() - time.time()) + 1
        await request.app[HUB].end_session(rules.session_fingerprint(token), left)
    response = web.Response(status=204)
    sessions.clear_cookies(response, settings)
    return response
