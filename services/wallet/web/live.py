"""``GET /live``: the WebSocket a logged-in page listens on.

Nothing about the channel is chosen by the client. The account whose events
it carries is the one in the signed session cookie; there is no channel id,
topic or subscription to forge or steal, so a query string is refused and
any message the client sends closes the socket (1008). Before the upgrade:
a missing, invalid, expired or logged-out session is 401, and a foreign
``Origin`` is 403 (a hostile page cannot open a socket with the victim's
cookie, whatever the browser's SameSite rules for WebSockets are).

Once open, the socket closes by itself when the session expires (4001),
when the session logs out on any replica (4000), or when the client falls
too far behind (4002). The page reconnects after anything else (a wallet
restart, a network blip) and then re-reads what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from vellet.common.errors import Forbidden, InvalidRequest, Unauthorized
from vellet.wallet.auth import sessions
from vellet.wallet.auth.sessions import VERIFIER
from vellet.wallet.web import rules
from vellet.wallet.web.hub import HUB, Close, Subscriber

routes = web.RouteTableDef()
_CLOSE_GRACE = 5.0


@routes.get("/live")
async def live(request: web.Request) -> web.StreamResponse:
    if request.query_string:
        raise InvalidRequest(
            "the live channel takes no parameters: it carries the session's own account",
            code="invalid_query",
        )
    _same_origin(request)
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        raise Unauthorized("log in first: the live channel needs the session cookie")
    session = request.app[VERIFIER].verify(token)
    fingerprint = rules.session_fingerprint(token)
    hub = request.app[HUB]
    if await hub.revoked(fingerprint):
        raise Unauthorized("this session has logged out; log in again", code="invalid_session")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    sub = hub.subscribe(session.account_number, fingerprint)
    closing = asyncio.Event()
    pump = asyncio.create_task(_pump(ws, sub, session.expires_at.timestamp(), closing))
    try:
        await ws.send_str('{"type": "hello"}')
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await ws.close(code=rules.CLOSE_POLICY, message=b"nothing is subscribable")
                break
    finally:
        hub.unsubscribe(sub)
        if closing.is_set():  # our close ended the loop: let its handshake finish first
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_GRACE):
                    await asyncio.shield(pump)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    return ws


def _same_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    parts = urlsplit(origin or "")
    if origin is None or parts.netloc.lower() != request.host.lower():
        raise Forbidden("the live channel is only for this site's own pages", code="forbidden")


async def _pump(ws: web.WebSocketResponse, sub: Subscriber, expires: float,
                closing: asyncio.Event) -> None:  # fmt: skip
    """Send what the hub queued, until the session expires or ends."""
    while not ws.closed:
        left = expires - time.time()
        try:
            async with asyncio.timeout(max(left, 0)):
                item = await sub.queue.get()
        except TimeoutError:
            item = Close(rules.CLOSE_EXPIRED, "session expired")
        if isinstance(item, Close):
            closing.set()
            await ws.close(code=item.code, message=item.reason.encode())
            return
        await ws.send_str(item)
