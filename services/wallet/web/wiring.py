"""``setup(app)``: the dashboard's pages, static files, live channel and headers.

The security headers go on every answer of the public port, through
``on_response_prepare``: that also reaches answers no handler of ours made
(static files, aiohttp's own 404 and 405, the problem middleware's errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from vellet.wallet.web import hub, live, routes, rules

HERE: Final = Path(__file__).resolve().parent


def templates() -> jinja2.Environment:
    # Autoescape everything: notes and names are user-supplied text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def setup(app: web.Application) -> None:
    app[routes.TEMPLATES] = templates()
    app.cleanup_ctx.append(hub.running)
    app.on_shutdown.append(hub.going_away)
    app.router.add_routes(routes.routes)
    app.router.add_routes(live.routes)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.on_response_prepare.append(_security_headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(rules.SECURITY_HEADERS)
    if response.content_type == "text/html":
        response.headers.update(rules.HTML_ONLY_HEADERS)
