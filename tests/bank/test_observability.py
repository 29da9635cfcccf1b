"""/healthz and /readyz (public port) and /metrics (internal port) of a running bank."""

from __future__ import annotations

import tempfile
from pathlib import Path

import aiohttp

from tests.bank.helpers import transfer
from tests.support.bank import RunningBank, auth, service_token, start_bank
from tests.support.keys import TEST_KEYS
from tests.support.waiting import eventually
from vellet.common import streams
from vellet.common.embedded import EmbeddedRedis


async def _metrics(http: aiohttp.ClientSession, bank: RunningBank) -> str:
    async with http.get(f"{bank.internal_url}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_health_and_readiness(bank: RunningBank, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{bank.url}/healthz") as resp:
        assert resp.status == 200
    async with http.get(f"{bank.url}/readyz") as resp:
        assert resp.status == 200
        assert set((await resp.json())["checks"]) == {"postgres", "redis"}


async def test_not_ready_without_redis_but_still_alive(
    bank_db: str, http: aiohttp.ClientSession
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp), persistent=False).start()
        bank = await start_bank(bank_db, redis.url)
        try:
            redis.kill()
            async with http.get(f"{bank.url}/readyz") as resp:
                assert resp.status == 503
                body = await resp.json()
                assert body["detail"] == "unreachable: redis"
                assert "redis://" not in body["detail"]
            async with http.get(f"{bank.url}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"{bank.internal_url}/metrics") as resp:
                assert resp.status == 200
        finally:
            await bank.stop()


async def test_metrics_show_transfers_cache_queue_and_latency(
    bank: RunningBank, http: aiohttp.ClientSession, redis_url: str
) -> None:
    await bank.create_account("666666666")
    async with http.post(
        f"{bank.url}/api/v1/transfers",
        json=transfer("666666666", "1.00"),
        headers=auth(service_token()),
    ) as resp:
        assert resp.status == 200
    for _ in range(3):
        async with http.get(
            f"{bank.url}/api/v1/accounts/666666666", headers=auth(service_token())
        ) as resp:
            assert resp.status == 200
    redis = streams.connect(redis_url)
    await streams.publish(redis, streams.BANK_REQUESTS, {"payload": "poison"}, TEST_KEYS["wallet"])
    await redis.aclose()

    dead = 'vellet_stream_dead_letters_total{group="bank",stream="vellet:bank:requests"} 1.0'
    text = await eventually(lambda: _metrics(http, bank), lambda t: dead in t)
    expected = [
        'vellet_bank_transfers_total{direction="to_wallet",outcome="succeeded",path="http",'
        'replay="false"} 1.0',
        'vellet_cache_requests_total{cache="bank_account_lru",result="hit"} 2.0',
        'vellet_cache_requests_total{cache="bank_account_lru",result="miss"} 1.0',
        'vellet_queue_depth{group="bank",stream="vellet:bank:requests"}',
        'vellet_stream_length{stream="vellet:bank:requests"}',
        'vellet_stream_dead_letters_total{group="bank",stream="vellet:bank:requests"} 1.0',
        'vellet_http_request_duration_seconds_bucket{le="0.005",method="POST",'
        'route="/api/v1/transfers",service="bank"}',
    ]
    for line in expected:
        assert line in text, line
    assert "test-secret" not in text
