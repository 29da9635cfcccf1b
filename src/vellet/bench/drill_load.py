"""The drill's clients: mixed deposits and withdrawals that retry like real clients.

Each request has its own Idempotency-Key and is retried with the same key
(on the other wallet replica too) until it gets a definite answer: a
connection lost to a SIGKILL, a 5xx or a 409 ``idempotency_in_flight`` is
not one. What every key finally got is recorded, so the drill can hold the
databases to it afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

#: Answers that mean "not decided yet": ask again with the same key.
_AGAIN = frozenset({409, 500, 502, 503, 504})


@dataclass(frozen=True)
class User:
    account_number: str
    token: str


@dataclass(frozen=True)
class Step:
    index: int
    user: User
    kind: str
    amount: str
    key: str


@dataclass
class Tally:
    """What the clients were told."""

    accepted: dict[str, str] = field(default_factory=dict)  # key -> transfer id
    first_status: dict[int, int] = field(default_factory=dict)  # 201/202 -> count
    refused: dict[str, int] = field(default_factory=dict)  # problem code -> count
    retries: int = 0
    gave_up: int = 0
    done: int = 0
    #: Every attempt: (sent, answered, status), monotonic seconds; status 0 when no
    #: answer came (refused, reset, timed out). The drill reads what each fault did.
    attempts: list[tuple[float, float, int]] = field(default_factory=list)
    #: Seconds a client waits for one answer before it tries again.
    timeout: float = 15.0


def plan(users: list[User], n: int, seed: int) -> list[Step]:
    """Half deposits, half withdrawals of 0.01-10.00; 3% of deposits larger than any
    bank account here (the bank refuses them: failed, insufficient_funds)."""
    rng = random.Random(seed)
    steps = []
    for i in range(n):
        kind = "deposit" if rng.random() < 0.5 else "withdrawal"
        amount = f"{rng.randint(1, 1000) / 100:.2f}"
        if kind == "deposit" and rng.random() < 0.03:
            amount = "90000.00"
        steps.append(Step(i, rng.choice(users), kind, amount, uuid.uuid4().hex))
    return steps


async def post(http: aiohttp.ClientSession, url: str, user: User, body: dict[str, Any],
               key: str, limit: float = 15.0) -> tuple[int, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {user.token}", "Idempotency-Key": key}
    async with http.post(f"{url}/api/v1/transfers", json=body, headers=headers,
                         timeout=aiohttp.ClientTimeout(total=limit)) as resp:  # fmt: skip
        return resp.status, await resp.json(content_type=None)


async def submit(http: aiohttp.ClientSession, wallets: list[str], step: Step,
                 tally: Tally) -> None:  # fmt: skip
    body = {"kind": step.kind, "amount": step.amount, "currency": "INR"}
    for attempt in range(240):
        url = wallets[(step.index + attempt) % len(wallets)]  # another replica on retry
        sent = time.monotonic()
        try:
            status, answer = await post(http, url, step.user, body, step.key, tally.timeout)
            tally.attempts.append((sent, time.monotonic(), status))
        except (aiohttp.ClientError, TimeoutError, ValueError):
            tally.attempts.append((sent, time.monotonic(), 0))
            status, answer = 503, None
        if status not in _AGAIN:
            break
        tally.retries += 1
        await asyncio.sleep(0.25)
    else:
        tally.gave_up += 1
        return
    tally.done += 1
    if status in (201, 202):
        tally.accepted[step.key] = str(answer["id"])
        tally.first_status[status] = tally.first_status.get(status, 0) + 1
    else:
        code = str(answer.get("code")) if isinstance(answer, dict) else f"http_{status}"
        tally.refused[code] = tally.refused.get(code, 0) + 1


async def run_load(http: aiohttp.ClientSession, wallets: list[str], steps: list[Step],
                   parallel: int, tally: Tally,
                   before_send: Callable[[int], Awaitable[None]]) -> None:  # fmt: skip
    """Send every step with ``parallel`` workers; ``before_send(index)`` may hold a worker
    (the drill holds the load at a fault's threshold until that fault has begun)."""
    queue = iter(steps)

    async def worker() -> None:
        for step in queue:
            await before_send(step.index)
            await submit(http, wallets, step, tally)

    await asyncio.gather(*(worker() for _ in range(parallel)))
