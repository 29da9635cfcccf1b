"""Every dashboard panel and alert rule on a real Prometheus scraping the real stack.

One stack, one Prometheus (scraping every second) and one workload serve
every assertion here (``live_stack``): the suite stays fast, and each query
is judged on the same data a person on call would see. Dashboards and
rules are read from the shipped files, so a new panel without data fails.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observability import pictures
from tests.observability.live_stack import SCRAPE, Live, live_stack
from tests.observability.prom import has_values, scalar
from tests.observability.shipped import grafana_expr, panel_queries, rules
from tests.support.servers import ServerSet

pytestmark = pytest.mark.e2e
#: What Grafana's $__rate_interval comes to at a 1 s scrape and a few-second step.
RATE_INTERVAL = "10s"
QUERIES = panel_queries()


def _panel(title: str) -> list[str]:
    exprs = [q.expr for q in QUERIES if q.panel == title]
    assert exprs, f"no panel {title!r} in the shipped dashboards"
    return exprs


@pytest.fixture(scope="module")
async def live(
    servers: ServerSet, databases: object, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    depth = grafana_expr(_panel("Queue depth per stream and group")[0], rate_interval="")
    async with live_stack(servers, databases, tmp_path_factory.mktemp("live"), depth) as run:
        yield run


async def test_every_panel_query_returns_data(live: Live) -> None:
    empty, failed = [], []
    for query in QUERIES:
        expr = grafana_expr(query.expr, rate_interval=RATE_INTERVAL)
        try:
            result = await live.prom.range(expr, live.start, live.end, SCRAPE)
        except AssertionError as err:
            failed.append(f"{query.where}: {err}")
            continue
        if not has_values(result):
            empty.append(f"{query.where}: {expr}")
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    assert not empty, "panels without data:\n" + "\n".join(empty)


async def test_every_alert_rule_parses_and_evaluates(live: Live) -> None:
    for rule in rules():
        await live.prom.instant(rule["expr"])  # raises with Prometheus's own parse error
    loaded = {r["name"]: r for r in await live.prom.rules()}
    assert set(loaded) == {r["alert"] for r in rules()}
    assert {r["health"] for r in loaded.values()} == {"ok"}, loaded


async def test_bank_unavailable_alert_went_pending_then_firing(live: Live) -> None:
    states = live.bank_alert_states
    assert states[-1] == "firing", states
    assert "pending" in states, f"firing without pending first: {states}"
    assert states.index("pending") < states.index("firing")
    # The bank is back: the breaker closes and the alert resolves.
    await live.prom.until(lambda: _state_is(live, "VelletBankUnavailable", "inactive"), timeout=30)


async def _state_is(live: Live, name: str, state: str) -> bool:
    return await live.prom.alert_state(name) == state


async def test_mail_dead_letter_alert_fires_live(live: Live) -> None:
    await live.prom.until(lambda: _state_is(live, "VelletMailDeadLettered", "firing"), timeout=10)
    assert await live.prom.alert_state("VelletBooksDoNotBalance") == "inactive"


async def test_queue_depth_agrees_with_xinfo(live: Live) -> None:
    depth = live.depth
    assert depth is not None
    assert depth.xinfo_before == depth.xinfo_after, "nothing moved while the bank was down"
    assert depth.xinfo_before[("vellet:bank:requests", "bank")] >= len(live.users)
    assert depth.prometheus == depth.xinfo_before


async def _bank_cache_counts(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, str], float]:
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (s.labels["cache"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "vellet_cache_requests_total"
    }


async def test_cache_hit_ratio_agrees_with_the_banks_counters(live: Live) -> None:
    lru, redis_, combined = _panel("Hit ratio since the bank started")
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            before = await _bank_cache_counts(http, live.bank_metrics_url)
            await asyncio.sleep(2 * SCRAPE)  # at least one scrape after `before`
            shown = [scalar(await live.prom.instant(grafana_expr(e, rate_interval="")))
                     for e in (lru, redis_, combined)]  # fmt: skip
            if await _bank_cache_counts(http, live.bank_metrics_url) == before:
                break
        else:
            pytest.fail("the bank's cache counters never stood still")

    def total(cache: str) -> float:
        return sum(v for (c, _), v in before.items() if c == cache)

    lru_hits = before[("bank_account_lru", "hit")]
    redis_hits = before[("bank_account_redis", "hit")]
    assert redis_hits > 0, "the restarted bank found accounts in Redis"
    expected = [lru_hits / total("bank_account_lru"), redis_hits / total("bank_account_redis"),
                (lru_hits + redis_hits) / total("bank_account_lru")]  # fmt: skip
    assert shown == pytest.approx(expected, rel=1e-9)


async def test_pictures_of_each_panel_group(live: Live, tmp_path: Path) -> None:
    """Drawn from this run's data; VELLET_DASHBOARD_PICTURES=docs/dashboards keeps them."""
    out = Path(os.environ.get("VELLET_DASHBOARD_PICTURES") or tmp_path)
    drawn = await pictures.draw_rows(live.prom, QUERIES, live.start, live.end, out,
                                     rate_interval=RATE_INTERVAL, step=SCRAPE)  # fmt: skip
    rows = {q.row for q in QUERIES}
    assert {p.stem for p in drawn} == {pictures.slug(r) for r in rows}
    assert all(p.stat().st_size > 10_000 for p in drawn)
