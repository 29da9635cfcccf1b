"""Prometheus metrics shared by every service.

Each app owns a ``CollectorRegistry`` (no global registry), so several apps
can live in one process: ``vellet up`` and the tests do exactly that.
Gauges that need I/O to compute (queue depth) are refreshed by async
callbacks just before a scrape is rendered, because prometheus-client's own
collectors are synchronous.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from vellet.common.problems import Handler

log = logging.getLogger("vellet.metrics")

Refresher = Callable[[], Awaitable[None]]

REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
REFRESHERS_KEY = web.AppKey("metrics_refreshers", list[Refresher])

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


#: Methods counted by name; any other as "other": the HTTP parser passes some
#: thirty (WebDAV's among them), each of which would be a series per route.
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Request counts and latency by route template (never by raw path)."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "vellet_http_requests_total",
            "HTTP requests handled.",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "vellet_http_request_duration_seconds",
            "HTTP request latency.",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # Why: ``labels()`` takes a lock and builds a key every time; it was
        # 4 % of the wallet's CPU per P2P request. Bounded: routes are the
        # app's templates, methods a fixed set, statuses the app's own.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            info = request.match_info.route.resource
            route = info.canonical if info is not None else "unmatched"
            method = request.method if request.method in _METHODS else "other"
            key = (method, route, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    self.requests.labels(self.service, method, route, str(status)),
                    self.latency.labels(self.service, method, route),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - start)


def setup(app: web.Application, service: str, *, route: bool = True) -> HttpMetrics:
    """Give ``app`` a registry and HTTP metrics; with ``route``, also ``/metrics``.

    A service with an internal port passes ``route=False`` and serves
    ``/metrics`` there instead (:func:`vellet.common.web.new_app`); the
    returned middleware then counts the internal app's requests too, in the
    same registry.
    """
    registry = CollectorRegistry()
    app[REGISTRY_KEY] = registry
    app[REFRESHERS_KEY] = []
    http = HttpMetrics(registry, service)
    app.middlewares.append(http.middleware)
    if route:
        app.router.add_get("/metrics", metrics_handler)
    return http


def add_refresher(app: web.Application, refresher: Refresher) -> None:
    app[REFRESHERS_KEY].append(refresher)


async def metrics_handler(request: web.Request) -> web.Response:
    for refresh in request.app[REFRESHERS_KEY]:
        try:
            await refresh()
        except Exception as err:  # noqa: BLE001 - a down dependency must not break /metrics
            log.warning("metrics refresh failed: %s", type(err).__name__)
    body = generate_latest(request.app[REGISTRY_KEY])
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response
