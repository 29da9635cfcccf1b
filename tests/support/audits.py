"""Reading the books-balance check's samples from a service's /metrics."""

from __future__ import annotations

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import eventually
from vellet.common.settings import AuditSettings

#: A check every 0.2 s, so a test sees the next run at once.
FAST_AUDIT = AuditSettings(interval=0.2, timeout=5.0)


async def audit_samples(http: aiohttp.ClientSession, url: str, check: str) -> dict[str, float]:
    """The ``vellet_audit_*`` gauges of ``check`` at ``url``, by name."""
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("check") == check and "result" not in s.labels
    }


async def audit_reads(
    http: aiohttp.ClientSession, url: str, check: str, ok: int
) -> dict[str, float]:
    """Wait until ``check`` at ``url`` exports ``vellet_audit_ok == ok``; its samples."""
    return await eventually(
        lambda: audit_samples(http, url, check), lambda m: m.get("vellet_audit_ok") == ok
    )


async def tamper(dsn: str, sql: str) -> None:
    """Change the books behind the service's back (what no code path does)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
