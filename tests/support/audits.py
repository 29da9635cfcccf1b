"""Reading the books-balance check's samples from a service's /metrics."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

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
