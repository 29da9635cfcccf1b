"""``vellet check ...``: assertions about a running deployment, for ``helm test``.

A busybox pod running curl proves only that a port answers. These checks run
in the Vellet image itself and assert what a deployment promises: every
component is ready, the internal API refuses callers without a service token,
the public ports do not serve the internal API or ``/metrics`` at all,
the migrations have all been applied (running them again applies nothing),
and Redis keeps an append-only file and evicts only keys with a TTL (the
cache's), never a queued request.

Each check prints one line per thing it checked and exits 0 when all hold,
1 when one does not. A server that cannot be reached at all is a failure
too, never a pass.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from redis.exceptions import RedisError

from vellet.common.commands import command
from vellet.common.errors import ConfigError
from vellet.common.streams import connect

#: What Redis must say for Vellet's promises to hold (see the README).
REDIS_CONFIG = {"appendonly": "yes", "maxmemory-policy": "volatile-lru"}


def register(sub: Any) -> None:
    parser = command(
        sub, "check", "check a running deployment (helm test)",
        "vellet check ready http://vellet-wallet:8080/readyz http://vellet-bank:8081/readyz",
        description="Check a running deployment from inside it, as the chart's helm test "
        "pods do: services ready, internal APIs refusing anonymous calls, migrations "
        "applied, Redis configured so that queues survive. Exit 1 and say what failed.",
    )  # fmt: skip
    cmds = parser.add_subparsers(dest="check_command", metavar="COMMAND", required=True)
    ready = command(cmds, "ready", "each URL answers 200 (e.g. http://svc:8080/readyz)",
                    "vellet check ready --timeout 30 http://vellet-wallet:8080/readyz")  # fmt: skip
    ready.add_argument("urls", nargs="+", metavar="URL")
    ready.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to keep asking (default 60)"
    )
    ready.set_defaults(func=_ready)
    refused = command(
        cmds, "refused", "each URL refuses a request without credentials (401 or 403)",
        "vellet check refused http://vellet-wallet:9080/internal/v1/transfers",
    )  # fmt: skip
    refused.add_argument("urls", nargs="+", metavar="URL")
    refused.set_defaults(func=_refused)
    absent = command(
        cmds, "absent", "each URL answers 404: a public port does not serve it",
        "vellet check absent http://vellet-wallet:8080/internal/v1/transfers "
        "http://vellet-wallet:8080/metrics",
    )  # fmt: skip
    absent.add_argument("urls", nargs="+", metavar="URL")
    absent.set_defaults(func=_absent)
    command(
        cmds, "migrations",
        "running the migrations again applies nothing (VELLET_BANK_DATABASE_URL "
        "and/or VELLET_WALLET_DATABASE_URL)",
        "VELLET_WALLET_DATABASE_URL=postgresql://... vellet check migrations",
    ).set_defaults(func=_migrations)  # fmt: skip
    command(
        cmds, "redis", "Redis has AOF on and maxmemory-policy volatile-lru (VELLET_REDIS_URL)",
        "VELLET_REDIS_URL=redis://... vellet check redis",
    ).set_defaults(func=_redis)  # fmt: skip


def _report(lines: list[tuple[bool, str]]) -> int:
    for ok, line in lines:
        print(f"{'ok  ' if ok else 'FAIL'} {line}", flush=True)  # noqa: T201 - the CLI's output
    return 0 if all(ok for ok, _ in lines) else 1


async def _status(session: aiohttp.ClientSession, url: str) -> int | str:
    """The HTTP status of a GET, or why there was none."""
    try:
        async with session.get(url, allow_redirects=False) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError) as err:
        return type(err).__name__


async def _poll_ready(urls: list[str], within: float) -> list[tuple[bool, str]]:
    deadline = time.monotonic() + within
    client_timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:

        async def one(url: str) -> tuple[bool, str]:
            while True:
                status = await _status(session, url)
                if status == 200 or time.monotonic() >= deadline:
                    return status == 200, f"{url} answered {status}"
                await asyncio.sleep(1.0)

        return list(await asyncio.gather(*(one(url) for url in urls)))


def _ready(args: argparse.Namespace) -> int:
    return _report(asyncio.run(_poll_ready(args.urls, args.timeout)))


async def _statuses(urls: list[str]) -> list[int | str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        return list(await asyncio.gather(*(_status(session, url) for url in urls)))


def _refused(args: argparse.Namespace) -> int:
    statuses = asyncio.run(_statuses(args.urls))
    return _report(
        [
            (status in (401, 403), f"{url} without a token answered {status}")
            for url, status in zip(args.urls, statuses, strict=True)
        ]
    )


def _absent(args: argparse.Namespace) -> int:
    statuses = asyncio.run(_statuses(args.urls))
    return _report(
        [
            (status == 404, f"{url} answered {status}")
            for url, status in zip(args.urls, statuses, strict=True)
        ]
    )


def _migrators() -> dict[str, Callable[[str], Coroutine[Any, Any, list[str]]]]:
    # Imported here: only this check needs the services' migration code.
    from vellet.bank.admin import migrate as bank_migrate  # noqa: PLC0415
    from vellet.wallet.database import migrate as wallet_migrate  # noqa: PLC0415

    return {"bank": bank_migrate, "wallet": wallet_migrate}


def _migrations(args: argparse.Namespace) -> int:
    urls = {
        name: os.environ.get(f"VELLET_{name.upper()}_DATABASE_URL", "").strip()
        for name in ("bank", "wallet")
    }
    if not any(urls.values()):
        raise ConfigError("set VELLET_BANK_DATABASE_URL and/or VELLET_WALLET_DATABASE_URL")
    lines = []
    for name, migrate in _migrators().items():
        if urls[name]:
            applied = asyncio.run(migrate(urls[name]))
            detail = ", ".join(applied) if applied else "nothing"
            lines.append((not applied, f"{name}: running the migrations again applied {detail}"))
    return _report(lines)


async def _redis_config(url: str) -> dict[str, str]:
    redis = connect(url, max_connections=1)
    try:
        found: dict[str, str] = {}
        for name in REDIS_CONFIG:
            reply = await redis.config_get(name)
            found.update({str(key): str(value) for key, value in reply.items()})
        return found
    finally:
        await redis.aclose()


def _redis(args: argparse.Namespace) -> int:
    url = os.environ.get("VELLET_REDIS_URL", "").strip()
    if not url:
        raise ConfigError("VELLET_REDIS_URL must be set")
    try:
        found = asyncio.run(_redis_config(url))
    except RedisError as err:
        # The error's text could carry the URL; its type is enough to act on.
        print(f"FAIL Redis: {type(err).__name__}", file=sys.stderr)  # noqa: T201
        return 1
    return _report(
        [
            (found.get(name) == want, f"Redis {name} is {found.get(name)!r} (want {want!r})")
            for name, want in REDIS_CONFIG.items()
        ]
    )
