"""Reading a service's /metrics from a test, the way Prometheus would."""

from __future__ import annotations

import aiohttp


async def scrape(url: str, name: str, **labels: str) -> float:
    """One sample from /metrics, read the way Prometheus would."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        if metric != name:
            continue
        got = ",".join(sorted(p for p in rest.rstrip("}").split(",") if p))
        if not labels or all(part in got.split(",") for part in want.split(",")):
            return float(value)
    return 0.0
