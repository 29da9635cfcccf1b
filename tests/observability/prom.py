"""Talking to the test's real Prometheus over its HTTP API."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp


class PromError(AssertionError):
    """Prometheus refused a query (a parse error, a bad range): the message says why."""


class Prom:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def _get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.url}{path}", params=params) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise PromError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def instant(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", **params)
        assert data["resultType"] == "vector", data
        return list(data["result"])

    async def range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        data = await self._get("/api/v1/query_range", query=expr, start=f"{start:.3f}",
                               end=f"{end:.3f}", step=f"{step}")  # fmt: skip
        return list(data["result"])

    async def targets(self) -> list[dict[str, Any]]:
        return list((await self._get("/api/v1/targets"))["activeTargets"])

    async def rules(self) -> list[dict[str, Any]]:
        groups = (await self._get("/api/v1/rules"))["groups"]
        return [rule for group in groups for rule in group["rules"]]

    async def alert_state(self, name: str) -> str:
        """inactive, pending or firing, as Prometheus's rule evaluation has it now."""
        for rule in await self.rules():
            if rule["name"] == name:
                return str(rule["state"])
        raise AssertionError(f"no rule {name} loaded")

    async def until(self, check: Any, timeout: float = 30.0) -> Any:
        """Poll the coroutine function ``check`` until it returns something truthy."""
        async with asyncio.timeout(timeout):
            while not (found := await check()):
                await asyncio.sleep(0.2)
            return found


def has_values(result: list[dict[str, Any]]) -> bool:
    """A range result with at least one series holding a real (not NaN) value."""
    return any(
        not math.isnan(float(value)) for series in result for _, value in series.get("values", [])
    )


def scalar(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])
