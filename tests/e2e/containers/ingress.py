"""The rendered Ingress, served: a tiny proxy on 127.0.0.1 routing by its rules as written
(host, Prefix/Exact paths, backend Service port) and answering 404 to anything no rule
routes -- which is what keeps /internal and /metrics out of reach from outside.
It is not an ingress controller (no TLS, no annotations); a real cluster's is."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

Resolve = Callable[[str, int | str], Awaitable[str]]
HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def route(ingresses: list[dict[str, Any]], host: str, path: str) -> tuple[str, int | str] | None:
    """The backend (service, port) the rules send ``host`` + ``path`` to, longest path first."""
    best: tuple[int, tuple[str, int | str]] | None = None
    for ing in ingresses:
        for rule in ing["spec"].get("rules") or []:
            if rule.get("host") and rule["host"] != host.split(":", maxsplit=1)[0]:
                continue
            for p in (rule.get("http") or {}).get("paths") or []:
                want, kind = p.get("path", "/"), p.get("pathType", "Prefix")
                hit = (
                    path == want
                    if kind == "Exact"
                    else (path == want or path.startswith(want.rstrip("/") + "/"))
                )
                if hit and (best is None or len(want) > best[0]):
                    svc = p["backend"]["service"]
                    port = svc["port"].get("number", svc["port"].get("name"))
                    best = (len(want), (svc["name"], port))
    return None if best is None else best[1]


@contextlib.asynccontextmanager
async def serving(ingresses: list[dict[str, Any]], resolve: Resolve) -> AsyncIterator[str]:
    async with aiohttp.ClientSession(auto_decompress=False) as http:

        async def proxy(request: web.Request) -> web.StreamResponse:
            backend = route(ingresses, request.host, request.path)
            if backend is None:
                return web.Response(status=404, text="no ingress rule routes this path\n")
            base = await resolve(*backend)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
            headers["X-Forwarded-For"] = request.remote or ""
            async with http.request(
                request.method,
                base + request.rel_url.raw_path_qs,
                headers=headers,
                data=await request.read(),
            ) as upstream:
                body = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP}
                return web.Response(status=upstream.status, body=body, headers=out)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()
