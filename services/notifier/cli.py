"""``vellet notifier serve`` (the notifier) and ``vellet notifier sink`` (a dev mailbox)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from vellet.common import web
from vellet.common.commands import command
from vellet.common.errors import Unavailable
from vellet.common.streams import connect
from vellet.common.web import serve_forever
from vellet.notifier.app import create_app
from vellet.notifier.settings import NotifierSettings
from vellet.notifier.store import prune


def register(sub: Any) -> None:
    parser = command(
        sub,
        "notifier",
        "send e-mail about finished transfers",
        "vellet notifier serve",
        "vellet notifier sink --dir .vellet/mail",
    )
    commands = parser.add_subparsers(dest="notifier_command", metavar="COMMAND", required=True)
    serve = command(
        commands,
        "serve",
        "consume transfer events and send mail (config: VELLET_* env vars)",
        "VELLET_REDIS_URL=redis://... VELLET_SMTP_HOST=mail vellet notifier serve",
    )
    serve.set_defaults(func=_serve)
    sink = command(
        commands,
        "sink",
        "run a local SMTP sink that keeps every mail for reading (development)",
        "vellet notifier sink --smtp-port 1025 --http-port 8025",
    )
    sink.add_argument("--dir", type=Path, default=Path(".vellet/mail"), help="Maildir to fill")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--smtp-port", type=int, default=1025)
    sink.add_argument("--http-port", type=int, default=8025)
    sink.set_defaults(func=_sink)
    prune = command(
        commands,
        "prune",
        "delete delivery records of events finished long ago (VELLET_REDIS_URL)",
        "VELLET_REDIS_URL=redis://... vellet notifier prune --older-than-days 30",
    )
    prune.add_argument(
        "--older-than-days",
        type=float,
        default=30.0,
        help="keep records younger than this; an event published again after its record "
        "was pruned would be mailed again (default: 30)",
    )
    prune.set_defaults(func=_prune)


async def _until_terminated(main: asyncio.Future[Any]) -> None:
    # SIGTERM (Kubernetes, `kill`) takes the same path as Ctrl-C: cancel, so
    # the app's cleanup finishes the mail in flight before the process ends.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await main


def _serve(args: argparse.Namespace) -> int:
    settings = NotifierSettings.from_env(os.environ)
    app = create_app(settings)

    async def run() -> None:
        await _until_terminated(
            asyncio.ensure_future(serve_forever("notifier", app, settings.http))
        )

    web.run(run())
    return 0


def _sink(args: argparse.Namespace) -> int:
    from vellet.notifier.sink import start_sink  # noqa: PLC0415 - only when asked

    async def run() -> None:
        sink = await start_sink(
            args.dir, host=args.host, smtp_port=args.smtp_port, http_port=args.http_port
        )
        print(sink.describe(), flush=True)  # noqa: T201 - the CLI's own output
        try:
            await _until_terminated(asyncio.ensure_future(asyncio.Event().wait()))
        finally:
            await sink.stop()

    asyncio.run(run())
    return 0


def _prune(args: argparse.Namespace) -> int:
    settings = NotifierSettings.from_env(os.environ)

    async def run() -> int:
        redis = connect(settings.redis_url)
        try:
            return await prune(redis, int(args.older_than_days * 86_400_000))
        except RedisError as err:
            raise Unavailable(f"Redis not reachable ({type(err).__name__})") from None
        finally:
            await redis.aclose()

    removed = asyncio.run(run())
    print(f"pruned {removed} delivery records", flush=True)  # noqa: T201 - the CLI's own output
    return 0
