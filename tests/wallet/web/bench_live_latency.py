"""How long from a P2P answer to the recipient's socket hearing of it (README figure).

Not collected by ``make test`` (a timing is a figure, not an assertion); run it by
name: ``.venv/bin/pytest tests/wallet/web/bench_live_latency.py -s``. The wallet
runs with the production outbox settings (sweep 2 s, linger 0.2 s): the P2P
commit wakes the relay, which lingers, publishes, and every hub's XREAD hands
the event to the socket.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from tests.support.bank import RunningBank
from tests.wallet.stack import start_wallet
from tests.wallet.web.helpers import cookie_user, pay

ROUNDS = 50


async def test_payment_to_socket_latency(
    bank: RunningBank, wallet_dsn: str, redis_url: str
) -> None:
    wallet = await start_wallet(wallet_dsn, redis_url, bank.url, outbox_interval=2.0)
    try:
        async with (
            cookie_user(bank, wallet, money=100_000) as alice,
            cookie_user(bank, wallet) as bob,
            bob.ws(wallet.url) as ws,  # type: ignore[attr-defined]
        ):
            await ws.receive()  # hello
            await asyncio.sleep(1.0)  # the funding deposit's event has gone by
            took = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                sent = await pay(alice, wallet.url, bob.number, "1.00")
                while (
                    json.loads((await asyncio.wait_for(ws.receive(), 5)).data).get("transfer_id")
                    != sent["id"]
                ):
                    pass
                took.append((time.perf_counter() - started) * 1000)
        took.sort()
        print(f"\npayment -> socket over {ROUNDS} rounds: median {statistics.median(took):.0f} ms, "
              f"p90 {took[int(ROUNDS * 0.9) - 1]:.0f} ms, max {took[-1]:.0f} ms")  # fmt: skip
    finally:
        await wallet.stop()
